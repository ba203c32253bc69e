"""partita: asset-centric, partition-aware materialization.

Declare date-partitioned assets with :func:`asset`, then plan and materialize them
through :class:`Project` (or the ``partita`` command).
"""

from partita.assets import (
    AllPartitions,
    Asset,
    AssetGraph,
    Context,
    DailyPartitions,
    Dep,
    Identity,
    LastPartition,
    RetryPolicy,
    TimeWindow,
    Window,
    asset,
)
from partita.core.materializer import RunResult, StepOutcome
from partita.core.planner import Plan, Step, Target, plan
from partita.core.project import Project
from partita.errors import (
    CatalogError,
    ConfigError,
    DefinitionError,
    LeaseLostError,
    MaterializationError,
    PartitaError,
    PartitionKeyError,
    PlanError,
    SchemaError,
    StorageError,
)

__version__ = "0.1.0"

__all__ = [
    "AllPartitions",
    "Asset",
    "AssetGraph",
    "CatalogError",
    "ConfigError",
    "Context",
    "DailyPartitions",
    "DefinitionError",
    "Dep",
    "Identity",
    "LastPartition",
    "LeaseLostError",
    "MaterializationError",
    "PartitaError",
    "PartitionKeyError",
    "Plan",
    "PlanError",
    "Project",
    "RetryPolicy",
    "RunResult",
    "SchemaError",
    "Step",
    "StepOutcome",
    "StorageError",
    "Target",
    "TimeWindow",
    "Window",
    "__version__",
    "asset",
    "plan",
]
