"""partita: asset-centric, partition-aware materialization.

Declare date-partitioned assets with :func:`asset`, then plan and materialize them
through :class:`Project` (or the ``partita`` command).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from partita import _lazy
from partita.errors import (
    CatalogError,
    ConfigError,
    DefinitionError,
    LeaseLostError,
    MaterializationError,
    NotAProjectError,
    NotPartitionedError,
    PartitaError,
    PartitionKeyError,
    PartitionRequiredError,
    PlanError,
    QueryError,
    SchemaError,
    StorageError,
)

if TYPE_CHECKING:
    from partita.assets import (
        AllPartitions,
        Asset,
        AssetGraph,
        Containment,
        Context,
        CronPartitions,
        DailyPartitions,
        Dep,
        Dimensions,
        DynamicPartitions,
        Eager,
        FileSensor,
        HourlyPartitions,
        Identity,
        LastPartition,
        MonthlyPartitions,
        MultiPartitions,
        Previous,
        RetryPolicy,
        Schedule,
        StaticPartitions,
        TimeWindow,
        WeeklyPartitions,
        Window,
        asset,
    )
    from partita.core.plan.planner import Plan, Step, Target, plan
    from partita.core.project import Project
    from partita.core.run.options import RunOptions
    from partita.core.run.outcomes import RunResult, StepOutcome

# Imported on first use, so that `partita --help` (and `import partita.errors`) start
# fast: the declarations pull in pydantic and pendulum, the project the catalog.
_LAZY = {
    **dict.fromkeys(
        (
            "AllPartitions",
            "Asset",
            "AssetGraph",
            "Containment",
            "Context",
            "CronPartitions",
            "DailyPartitions",
            "Dep",
            "Dimensions",
            "DynamicPartitions",
            "Eager",
            "FileSensor",
            "HourlyPartitions",
            "Identity",
            "LastPartition",
            "MonthlyPartitions",
            "MultiPartitions",
            "Previous",
            "RetryPolicy",
            "Schedule",
            "StaticPartitions",
            "TimeWindow",
            "WeeklyPartitions",
            "Window",
            "asset",
        ),
        "partita.assets",
    ),
    "RunOptions": "partita.core.run.options",
    "RunResult": "partita.core.run.outcomes",
    "StepOutcome": "partita.core.run.outcomes",
    "Plan": "partita.core.plan.planner",
    "Step": "partita.core.plan.planner",
    "Target": "partita.core.plan.planner",
    "plan": "partita.core.plan.planner",
    "Project": "partita.core.project",
}


__getattr__ = _lazy.exports(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__version__ = "0.1.0"

__all__ = [
    "AllPartitions",
    "Asset",
    "AssetGraph",
    "CatalogError",
    "ConfigError",
    "Containment",
    "Context",
    "CronPartitions",
    "DailyPartitions",
    "DefinitionError",
    "Dep",
    "Dimensions",
    "DynamicPartitions",
    "Eager",
    "FileSensor",
    "HourlyPartitions",
    "Identity",
    "LastPartition",
    "LeaseLostError",
    "MaterializationError",
    "MonthlyPartitions",
    "MultiPartitions",
    "NotAProjectError",
    "NotPartitionedError",
    "PartitaError",
    "PartitionKeyError",
    "PartitionRequiredError",
    "Plan",
    "PlanError",
    "Previous",
    "Project",
    "QueryError",
    "RetryPolicy",
    "RunOptions",
    "RunResult",
    "Schedule",
    "SchemaError",
    "StaticPartitions",
    "Step",
    "StepOutcome",
    "StorageError",
    "Target",
    "TimeWindow",
    "WeeklyPartitions",
    "Window",
    "asset",
    "plan",
    "__version__",
]
