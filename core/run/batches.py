"""Run batches of a run's steps, in the coordinator's threads.

For each step of a batch: take the partition's lease (waiting while another writer
holds it), tidy what a dead writer may have left in its folder, re-check it against the
catalog, then attempt it (see :mod:`partita.core.run.attempts`) until it succeeds, fails
for good or runs out of retries. A version is committed conditionally on the lease's
fencing token and published right after its commit, before its lease is given back.

A batch spreads the per-step costs (catalog transactions, a round trip to a worker)
over a few steps, while each keeps its own lease, attempts, commit and record: one
failing, retrying or losing its lease does not touch the others.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from partita.assets import AssetGraph
from partita.core.plan.planner import Plan, Step
from partita.core.plan.status import Freshness
from partita.core.run.attempts import (
    Conclusion,
    Settled,
    StepAttempt,
    backoff,
    conclude,
    settle,
)
from partita.core.run.executors import Backend, run_on
from partita.core.run.inputs import Inputs, StepInputs
from partita.core.run.outcomes import StepOutcome
from partita.core.run.pools import HeldSlots, Limit, SlotKeeper
from partita.core.run.tasks import Task, TaskResult
from partita.core.run.tidy import Tidier
from partita.errors import CatalogError, PartitaError, StorageError
from partita.storage import Catalog, DataStore
from partita.storage.records import PartitionStates
from partita.storage.statuses import StepStatus

LEASE_POLL_S = 0.05
LEASE_POLL_MAX_S = 1.0

logger = logging.getLogger("partita")


@dataclass(frozen=True, slots=True)
class RunScope:
    """What the batches of one run share.

    Attributes:
        run_id: The run.
        plan: Its plan.
        step_ids: Each step's row in the catalog, by ``(asset, partition)``.
        forced: The partitions built even when fresh (``--force`` targets).
        on_start: Called when a step starts running.
    """

    run_id: str
    plan: Plan
    step_ids: Mapping[tuple[str, str], int]
    forced: frozenset[tuple[str, str]] = frozenset()
    on_start: Callable[[StepOutcome], None] | None = None


@dataclass(frozen=True, slots=True)
class Writers:
    """Where a run writes: the catalog, the store and the backend running its tasks."""

    graph: AssetGraph
    catalog: Catalog
    store: DataStore
    backend: Backend


class BatchRunner:
    """Runs batches of one run's steps; called from the coordinator's threads.

    Args:
        scope: The run.
        writers: Where it writes.
        limits: The concurrency limits of the assets that have any.
        slots: Takes the slots of those limits (``None`` when there are none).
        sleep: How to wait (lease polling, retry backoff).
        jitter: A source of random numbers in ``[0, 1)`` for retry backoff.
    """

    def __init__(
        self,
        scope: RunScope,
        writers: Writers,
        *,
        limits: Mapping[str, tuple[Limit, ...]],
        slots: SlotKeeper | None,
        sleep: Callable[[float], None],
        jitter: Callable[[], float],
    ) -> None:
        self._scope = scope
        self._graph = writers.graph
        self._catalog = writers.catalog
        self._store = writers.store
        self._backend = writers.backend
        self._limits = limits
        self._slots = slots
        self._sleep = sleep
        self._jitter = jitter
        self._inputs = Inputs(writers.graph, writers.catalog, scope.plan)
        self._tidier = Tidier(writers.catalog, writers.store)

    def execute(self, steps: Sequence[Step]) -> list[StepOutcome]:
        """Lease, re-check and attempt a batch of steps; an outcome for each, in order.

        The steps whose leases are free run together. Those another writer holds run
        after them, one at a time, each waiting for its lease while this thread holds no
        other: two writers whose batches overlap never wait on each other.
        """
        run_id = self._scope.run_id
        tokens = self._catalog.acquire_many([_key(step) for step in steps], run_id)
        pairs = zip(steps, tokens, strict=True)
        free = [(step, token) for step, token in pairs if token is not None]
        outcomes: dict[tuple[str, str], StepOutcome] = {}
        if free:
            done = self._leased([step for step, _ in free], [token for _, token in free])
            outcomes.update(zip((_key(step) for step, _ in free), done, strict=True))
        for step, token in zip(steps, tokens, strict=True):
            if token is None:
                outcomes[_key(step)] = self._leased([step], [self._wait_for_lease(step)])[0]
        return [outcomes[_key(step)] for step in steps]

    def _wait_for_lease(self, step: Step) -> int:
        delay = LEASE_POLL_S
        while (
            token := self._catalog.acquire(step.asset, step.partition, self._scope.run_id)
        ) is None:
            self._sleep(delay)
            delay = min(delay * 2, LEASE_POLL_MAX_S)
        return token

    def _leased(self, steps: Sequence[Step], tokens: Sequence[int]) -> list[StepOutcome]:
        """Tidy, re-check and attempt steps whose leases are held (``tokens``).

        The slots of concurrency limits come after the partition's lease (a step with
        limits always runs in a batch of its own): a fresh step then takes no slot, a
        slot is held only while a step runs, and no step holds a slot while it waits for
        a partition lease (whose holder may be waiting for that slot).
        """
        scope = self._scope
        attempts = {
            _key(step): StepAttempt(step, scope.step_ids[_key(step)], token)
            for step, token in zip(steps, tokens, strict=True)
        }
        outcomes: dict[tuple[str, str], StepOutcome] = {}
        held: HeldSlots | None = None
        try:
            recheck = [step for step in steps if _key(step) not in scope.forced]
            states = self._inputs.states(steps, recheck)
            attempts = {key: self._tidy(a, states) for key, a in attempts.items()}
            fresh = self._inputs.fresh(recheck, states)
            outcomes.update(self._skip_fresh([attempts.pop(_key(step)) for step in fresh]))
            todo = list(attempts.values())
            if todo and self._slots is not None and todo[0].step.asset in self._limits:
                held = self._slots.acquire(self._limits[todo[0].step.asset])
                todo = [_noted(attempt, held.notes()) for attempt in todo]
            outcomes.update(self._attempts(todo))
            return [outcomes[_key(step)] for step in steps]
        finally:
            if held is not None and self._slots is not None:
                self._slots.release(held)
            for step, token in zip(steps, tokens, strict=True):
                if _key(step) not in outcomes:  # interrupted by an error: give it back
                    self._catalog.release(step.asset, step.partition, scope.run_id, token)

    def _tidy(self, attempt: StepAttempt, states: Mapping[str, PartitionStates]) -> StepAttempt:
        """Tidy the step's folder (what a dead writer may have left), and note which
        visible files a new version will supersede."""
        step = attempt.step
        state = states[step.asset].get(step.partition)
        definition = self._graph.get(step.asset).partitions
        segments = definition.segments(step.partition) if definition else ""
        try:
            tidy = self._tidier.tidy(step.asset, segments, state.version_id if state else None)
        except StorageError as exc:
            note = f"could not tidy the partition's folder (the next run of it will): {exc}"
            return _noted(attempt, [note])
        return dataclasses.replace(attempt, superseded=tidy.shown)

    def _skip_fresh(self, fresh: Sequence[StepAttempt]) -> dict[tuple[str, str], StepOutcome]:
        """Record steps another writer made fresh as skipped, giving their leases back."""
        if not fresh:
            return {}
        skipped = [(a.step_id, a.step.asset, a.step.partition, a.token) for a in fresh]
        self._catalog.skip_steps(self._scope.run_id, skipped, Freshness.FRESH)
        run_id = self._scope.run_id
        return {a.key: a.outcome(run_id, StepStatus.SKIPPED, Freshness.FRESH) for a in fresh}

    def _attempts(self, todo: Sequence[StepAttempt]) -> dict[tuple[str, str], StepOutcome]:
        """Attempt steps until each succeeds, fails for good or runs out of retries."""
        run_id = self._scope.run_id
        if self._scope.on_start is not None:
            for attempt in todo:
                self._scope.on_start(attempt.outcome(run_id, StepStatus.RUNNING))
        outcomes: dict[tuple[str, str], StepOutcome] = {}
        while todo:
            concluded = self._commit(self._round(todo))
            outcomes.update((c.attempt.key, c.outcome) for c in concluded if c.outcome)
            retry = [c.attempt for c in concluded if c.outcome is None]
            if retry:
                items = [(self._graph.get(a.step.asset), a.number) for a in retry]
                self._sleep(backoff(items, self._jitter))
            todo = [attempt.again() for attempt in retry]
        return outcomes

    def _round(self, todo: Sequence[StepAttempt]) -> list[Settled]:
        """Start one attempt of each step, run them, and settle their results."""
        run_id = self._scope.run_id
        ids = self._catalog.start_attempts(run_id, [(a.step_id, a.number) for a in todo])
        inputs = self._inputs.resolve([a.step for a in todo])
        tasks = [a.launch(run_id, given) for a, given in zip(todo, inputs, strict=True)]
        results = self._run(tasks, inputs)
        settled = [
            settle(a, attempt_id, result, given, self._graph.get(a.step.asset), run_id)
            for a, attempt_id, result, given in zip(todo, ids, results, inputs, strict=True)
        ]
        self._discard([path for s in settled for path in s.discard])
        return settled

    def _run(self, tasks: Sequence[Task], inputs: Sequence[StepInputs]) -> list[TaskResult]:
        """Run the tasks whose inputs are all there; the others fail (retryably)."""
        results: list[TaskResult | None] = [
            None if given.missing is None else task.failed(given.missing)
            for task, given in zip(tasks, inputs, strict=True)
        ]
        runnable = [task for task, result in zip(tasks, results, strict=True) if result is None]
        done = iter(run_on(self._backend, runnable) if runnable else [])
        return [result if result is not None else next(done) for result in results]

    def _commit(self, settled: Sequence[Settled]) -> list[Conclusion]:
        """Record the attempts' ends (committing their versions, keeping those leases),
        then publish each committed version and give its lease back."""
        run_id = self._scope.run_id
        try:
            answers = self._catalog.finish_attempts(run_id, [s.end for s in settled], hold=True)
        except CatalogError as exc:
            return self._unrecorded(settled, str(exc))
        concluded = [
            conclude(s, answer, run_id) for s, answer in zip(settled, answers, strict=True)
        ]
        self._discard([path for c in concluded for path in c.discard])
        published = [c for c in concluded if c.publish]
        for conclusion in published:
            self._publish(conclusion.attempt, conclusion.publish)
        self._release([c.attempt for c in published])
        return concluded

    def _publish(self, attempt: StepAttempt, files: Sequence[str]) -> None:
        """Give a committed version its visible names, retiring the superseded files.
        If that fails, readers through partita still find it (under its staged name) and
        the next tidy of the folder finishes it."""
        try:
            self._store.publish(files, attempt.superseded)
        except StorageError as exc:
            logger.warning("%s: could not publish %s: %s", attempt.step.asset, files[0], exc)

    def _release(self, attempts: Sequence[StepAttempt]) -> None:
        held = [(a.step.asset, a.step.partition, a.token) for a in attempts]
        with contextlib.suppress(PartitaError):  # the run gives back what it holds at its end
            self._catalog.release_many(self._scope.run_id, held)

    def _discard(self, files: Sequence[str]) -> None:
        """Remove written files that will never be committed (else the next tidy does)."""
        try:
            self._store.discard(files)
        except StorageError as exc:
            logger.warning("could not remove uncommitted files: %s", exc)

    def _unrecorded(self, settled: Sequence[Settled], error: str) -> list[Conclusion]:
        """Attempts whose ends the catalog could not record: their steps fail (recorded
        if it can). Whether their versions were committed is unknown: once the catalog
        answers again, one that was is published, and one that was not is discarded."""
        run_id = self._scope.run_id
        for s in settled:
            with contextlib.suppress(PartitaError):
                self._catalog.update_step(
                    s.attempt.step_id, status=StepStatus.FAILED, finished_at=True, detail=error
                )
        with contextlib.suppress(PartitaError):
            self._resolve_unknown(settled)
        concluded = []
        for s in settled:
            attempt, step = s.attempt, s.attempt.step
            with contextlib.suppress(PartitaError):
                self._catalog.release(step.asset, step.partition, run_id, attempt.token, error)
            failed = attempt.outcome(run_id, StepStatus.FAILED, error, attempts=attempt.number)
            concluded.append(Conclusion(attempt, failed))
        return concluded

    def _resolve_unknown(self, settled: Iterable[Settled]) -> None:
        ends = [s for s in settled if s.end.version is not None]
        wanted: dict[str, set[str]] = {}
        for s in ends:
            wanted.setdefault(s.end.asset, set()).add(s.end.partition)
        states = self._catalog.states_of(wanted) if wanted else {}
        for s in ends:
            state = states[s.end.asset].get(s.end.partition)
            version = s.end.version
            assert version is not None
            if state is not None and state.version_id == version.version_id:
                self._publish(s.attempt, version.files)
            else:
                self._discard(version.files)


def _key(step: Step) -> tuple[str, str]:
    return (step.asset, step.partition)


def _noted(attempt: StepAttempt, notes: Sequence[str]) -> StepAttempt:
    return dataclasses.replace(attempt, notes=(*attempt.notes, *notes))


__all__ = ["LEASE_POLL_S", "BatchRunner", "RunScope", "Writers"]
