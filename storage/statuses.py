"""The statuses the catalog records: of runs, steps, attempts, daemon ticks and versions.

Each is a :class:`~enum.StrEnum`: a member is the very string the catalog stores and
every output shows (``str``, f-strings, ``format`` and ``json`` give its value), and it
compares equal to that string, so rows read back compare with the members as they are.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

S = TypeVar("S", bound=StrEnum)


class RunStatus(StrEnum):
    """How a run stands: running until it ends, then succeeded, failed or interrupted.

    A run recorded running whose process is gone is shown, and later recorded, crashed.
    """

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    CRASHED = "crashed"


class StepStatus(StrEnum):
    """How a step of a run stands: pending until its first attempt, running, then
    succeeded, failed or skipped (fresh, or its upstream failed); crashed when its run's
    process died before it ended."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CRASHED = "crashed"


class AttemptStatus(StrEnum):
    """How one try at a step stands."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class TickStatus(StrEnum):
    """How a tick of the daemon stands: failed when a source or a run failed."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class VersionStatus(StrEnum):
    """What became of a committed version: current (committed), replaced by a newer one
    (superseded), its files removed by ``gc`` (collected) or found gone by ``doctor``
    (lost)."""

    COMMITTED = "committed"
    SUPERSEDED = "superseded"
    COLLECTED = "collected"
    LOST = "lost"


UNFINISHED_STEPS = frozenset({StepStatus.PENDING, StepStatus.RUNNING})
"""The statuses of the steps a crashed run leaves behind: shown as crashed."""


def read_status(kind: type[S], value: str) -> S | str:
    """The member of ``kind`` that the catalog stores as ``value``, or ``value`` as it is
    when ``kind`` has none: a catalog may hold what another version of partita wrote,
    and reading it shows it rather than failing."""
    try:
        return kind(value)
    except ValueError:
        return value


__all__ = [
    "UNFINISHED_STEPS",
    "AttemptStatus",
    "RunStatus",
    "StepStatus",
    "TickStatus",
    "VersionStatus",
    "read_status",
]
