"""How to run a plan: one value, checked once, passed from the caller to the executor."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass

from partita.core.run.outcomes import StepOutcome
from partita.errors import PlanError

EXECUTORS = ("inline", "threads", "processes", "dask")


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to run a plan: where its steps execute, and who hears about them.

    Attributes:
        command: What the run is recorded as (``materialize``, ``backfill``, ``daemon``).
        workers: How many steps run at once (threads, processes or the processes of a
            local Dask cluster).
        executor: Where asset functions run: ``inline`` (in the coordinator, for
            debugging), ``threads``, ``processes`` or ``dask``; see docs/scaling-out.md.
        dask_address: The scheduler of an existing Dask cluster (``dask`` only; default:
            a local cluster of ``workers`` processes).
        on_step: Called with each step's outcome as it ends.
        on_start: Called from the step's thread when a step starts running, with an
            outcome whose status is ``running``.
        stop: Once set, steps in flight finish and no new one starts: the rest are
            recorded as skipped (``daemon stopping``) and the run as ``interrupted``.
        run_id: The run's id (default: a new one), so a caller can know it in advance.

    Raises:
        PlanError: ``workers`` is below 1 or ``executor`` is unknown.
    """

    command: str = "materialize"
    workers: int = 1
    executor: str = "threads"
    dask_address: str | None = None
    on_step: Callable[[StepOutcome], None] | None = None
    on_start: Callable[[StepOutcome], None] | None = None
    stop: threading.Event | None = None
    run_id: str | None = None

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise PlanError(f"workers must be at least 1, got {self.workers}")
        if self.executor not in EXECUTORS:
            raise PlanError(
                f"unknown executor {self.executor!r}; use one of: {', '.join(EXECUTORS)}"
            )

    @property
    def stoppable(self) -> bool:
        """Whether the run may be stopped (its steps are then sent one by one)."""
        return self.stop is not None

    def stopping(self) -> bool:
        """Whether a stop was asked for."""
        return self.stop is not None and self.stop.is_set()

    def starting(self, listener: Callable[[StepOutcome], None]) -> RunOptions:
        """A copy that also calls ``listener`` when a step starts (after ``on_start``)."""
        first = self.on_start
        if first is None:
            return dataclasses.replace(self, on_start=listener)

        def both(outcome: StepOutcome) -> None:
            first(outcome)
            listener(outcome)

        return dataclasses.replace(self, on_start=both)


__all__ = ["EXECUTORS", "RunOptions"]
