"""How steps and runs end: the values a run reports to its caller."""

from __future__ import annotations

from dataclasses import dataclass

from partita.core.plan.planner import Plan
from partita.storage.statuses import RunStatus, StepStatus

UPSTREAM_FAILED = "upstream failed"
"""The detail of a step skipped because a step it needs failed."""
STOPPING = "daemon stopping"
"""The detail of a step skipped because a stop kept it from starting."""


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """How one step ended: ``succeeded``, ``skipped`` (fresh or upstream failed), ``failed``.

    ``recovered`` is true when a success replaced a failure recorded on the partition.
    """

    asset: str
    partition: str
    status: StepStatus
    detail: str | None = None
    attempts: int = 0
    rows: int | None = None
    bytes: int | None = None
    run_id: str | None = None
    recovered: bool = False

    @property
    def blocks_downstream(self) -> bool:
        """Whether the steps that need this one are skipped ("upstream failed")."""
        return self.status == StepStatus.FAILED or self.detail == UPSTREAM_FAILED


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of executing a plan."""

    run_id: str
    status: RunStatus
    plan: Plan
    outcomes: tuple[StepOutcome, ...]

    @property
    def ok(self) -> bool:
        """True when no step failed or was skipped because its upstream failed."""
        return self.status == RunStatus.SUCCEEDED

    def count(self, status: StepStatus, detail: str | None = None) -> int:
        """How many steps ended with ``status`` (and ``detail``, if given)."""
        return sum(
            1
            for o in self.outcomes
            if o.status == status and (detail is None or o.detail == detail)
        )


def run_status(outcomes: tuple[StepOutcome, ...]) -> RunStatus:
    """A run's status from its steps': interrupted if stopped, failed if a step failed."""
    if any(o.detail == STOPPING for o in outcomes):
        return RunStatus.INTERRUPTED
    return RunStatus.FAILED if any(o.blocks_downstream for o in outcomes) else RunStatus.SUCCEEDED


__all__ = [
    "STOPPING",
    "UPSTREAM_FAILED",
    "RunResult",
    "StepOutcome",
    "run_status",
]
