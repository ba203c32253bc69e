"""The materializer: the only writer. It executes a Plan, step by step.

For each step: take the partition's lease (waiting for another holder), re-check the
step against the catalog, then attempt it — read inputs, call the asset, write a new
version under an untrusted name while hashing, commit conditionally on the fencing
token, and remove superseded files. Failures are retried with backoff; a step that
still fails skips its downstream ("upstream failed") while independent steps go on.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any

from partita.assets import Asset, AssetGraph
from partita.core.plan.planner import Plan, Step, step_dependencies
from partita.core.plan.status import FRESH, StatusResolver, input_fingerprint
from partita.core.run.executors import (
    Backend,
    WorkerLost,
    check_executor,
    make_backend,
    make_drivers,
)
from partita.core.run.pools import HeldSlots, Limit, ReadySteps, SlotKeeper, limits_of
from partita.core.run.tasks import Input, Source, Task, TaskResult, Workspace
from partita.errors import (
    CatalogError,
    LeaseLostError,
    MaterializationError,
    PartitaError,
    StorageError,
)
from partita.storage import AttemptEnd, Catalog, DataStore, LogLine, NewVersion
from partita.storage.store.versions import new_version_id

SUCCEEDED = "succeeded"
FAILED = "failed"
SKIPPED = "skipped"
RUNNING = "running"
UPSTREAM_FAILED = "upstream failed"
INTERRUPTED = "interrupted"
STOPPING = "daemon stopping"
LEASE_POLL_S = 0.05
LEASE_POLL_MAX_S = 1.0
BATCH_MAX = 16  # steps sent to a worker at once, at most
WORKER_LOST_RETRIES = 3  # times a batch whose worker died is sent again

logger = logging.getLogger("partita")


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """How one step ended: ``succeeded``, ``skipped`` (fresh or upstream failed), ``failed``.

    ``recovered`` is true when a success replaced a failure recorded on the partition.
    """

    asset: str
    partition: str
    status: str
    detail: str | None = None
    attempts: int = 0
    rows: int | None = None
    bytes: int | None = None
    run_id: str | None = None
    recovered: bool = False


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of executing a plan."""

    run_id: str
    status: str
    plan: Plan
    outcomes: tuple[StepOutcome, ...]

    @property
    def ok(self) -> bool:
        """True when no step failed or was skipped because its upstream failed."""
        return self.status == SUCCEEDED

    def count(self, status: str, detail: str | None = None) -> int:
        """How many steps ended with ``status`` (and ``detail``, if given)."""
        return sum(
            1
            for o in self.outcomes
            if o.status == status and (detail is None or o.detail == detail)
        )


