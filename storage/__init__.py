"""Where: the data store (fsspec, Parquet/JSON/text) and the catalog (SQLModel).

The data store pulls in pyarrow, so it is imported on first use, keeping commands
that never touch data fast to start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from partita import _lazy
from partita.storage.records import (
    AttemptEnd,
    AttemptRecord,
    LogLine,
    NewVersion,
    PartitionState,
    RunRecord,
    StepRecord,
    VersionRecord,
    WrittenVersion,
)
from partita.storage.statuses import (
    AttemptStatus,
    RunStatus,
    StepStatus,
    TickStatus,
    VersionStatus,
)

if TYPE_CHECKING:
    from partita.storage.catalog.facade import Catalog
    from partita.storage.store.datastore import DataStore

_LAZY = {
    "Catalog": "partita.storage.catalog.facade",
    "DataStore": "partita.storage.store.datastore",
}


__getattr__ = _lazy.exports(__name__, _LAZY)

__all__ = [
    "AttemptEnd",
    "AttemptRecord",
    "AttemptStatus",
    "Catalog",
    "DataStore",
    "LogLine",
    "NewVersion",
    "PartitionState",
    "RunRecord",
    "RunStatus",
    "StepRecord",
    "StepStatus",
    "TickStatus",
    "VersionRecord",
    "VersionStatus",
    "WrittenVersion",
]
