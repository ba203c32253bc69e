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
from partita.core.plan.status import FRESH
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
from partita.core.run.outcomes import FAILED, RUNNING, SKIPPED, StepOutcome
from partita.core.run.pools import HeldSlots, Limit, SlotKeeper
from partita.core.run.tasks import Task, TaskResult
from partita.core.run.tidy import Tidier
from partita.errors import CatalogError, PartitaError, StorageError
from partita.storage import Catalog, DataStore
from partita.storage.records import PartitionStates

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
        tokens = self._catalog.acquire_many([(s.asset, s.partition) for s in steps], run_id)
        leased = [i for i, token in enumerate(tokens) if token is not None]
        outcomes: dict[int, StepOutcome] = {}
        if leased:
            taken = [token for token in tokens if token is not None]
            done = self._leased([steps[i] for i in leased], taken)
            outcomes.update(zip(leased, done, strict=True))
        for i, token in enumerate(tokens):
            if token is None:
                outcomes[i] = self._leased([steps[i]], [self._wait_for_lease(steps[i])])[0]
        return [outcomes[i] for i in range(len(steps))]

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
            i: StepAttempt(step, scope.step_ids[(step.asset, step.partition)], tokens[i])
            for i, step in enumerate(steps)
        }
        outcomes: dict[int, StepOutcome] = {}
        held: HeldSlots | None = None
        try:
            recheck = [i for i, s in enumerate(steps) if (s.asset, s.partition) not in scope.forced]
            states = self._inputs.states(steps, recheck)
            attempts = {i: self._tidy(a, states) for i, a in attempts.items()}
            fresh = sorted(self._inputs.fresh(steps, recheck, states))
            outcomes.update(self._skip_fresh({i: attempts.pop(i) for i in fresh}))
            first = next(iter(attempts.values()), None)
            if first is not None and self._slots is not None and first.step.asset in self._limits:
                held = self._slots.acquire(self._limits[first.step.asset])
                attempts = {i: _noted(a, held.notes()) for i, a in attempts.items()}
            if attempts:
                outcomes.update(self._attempts(attempts))
            return [outcomes[i] for i in range(len(steps))]
        finally:
            if held is not None and self._slots is not None:
                self._slots.release(held)
            for i, step in enumerate(steps):
                if i not in outcomes:  # interrupted by an error: give the lease back
                    self._catalog.release(step.asset, step.partition, scope.run_id, tokens[i])

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

    def _skip_fresh(self, fresh: Mapping[int, StepAttempt]) -> dict[int, StepOutcome]:
        """Record steps another writer made fresh as skipped, giving their leases back."""
        if not fresh:
            return {}
        skipped = [(a.step_id, a.step.asset, a.step.partition, a.token) for a in fresh.values()]
        self._catalog.skip_steps(self._scope.run_id, skipped, FRESH)
        return {i: a.outcome(self._scope.run_id, SKIPPED, FRESH) for i, a in fresh.items()}

    def _attempts(self, todo: dict[int, StepAttempt]) -> dict[int, StepOutcome]:
        """Attempt steps until each succeeds, fails for good or runs out of retries."""
        run_id = self._scope.run_id
        if self._scope.on_start is not None:
            for attempt in todo.values():
                self._scope.on_start(attempt.outcome(run_id, RUNNING))
        outcomes: dict[int, StepOutcome] = {}
        while todo:
            settled = self._round(todo)
            concluded = self._commit(settled)
            retry = {i: settled[i].attempt for i, c in concluded.items() if c.outcome is None}
            outcomes.update((i, c.outcome) for i, c in concluded.items() if c.outcome is not None)
            if retry:
                items = [(self._graph.get(a.step.asset), a.number) for a in retry.values()]
                self._sleep(backoff(items, self._jitter))
            todo = {i: attempt.again() for i, attempt in retry.items()}
        return outcomes

    def _round(self, todo: Mapping[int, StepAttempt]) -> dict[int, Settled]:
        """Start one attempt of each step, run them, and settle their results."""
        run_id = self._scope.run_id
        attempts = list(todo.items())
        ids = self._catalog.start_attempts(run_id, [(a.step_id, a.number) for _, a in attempts])
        inputs = self._inputs.resolve([a.step for _, a in attempts])
        tasks = [a.launch(run_id, given) for (_, a), given in zip(attempts, inputs, strict=True)]
        results = self._run(tasks, inputs)
        settled = {
            i: settle(a, attempt_id, result, given, self._graph.get(a.step.asset), run_id)
            for (i, a), attempt_id, result, given in zip(
                attempts, ids, results, inputs, strict=True
            )
        }
        self._discard([path for s in settled.values() for path in s.discard])
        return settled

    def _run(self, tasks: Sequence[Task], inputs: Sequence[StepInputs]) -> list[TaskResult]:
        """Run the tasks whose inputs are all there; the others fail (retryably)."""
        runnable = [k for k, given in enumerate(inputs) if given.missing is None]
        results: dict[int, TaskResult] = {
            k: tasks[k].failed(given.missing)
            for k, given in enumerate(inputs)
            if given.missing is not None
        }
        if runnable:
            done = run_on(self._backend, [tasks[k] for k in runnable])
            results.update(zip(runnable, done, strict=True))
        return [results[k] for k in range(len(tasks))]

    def _commit(self, settled: Mapping[int, Settled]) -> dict[int, Conclusion]:
        """Record the attempts' ends (committing their versions, keeping those leases),
        then publish each committed version and give its lease back."""
        items = list(settled.items())
        run_id = self._scope.run_id
        try:
            answers = self._catalog.finish_attempts(run_id, [s.end for _, s in items], hold=True)
        except CatalogError as exc:
            return self._unrecorded(settled, str(exc))
        concluded = {
            i: conclude(s, answer, run_id) for (i, s), answer in zip(items, answers, strict=True)
        }
        self._discard([path for c in concluded.values() for path in c.discard])
        published = [(settled[i].attempt, c.publish) for i, c in concluded.items() if c.publish]
        for attempt, files in published:
            self._publish(attempt, files)
        self._release([attempt for attempt, _ in published])
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

    def _unrecorded(self, settled: Mapping[int, Settled], error: str) -> dict[int, Conclusion]:
        """Attempts whose ends the catalog could not record: their steps fail (recorded
        if it can). Whether their versions were committed is unknown: once the catalog
        answers again, one that was is published, and one that was not is discarded."""
        run_id = self._scope.run_id
        attempts = {i: s.attempt for i, s in settled.items()}
        for attempt in attempts.values():
            with contextlib.suppress(PartitaError):
                self._catalog.update_step(
                    attempt.step_id, status=FAILED, finished_at=True, detail=error
                )
        with contextlib.suppress(PartitaError):
            self._resolve_unknown(settled.values())
        for attempt in attempts.values():
            step = attempt.step
            with contextlib.suppress(PartitaError):
                self._catalog.release(step.asset, step.partition, run_id, attempt.token, error)
        failed = {
            i: a.outcome(run_id, FAILED, error, attempts=a.number) for i, a in attempts.items()
        }
        return {i: Conclusion(outcome) for i, outcome in failed.items()}

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


def _noted(attempt: StepAttempt, notes: Sequence[str]) -> StepAttempt:
    return dataclasses.replace(attempt, notes=(*attempt.notes, *notes))


__all__ = ["LEASE_POLL_S", "BatchRunner", "RunScope", "Writers"]
