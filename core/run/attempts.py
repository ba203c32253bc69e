"""One attempt of one step: launch it, settle its result, conclude on the catalog's answer.

An attempt goes through three stages, the last two pure:

- **launch**: the task a worker runs (read the inputs, call the asset, write a new
  version under its staged name);
- **settle**: what the worker's result means before the catalog is asked: a version to
  commit, a failure to retry, or a failure that ends the step;
- **conclude**: what the catalog's answer (committed, or the lease was lost) means: the
  step's outcome, and what happens to the written files (published, or discarded).

The batch runner (:mod:`partita.core.run.batches`) does the side effects in between.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from partita.assets import Asset
from partita.core.plan.planner import Step
from partita.core.run.inputs import StepInputs
from partita.core.run.outcomes import StepOutcome
from partita.core.run.tasks import Task, TaskResult
from partita.errors import LeaseLostError
from partita.storage import AttemptEnd, LogLine, NewVersion, StepStatus
from partita.storage.store.versions import new_version_id

if TYPE_CHECKING:
    from partita.storage import WrittenVersion


@dataclass(frozen=True, slots=True)
class StepAttempt:
    """A step's current attempt, under the partition's lease.

    Attributes:
        step: The step.
        step_id: Its row in the catalog.
        token: The fencing token of the lease on its partition.
        number: Which attempt this is (1 for the first).
        notes: Lines logged at the start of the first attempt (what the step waited for).
        superseded: The current version's visible files when the lease was taken: what
            publishing a new version moves out of sight.
    """

    step: Step
    step_id: int
    token: int
    number: int = 1
    notes: tuple[str, ...] = ()
    superseded: tuple[str, ...] = ()

    def launch(self, run_id: str, inputs: StepInputs) -> Task:
        """The task a worker runs for this attempt, writing under a new version id."""
        notes = self.notes if self.number == 1 else ()
        step = self.step
        return Task(
            step.asset, step.partition, run_id, self.number, new_version_id(), inputs.given, notes
        )

    @property
    def key(self) -> tuple[str, str]:
        """The step's partition: ``(asset, partition)``."""
        return (self.step.asset, self.step.partition)

    def again(self) -> StepAttempt:
        """The next attempt of the same step."""
        return dataclasses.replace(self, number=self.number + 1)

    def outcome(
        self, run_id: str, status: StepStatus, detail: str | None = None, **more: Any
    ) -> StepOutcome:
        """This step's outcome."""
        step = self.step
        return StepOutcome(step.asset, step.partition, status, detail, run_id=run_id, **more)


@dataclass(frozen=True, slots=True)
class Settled:
    """An attempt's result, weighed before the catalog is asked.

    Attributes:
        attempt: The attempt.
        end: What the catalog is asked to record (and commit).
        discard: Written files that must never be committed.
    """

    attempt: StepAttempt
    end: AttemptEnd
    discard: tuple[str, ...] = ()


def settle(
    attempt: StepAttempt,
    attempt_id: int,
    result: TaskResult,
    inputs: StepInputs,
    item: Asset,
    run_id: str,
) -> Settled:
    """What a worker's result means: a version to commit (built from ``inputs``), or
    a failure, final when retrying cannot help or the retries are spent."""
    step = attempt.step
    logs = tuple(
        LogLine(run_id, attempt.step_id, attempt.number, step.asset, step.partition, *line)
        for line in result.logs
    )
    version: NewVersion | None = None
    discard: tuple[str, ...] = ()
    error, written = result.error, result.written
    if written is not None and result.code_version != item.code_version:
        discard = written.files
        error = (
            f"DefinitionError: the worker loaded code version {result.code_version} of "
            f"{step.asset}, the run planned {item.code_version}; the definitions changed "
            "during the run, run it again"
        )
    elif written is not None:
        version = _version(written, item, inputs, run_id, attempt.step_id)
    final = version is not None or not result.retryable or attempt.number > item.retry.retries
    end = AttemptEnd(
        attempt_id,
        attempt.step_id,
        step.asset,
        step.partition,
        attempt.token,
        logs,
        version,
        error,
        final,
    )
    return Settled(attempt, end, discard)


def _version(
    written: WrittenVersion, item: Asset, inputs: StepInputs, run_id: str, step_id: int
) -> NewVersion:
    """The catalog's record of a written version, built from ``inputs``."""
    return NewVersion(
        version_id=written.version_id,
        kind=written.kind,
        files=written.files,
        rows=written.rows,
        bytes=written.bytes,
        data_version=written.data_version,
        code_version=item.code_version,
        input_hash=inputs.fingerprint,
        inputs=inputs.lineage(),
        run_id=run_id,
        step_id=step_id,
    )


@dataclass(frozen=True, slots=True)
class Conclusion:
    """What the catalog's answer means for one settled attempt.

    Attributes:
        attempt: The attempt.
        outcome: How the step ended; ``None`` when another attempt follows.
        publish: The files of the committed version, to give their visible names
            (superseding the attempt's ``superseded``); the lease is then given back.
        discard: Written files that were not committed: to remove.
    """

    attempt: StepAttempt
    outcome: StepOutcome | None
    publish: tuple[str, ...] = ()
    discard: tuple[str, ...] = ()


def conclude(settled: Settled, answer: str | LeaseLostError | None, run_id: str) -> Conclusion:
    """Conclude an attempt on the catalog's ``answer``: the failure its commit cleared
    (or ``None``), or the ``LeaseLostError`` that kept its version from being committed."""
    end, attempt = settled.end, settled.attempt
    if isinstance(answer, LeaseLostError):
        lost = end.version.files if end.version is not None else ()
        failed = attempt.outcome(run_id, StepStatus.FAILED, str(answer), attempts=attempt.number)
        return Conclusion(attempt, failed, discard=lost)
    if end.version is not None:
        version = end.version
        built = attempt.outcome(
            run_id,
            StepStatus.SUCCEEDED,
            attempts=attempt.number,
            rows=version.rows,
            bytes=version.bytes,
            recovered=answer is not None,
        )
        return Conclusion(attempt, built, publish=version.files)
    if end.final:
        failed = attempt.outcome(run_id, StepStatus.FAILED, end.error, attempts=attempt.number)
        return Conclusion(attempt, failed)
    return Conclusion(attempt, None)


def backoff(retries: Sequence[tuple[Asset, int]], jitter: Callable[[], float]) -> float:
    """How long to wait before the next attempts of a batch: retry ``n`` of each asset,
    the longest of their backoffs."""
    return max(item.retry.backoff(n, jitter()) for item, n in retries)


__all__ = [
    "Conclusion",
    "Settled",
    "StepAttempt",
    "backoff",
    "conclude",
    "settle",
]