class Materializer:
    """Executes plans against a catalog and a data store.

    Args:
        graph: the asset graph the plan was made from.
        catalog: where runs, versions and leases are recorded.
        store: where data files are written.
        sleep: how to wait (injectable so tests never sleep).
        jitter: a source of random numbers in ``[0, 1)`` for retry backoff.
        pools: the size of each named pool (``[pools]`` in partita.toml).
        source: where worker processes load the project from (the ``processes`` and
            ``dask`` executors need it).
    """

    def __init__(
        self,
        graph: AssetGraph,
        catalog: Catalog,
        store: DataStore,
        *,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        pools: Mapping[str, int] | None = None,
        source: Source | None = None,
    ) -> None:
        self.graph = graph
        self.catalog = catalog
        self.store = store
        self.source = source
        self._sleep = sleep
        self._jitter = jitter
        self._pools = dict(pools or {})
        self._workspace = Workspace(graph, store)

    def run(
        self,
        plan: Plan,
        *,
        command: str = "materialize",
        workers: int = 1,
        executor: str = "threads",
        on_step: Callable[[StepOutcome], None] | None = None,
        stop: threading.Event | None = None,
        run_id: str | None = None,
        on_start: Callable[[StepOutcome], None] | None = None,
        dask_address: str | None = None,
    ) -> RunResult:
        """Execute ``plan`` and record everything in the catalog.

        Once ``stop`` is set, steps in flight finish and no new one starts: the rest are
        recorded as skipped (``daemon stopping``) and the run as ``interrupted``.
        ``run_id`` names the run (default: a new id), so a caller can know it before the
        run starts. ``on_start`` is called (from the step's worker) when a step starts
        running, with an outcome whose status is ``running``. ``executor`` is one of
        ``inline``, ``threads``, ``processes`` and ``dask`` (at ``dask_address``, or on a
        local cluster of ``workers`` processes).
        """
        check_executor(executor, workers, self.source)
        steps = plan.steps
        # Started before the run is recorded: a cluster that cannot be reached is a
        # configuration error, and no run is left behind.
        backend = (
            make_backend(executor, workers, self._workspace, self.source, dask_address)
            if steps
            else None
        )
        try:
            return self._run(
                plan, backend, command, workers, executor, on_step, stop, run_id, on_start
            )
        finally:
            if backend is not None:
                backend.close()

    def _run(
        self,
        plan: Plan,
        backend: Backend | None,
        command: str,
        workers: int,
        executor: str,
        on_step: Callable[[StepOutcome], None] | None,
        stop: threading.Event | None,
        run_id: str | None,
        on_start: Callable[[StepOutcome], None] | None,
    ) -> RunResult:
        run_id = run_id or new_version_id()
        steps = plan.steps
        step_ids = self.catalog.create_run(
            run_id,
            command,
            [f"{t.asset}:{len(t.partitions)}" for t in plan.targets],
            [(s.asset, s.partition, s.reason) for s in steps],
            {"workers": workers, "executor": executor, "force": plan.force},
        )
        targets = (
            {(t.asset, p) for t in plan.targets for p in t.partitions} if plan.force else set()
        )
        run = _Run(self, plan, run_id, step_ids, targets, on_start)
        run.backend = backend
        stop_heartbeat = self._start_heartbeat(run_id)
        status = FAILED
        try:
            outcomes = self._schedule(run, workers, executor, on_step, stop)
            failed = any(o.status == FAILED or o.detail == UPSTREAM_FAILED for o in outcomes)
            status = FAILED if failed else SUCCEEDED
            if any(o.detail == STOPPING for o in outcomes):
                status = INTERRUPTED
            return RunResult(run_id, status, plan, tuple(outcomes))
        except BaseException:
            status = INTERRUPTED
            raise
        finally:
            stop_heartbeat()
            self.catalog.release_all(run_id)
            self.catalog.finish_run(run_id, status)

    def _start_heartbeat(self, run_id: str) -> Callable[[], None]:
        stopped = threading.Event()
        interval = self.catalog.lease_seconds / 3

        def beat() -> None:
            while not stopped.wait(interval):
                # A missed beat is retried on the next one; leases outlive a few misses.
                with contextlib.suppress(PartitaError):
                    self.catalog.heartbeat(run_id)

        thread = threading.Thread(target=beat, name="partita-heartbeat", daemon=True)
        thread.start()

        def stop() -> None:
            stopped.set()
            thread.join()

        return stop

    def _schedule(
        self,
        run: _Run,
        workers: int,
        executor_kind: str,
        on_step: Callable[[StepOutcome], None] | None,
        stop: threading.Event | None = None,
    ) -> list[StepOutcome]:
        steps = run.plan.steps
        waits = step_dependencies(self.graph, steps, run.plan.now, run.plan.dynamic)
        blocking = [len(set(w)) for w in waits]
        dependents: list[list[int]] = [[] for _ in steps]
        for index, upstream in enumerate(waits):
            for up in set(upstream):
                dependents[up].append(index)
        outcomes: dict[int, StepOutcome] = {}
        ready = ReadySteps([step.asset for step in steps], run.limits)
        ready.extend(i for i, n in enumerate(blocking) if n == 0)
        running: dict[Future[list[StepOutcome]], list[int]] = {}
        pool = make_drivers(executor_kind, workers)
        try:
            while ready or running:
                # Steps start in the order they became ready, in batches of up to
                # BATCH_MAX while more are ready than there are workers. Only as many
                # batches are handed to the pool as it has workers: wait() below costs
                # O(futures), and with hundreds queued it held the GIL the running steps
                # need. A step whose pool this run's steps in flight already fill waits
                # for one of them.
                stopping = stop is not None and stop.is_set()
                while len(running) < workers and not stopping:
                    if (index := ready.take()) is None:
                        break
                    batch = [index]
                    # A run that may be stopped sends steps one by one, so that a stop
                    # lets only the steps already running finish.
                    if stop is None and steps[index].asset not in run.limits:
                        size = min(BATCH_MAX, -(-ready.waiting() // workers))
                        while len(batch) < size and (more := ready.take_unlimited()) is not None:
                            batch.append(more)
                    running[pool.submit(run.execute, [steps[i] for i in batch])] = batch
                if stopping and not running:
                    break  # what was in flight has finished
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    batch = running.pop(future)
                    for index, outcome in zip(batch, future.result(), strict=True):
                        ready.finished(index)
                        self._finished(run, index, outcome, outcomes, on_step, dependents)
                        if outcome.status == FAILED or outcome.detail == UPSTREAM_FAILED:
                            continue
                        for down in dependents[index]:
                            blocking[down] -= 1
                            if blocking[down] == 0 and down not in outcomes:
                                ready.append(down)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        for index, step in enumerate(steps):
            if index not in outcomes:  # only when stopped: the steps never started
                outcomes[index] = StepOutcome(
                    step.asset, step.partition, SKIPPED, STOPPING, run_id=run.run_id
                )
                step_id = run.step_ids[(step.asset, step.partition)]
                self.catalog.update_step(step_id, status=SKIPPED, detail=STOPPING)
                if on_step:
                    on_step(outcomes[index])
        return [outcomes[i] for i in sorted(outcomes)]

    def _finished(
        self,
        run: _Run,
        index: int,
        outcome: StepOutcome,
        outcomes: dict[int, StepOutcome],
        on_step: Callable[[StepOutcome], None] | None,
        dependents: list[list[int]],
    ) -> None:
        outcomes[index] = outcome
        if on_step:
            on_step(outcome)
        if outcome.status == FAILED or outcome.detail == UPSTREAM_FAILED:
            for skipped in self._skip_downstream(run, index, dependents, outcomes):
                if on_step:
                    on_step(skipped)

    def _skip_downstream(
        self,
        run: _Run,
        index: int,
        dependents: list[list[int]],
        outcomes: dict[int, StepOutcome],
    ) -> list[StepOutcome]:
        skipped: list[StepOutcome] = []
        todo = list(dependents[index])
        while todo:
            down = todo.pop()
            if down in outcomes:
                continue
            step = run.plan.steps[down]
            outcome = StepOutcome(
                step.asset, step.partition, SKIPPED, UPSTREAM_FAILED, run_id=run.run_id
            )
            self.catalog.update_step(
                run.step_ids[(step.asset, step.partition)], status=SKIPPED, detail=UPSTREAM_FAILED
            )
            outcomes[down] = outcome
            skipped.append(outcome)
            todo.extend(dependents[down])
        return skipped

    def backoff(self, retries: Sequence[tuple[Asset, int]]) -> None:
        """Wait before the next attempts of a batch: retry number ``n`` of each asset,
        the longest of their backoffs."""
        self._sleep(max(item.retry.backoff(n, self._jitter()) for item, n in retries))

    def leftovers(
        self, item: Asset, partition: str, keep: Iterable[str]
    ) -> tuple[list[str], str | None]:
        """The files of a partition's folder other than ``keep`` (listed under its lease:
        superseded versions and what crashed attempts left), and a warning if they cannot
        be listed (the next run of the partition removes them)."""
        segments = item.partitions.segments(partition) if item.partitions else ""
        try:
            return self.store.leftovers(item.key, segments, set(keep)), None
        except StorageError as exc:
            return [], f"could not remove superseded files: {exc}"

    def store_delete(self, files: Iterable[str], *, quiet: str | None = None) -> None:
        """Delete files; with ``quiet`` (an asset key) a failure is only a warning, as
        for superseded files that the next run of the partition removes."""
        if quiet is None:
            self.store.delete(files)
            return
        try:
            self.store.delete(files)
        except StorageError as exc:
            logger.warning("%s: could not remove superseded files: %s", quiet, exc)

    def wait_for_lease(self, asset: str, partition: str, owner: str) -> int:
        """Take the partition's lease, waiting while another writer holds it."""
        delay = LEASE_POLL_S
        while (token := self.catalog.acquire(asset, partition, owner)) is None:
            self._sleep(delay)
            delay = min(delay * 2, LEASE_POLL_MAX_S)
        return token

    def limits(self, assets: set[str]) -> dict[str, tuple[Limit, ...]]:
        """The concurrency limits of those ``assets`` that have any."""
        found = {key: limits_of(self.graph.get(key), self._pools) for key in assets}
        return {key: limits for key, limits in found.items() if limits}

    def slot_keeper(self, run_id: str) -> SlotKeeper:
        """Takes the slots of concurrency limits for the run ``run_id``."""
        from partita.storage.catalog.leases import Leases

        return SlotKeeper(Leases(self.catalog), run_id, self._sleep)


class _Run:
    """One execution of a plan: what the coordinator's threads need to run batches.

    A batch is a few ready steps run together to spread the per-step costs (catalog
    transactions, a round trip to a worker), while each step keeps its own lease,
    attempts, commit and record: one failing, retrying or losing its lease does not
    touch the others.
    """

    def __init__(
        self,
        materializer: Materializer,
        plan: Plan,
        run_id: str,
        step_ids: dict[tuple[str, str], int],
        forced: set[tuple[str, str]],
        on_start: Callable[[StepOutcome], None] | None = None,
    ) -> None:
        self.m = materializer
        self.on_start = on_start
        self.plan = plan
        self.run_id = run_id
        self.step_ids = step_ids
        self.forced = forced
        self.limits = materializer.limits({step.asset for step in plan.steps})
        self.slots = materializer.slot_keeper(run_id) if self.limits else None
        self.backend: Backend | None = None

    def execute(self, steps: Sequence[Step]) -> list[StepOutcome]:
        """Lease, re-check and attempt a batch of steps; an outcome for each, in order.

        The steps whose leases are free run together. Those another writer holds run
        after them, one at a time, each waiting for its lease while this thread holds no
        other: two writers whose batches overlap never wait on each other.
        """
        pairs = [(step.asset, step.partition) for step in steps]
        tokens = self.m.catalog.acquire_many(pairs, self.run_id)
        leased = [i for i, token in enumerate(tokens) if token is not None]
        outcomes: dict[int, StepOutcome] = {}
        if leased:
            taken = [token for token in tokens if token is not None]
            done = self._leased([steps[i] for i in leased], taken)
            outcomes.update(zip(leased, done, strict=True))
        for i, token in enumerate(tokens):
            if token is None:
                step = steps[i]
                token = self.m.wait_for_lease(step.asset, step.partition, self.run_id)
                outcomes[i] = self._leased([step], [token])[0]
        return [outcomes[i] for i in range(len(steps))]

    def _leased(self, steps: Sequence[Step], tokens: list[int]) -> list[StepOutcome]:
        """Re-check and attempt steps whose leases are held (``tokens``).

        The slots of concurrency limits come after the partition's lease (a step with
        limits always runs in a batch of its own): a fresh step then takes no slot, a
        slot is held only while a step runs, and no step holds a slot while it waits for
        a partition lease (whose holder may be waiting for that slot).
        """
        catalog = self.m.catalog
        outcomes: dict[int, StepOutcome] = {}
        held: HeldSlots | None = None
        try:
            fresh = sorted(self._fresh(steps))
            catalog.skip_steps(
                self.run_id,
                [
                    (self._step_id(steps[i]), steps[i].asset, steps[i].partition, tokens[i])
                    for i in fresh
                ],
                FRESH,
            )
            outcomes.update((i, self._outcome(steps[i], SKIPPED, FRESH)) for i in fresh)
            todo = [i for i in range(len(steps)) if i not in fresh]
            if todo and self.slots is not None and steps[todo[0]].asset in self.limits:
                held = self.slots.acquire(self.limits[steps[todo[0]].asset])
            if todo:
                outcomes.update(self._attempts(steps, todo, tokens, held.notes() if held else []))
            return [outcomes[i] for i in range(len(steps))]
        finally:
            if held is not None and self.slots is not None:
                self.slots.release(held)
            for i, step in enumerate(steps):
                if i not in outcomes:  # interrupted by an error: give the lease back
                    catalog.release(step.asset, step.partition, self.run_id, tokens[i])

    def _step_id(self, step: Step) -> int:
        return self.step_ids[(step.asset, step.partition)]

    def _outcome(
        self, step: Step, status: str, detail: str | None = None, **more: Any
    ) -> StepOutcome:
        return StepOutcome(step.asset, step.partition, status, detail, run_id=self.run_id, **more)

    def _fresh(self, steps: Sequence[Step]) -> set[int]:
        """Re-check steps just before running them, against the catalog as it is now:
        the indexes of those another writer has made fresh meanwhile."""
        check = [i for i, s in enumerate(steps) if (s.asset, s.partition) not in self.forced]
        if not check:
            return set()
        graph = self.m.graph
        mapper = StatusResolver(graph, {}, self.plan.now, self.plan.dynamic)
        wanted: dict[str, set[str]] = {}
        for i in check:
            step = steps[i]
            wanted.setdefault(step.asset, set()).add(step.partition)
            for edge in graph.upstream(step.asset):
                wanted.setdefault(edge.upstream, set()).update(
                    mapper.upstream_keys(edge, step.partition)
                )
        current = StatusResolver(
            graph, self.m.catalog.states_of(wanted), self.plan.now, self.plan.dynamic
        )
        fresh: set[int] = set()
        for i in check:
            step = steps[i]
            state = current.state(step.asset, step.partition)
            if state.version_id is None:
                continue
            if state.code_version != graph.get(step.asset).code_version:
                continue
            # Upstream steps of this plan have finished, so only the inputs can still differ.
            inputs = current.inputs(step.asset, step.partition)
            if not inputs or input_fingerprint(inputs) == state.input_hash:
                fresh.add(i)
        return fresh

    def _attempts(
        self, steps: Sequence[Step], todo: list[int], tokens: list[int], notes: list[str]
    ) -> dict[int, StepOutcome]:
        """Attempt steps until each succeeds, fails for good or runs out of retries."""
        catalog = self.m.catalog
        graph = self.m.graph
        number = {i: 1 for i in todo}
        outcomes: dict[int, StepOutcome] = {}
        for i in todo:
            if self.on_start is not None:
                self.on_start(self._outcome(steps[i], RUNNING))
        while todo:
            attempt_ids = catalog.start_attempts(
                self.run_id, [(self._step_id(steps[i]), number[i]) for i in todo]
            )
            inputs = self._inputs([steps[i] for i in todo])
            tasks = [
                Task(
                    steps[i].asset,
                    steps[i].partition,
                    self.run_id,
                    number[i],
                    new_version_id(),
                    inputs[k][0],
                    tuple(notes) if number[i] == 1 else (),
                )
                for k, i in enumerate(todo)
            ]
            results = self._run_tasks(tasks, inputs)
            ends: list[AttemptEnd] = []
            leftovers: dict[int, list[str]] = {}
            retry: list[int] = []
            for k, i in enumerate(todo):
                step, result = steps[i], results[k]
                item = graph.get(step.asset)
                step_id = self._step_id(step)
                logs = tuple(
                    LogLine(self.run_id, step_id, number[i], step.asset, step.partition, *line)
                    for line in result.logs
                )
                version = None
                error = result.error
                if result.written is not None and result.code_version != item.code_version:
                    self.m.store_delete(result.written.files)
                    error = (
                        f"DefinitionError: the worker loaded code version {result.code_version}"
                        f" of {step.asset}, the run planned {item.code_version}; the "
                        "definitions changed during the run, run it again"
                    )
                elif result.written is not None:
                    written = result.written
                    version = NewVersion(
                        version_id=written.version_id,
                        kind=written.kind,
                        files=written.files,
                        rows=written.rows,
                        bytes=written.bytes,
                        data_version=written.data_version,
                        code_version=item.code_version,
                        input_hash=input_fingerprint(inputs[k][1]),
                        inputs={
                            a: {key: v or "" for key, v in keys.items()}
                            for a, keys in inputs[k][1].items()
                        },
                        run_id=self.run_id,
                        step_id=step_id,
                    )
                    leftovers[i], warning = self.m.leftovers(item, step.partition, written.files)
                    if warning is not None:
                        line = (time.time(), "WARNING", warning)
                        where = (step.asset, step.partition)
                        logs += (LogLine(self.run_id, step_id, number[i], *where, *line),)
                final = (
                    version is not None or not result.retryable or number[i] > item.retry.retries
                )
                if version is None and not final:
                    retry.append(i)
                ends.append(
                    AttemptEnd(
                        attempt_ids[k],
                        step_id,
                        step.asset,
                        step.partition,
                        tokens[i],
                        logs,
                        version,
                        error,
                        final,
                    )
                )
            try:
                committed = catalog.finish_attempts(self.run_id, ends)
            except CatalogError as exc:
                # Whether the commits went through is unknown: the files stay (a rerun
                # finds the partitions fresh, or gc removes files never committed).
                outcomes.update(self._unrecorded(steps, todo, tokens, number, str(exc)))
                return outcomes
            for k, i in enumerate(todo):
                end, step = ends[k], steps[i]
                cleared = committed[k]
                if isinstance(cleared, LeaseLostError):
                    assert end.version is not None
                    self.m.store_delete(end.version.files)  # never committed: not trusted
                    outcomes[i] = self._outcome(step, FAILED, str(cleared), attempts=number[i])
                elif end.version is not None:
                    # Listed under the lease, before the commit: other writers' files are
                    # never among them. If removing them fails, the next run retries.
                    self.m.store_delete(leftovers[i], quiet=step.asset)
                    outcomes[i] = self._outcome(
                        step,
                        SUCCEEDED,
                        attempts=number[i],
                        rows=end.version.rows,
                        bytes=end.version.bytes,
                        recovered=cleared is not None,
                    )
                elif end.final:
                    outcomes[i] = self._outcome(step, FAILED, end.error, attempts=number[i])
            if retry:
                self.m.backoff([(graph.get(steps[i].asset), number[i]) for i in retry])
                for i in retry:
                    number[i] += 1
            todo = retry
        return outcomes

    def _unrecorded(
        self,
        steps: Sequence[Step],
        todo: list[int],
        tokens: list[int],
        number: dict[int, int],
        error: str,
    ) -> dict[int, StepOutcome]:
        """Steps whose ends the catalog could not record: failed, recorded if it can."""
        catalog = self.m.catalog
        for i in todo:
            step = steps[i]
            with contextlib.suppress(PartitaError):
                catalog.update_step(
                    self._step_id(step), status=FAILED, finished_at=True, detail=error
                )
            with contextlib.suppress(PartitaError):
                catalog.release(step.asset, step.partition, self.run_id, tokens[i], error)
        return {i: self._outcome(steps[i], FAILED, error, attempts=number[i]) for i in todo}

    def _run_tasks(
        self, tasks: list[Task], inputs: list[tuple[tuple[Input, ...], dict, str | None]]
    ) -> list[TaskResult]:
        """Run tasks on the backend; a lost worker's batch runs again, a few times."""
        assert self.backend is not None
        runnable = [k for k, (_, _, missing) in enumerate(inputs) if missing is None]
        results: dict[int, TaskResult] = {}
        for k, (_, _, missing) in enumerate(inputs):
            if missing is not None:
                results[k] = _failed(tasks[k], missing, self.m.graph)
        lost = 0
        while runnable:
            try:
                done = self.backend.run([tasks[k] for k in runnable])
            except WorkerLost as exc:
                lost += 1
                if lost > WORKER_LOST_RETRIES:
                    for k in runnable:
                        results[k] = _failed(tasks[k], f"WorkerLost: {exc}", self.m.graph)
                    break
                note = f"{exc}; running the step again (lost {lost} of {WORKER_LOST_RETRIES})"
                tasks = [
                    _again(task, note) if k in runnable else task for k, task in enumerate(tasks)
                ]
                continue
            results.update(zip(runnable, done, strict=True))
            break
        return [results[k] for k in range(len(tasks))]

    def _inputs(
        self, steps: Sequence[Step]
    ) -> list[tuple[tuple[Input, ...], dict[str, dict[str, str | None]], str | None]]:
        """For each step: what its worker reads, the data versions it reads (for the
        fingerprint), and the error if an input it needs has no committed version."""
        graph = self.m.graph
        resolver = StatusResolver(graph, {}, self.plan.now, self.plan.dynamic)
        keys = [
            {
                edge: resolver.upstream_keys(edge, step.partition)
                for edge in graph.upstream(step.asset)
            }
            for step in steps
        ]
        wanted: dict[str, set[str]] = {}
        for per_step in keys:
            for edge, upstream in per_step.items():
                wanted.setdefault(edge.upstream, set()).update(upstream)
        versions = {
            asset: self.m.catalog.versions(asset, sorted(ks)) for asset, ks in wanted.items()
        }
        found = []
        for step, per_step in zip(steps, keys, strict=True):
            given: list[Input] = []
            read: dict[str, dict[str, str | None]] = {}
            missing: str | None = None
            for edge, upstream in per_step.items():
                have = versions[edge.upstream]
                read[edge.upstream] = {
                    k: (have[k].data_version if k in have else None) for k in upstream
                }
                if edge.param is None:
                    continue
                absent = [k for k in upstream if k not in have]
                if absent and missing is None:
                    error = MaterializationError(
                        step.asset,
                        step.partition,
                        0,
                        f"upstream {edge.upstream} has no committed version for {absent[0]}",
                    )
                    missing = f"{type(error).__name__}: {error}"
                given.append(
                    Input(
                        edge.param,
                        edge.mapping.kind,
                        tuple((tuple(have[k].files), have[k].kind) for k in upstream if k in have),
                    )
                )
            found.append((tuple(given), read, missing))
        return found


def _failed(task: Task, error: str, graph: AssetGraph) -> TaskResult:
    """The result of a task that could not run: retryable (the next attempt may)."""
    return TaskResult(
        task.asset,
        task.partition,
        None,
        error,
        True,
        graph.get(task.asset).code_version,
        ((time.time(), "ERROR", f"attempt {task.attempt} failed: {error}"),),
    )


def _again(task: Task, note: str) -> Task:
    """The same attempt for another worker, writing under a new version id."""
    return Task(
        task.asset,
        task.partition,
        task.run_id,
        task.attempt,
        new_version_id(),
        task.inputs,
        (*task.notes, note),
    )


__all__ = ["Materializer", "RunResult", "StepOutcome"]
