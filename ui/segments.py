"""Heat-map segments: runs of consecutive partitions with the same status (pure).

A heat map of 100,000 daily partitions is drawn from a few hundred segments, never
from one element per partition: consecutive partitions (oldest first) that share a
status become one segment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import groupby

from partita.core.plan.status import Freshness, PartitionStatus
from partita.storage.statuses import StepStatus

HEAT_STATUSES = (
    Freshness.FRESH,
    Freshness.STALE,
    Freshness.MISSING,
    StepStatus.FAILED,  # its last step failed
    StepStatus.RUNNING,  # a step is building it: its lease is held
)
"""Every status a heat map shows, best first."""


@dataclass(frozen=True, slots=True)
class Segment:
    """Consecutive partitions with one status.

    Attributes:
        first: the oldest key of the run.
        last: the newest key of the run.
        status: one of :data:`HEAT_STATUSES`.
        count: how many partitions the run holds.
        start_index: the position of ``first`` among the keys looked at.
    """

    first: str
    last: str
    status: str
    count: int
    start_index: int


def heat_statuses(
    keys: Sequence[str], results: Sequence[PartitionStatus], leased: Collection[str] = ()
) -> list[str]:
    """The heat-map status of each key: ``running`` while a lease is held on it,
    ``failed`` when its last step failed, else fresh, stale or missing."""
    failed = StepStatus.FAILED
    statuses: list[str] = [failed if r.failure is not None else r.status for r in results]
    if leased:
        for position, key in enumerate(keys):
            if key in leased:
                statuses[position] = StepStatus.RUNNING
    return statuses


def segments(keys: Sequence[str], statuses: Sequence[str]) -> list[Segment]:
    """Merge consecutive keys with the same status into segments, in key order."""
    found: list[Segment] = []
    position = 0
    for status, run in groupby(statuses):
        count = sum(1 for _ in run)
        last = position + count - 1
        found.append(Segment(keys[position], keys[last], status, count, position))
        position += count
    return found


def count_statuses(statuses: Sequence[str]) -> dict[str, int]:
    """How many partitions have each heat-map status (every status present, maybe 0)."""
    return {**dict.fromkeys(HEAT_STATUSES, 0), **Counter(statuses)}


def health(counts: dict[str, int]) -> str:
    """One word for an asset: its worst status present (``failed`` before ``running``
    before ``missing`` before ``stale``), ``fresh`` when every partition is."""
    for status in (StepStatus.FAILED, StepStatus.RUNNING, Freshness.MISSING, Freshness.STALE):
        if counts.get(status):
            return status
    return Freshness.FRESH


__all__ = [
    "HEAT_STATUSES",
    "Segment",
    "count_statuses",
    "health",
    "heat_statuses",
    "segments",
]
