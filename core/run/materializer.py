"""The materializer: the only writer. It executes a Plan, step by step.

It records the run, starts the backend the steps' tasks run on, keeps the run's leases
alive (a heartbeat), and drives the plan's step graph: ready steps go in batches to the
coordinator's threads (:mod:`partita.core.run.batches`), each batch's outcomes make
downstream steps ready, and a failure skips its downstream ("upstream failed") while
independent steps go on. What one attempt of one step does is
:mod:`partita.core.run.attempts`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait

from partita.assets import AssetGraph
from partita.core.plan.planner import Plan
from partita.core.run.batches import BatchRunner, RunScope, Writers
from partita.core.run.executors import Backend, make_backend, make_drivers
from partita.core.run.heartbeat import Heartbeat
from partita.core.run.options import RunOptions
from partita.core.run.outcomes import (
    STOPPING,
    UPSTREAM_FAILED,
    RunResult,
    StepOutcome,
    run_status,
)
from partita.core.run.pools import SlotKeeper, run_limits
from partita.core.run.stepgraph import BatchPolicy, StepGraph
from partita.core.run.tasks import Source, Workspace
from partita.storage import Catalog, DataStore, RunStatus, StepStatus
from partita.storage.store.versions import new_version_id


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

    def run(self, plan: Plan, options: RunOptions | None = None) -> RunResult:
        """Execute ``plan`` as ``options`` say, and record everything in the catalog."""
        options = options or RunOptions()
        # Started before the run is recorded: a cluster that cannot be reached is a
        # configuration error, and no run is left behind.
        backend = make_backend(options, self._workspace, self.source) if plan.steps else None
        try:
            return self._run(plan, options, backend)
        finally:
            if backend is not None:
                backend.close()

    def _run(self, plan: Plan, options: RunOptions, backend: Backend | None) -> RunResult:
        run_id = options.run_id or new_version_id()
        targets = [f"{t.asset}:{len(t.partitions)}" for t in plan.targets]
        step_ids = self.catalog.create_run(
            run_id,
            options.command,
            targets,
            [(s.asset, s.partition, s.reason) for s in plan.steps],
            {"workers": options.workers, "executor": options.executor, "force": plan.force},
        )
        forced = {(t.asset, p) for t in plan.targets for p in t.partitions} if plan.force else ()
        scope = RunScope(run_id, plan, step_ids, frozenset(forced), options.on_start)
        heartbeat = Heartbeat(
            lambda: self.catalog.heartbeat(run_id),
            self.catalog.lease_seconds / 3,
            "partita-heartbeat",
        )
        status = RunStatus.FAILED
        try:
            outcomes = self._drive(scope, options, backend) if plan.steps else ()
            status = run_status(outcomes)
            return RunResult(run_id, status, plan, outcomes)
        except BaseException:
            status = RunStatus.INTERRUPTED
            raise
        finally:
            heartbeat.stop()
            self.catalog.release_all(run_id)
            self.catalog.finish_run(run_id, status)

    def _drive(
        self, scope: RunScope, options: RunOptions, backend: Backend | None
    ) -> tuple[StepOutcome, ...]:
        """Run the plan's steps as they become ready, ``options.workers`` batches at once."""
        assert backend is not None
        limits = run_limits(self.graph, (s.asset for s in scope.plan.steps), self._pools)
        slots = self._slot_keeper(scope.run_id) if limits else None
        writers = Writers(self.graph, self.catalog, self.store, backend)
        runner = BatchRunner(
            scope, writers, limits=limits, slots=slots, sleep=self._sleep, jitter=self._jitter
        )
        graph = StepGraph(scope.plan, self.graph, limits)
        policy = BatchPolicy(options.workers, options.stoppable, frozenset(limits))
        running: dict[Future[list[StepOutcome]], list[int]] = {}
        pool = make_drivers(options)
        try:
            while graph.ready or running:
                # Only as many batches go to the pool as it has workers: wait() below
                # costs O(futures), and with hundreds queued it held the GIL the running
                # steps need.
                while len(running) < options.workers and not options.stopping():
                    if (batch := policy.take(graph)) is None:
                        break
                    steps = [graph.steps[i] for i in batch]
                    running[pool.submit(runner.execute, steps)] = batch
                if options.stopping() and not running:
                    break  # what was in flight has finished
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    for index, outcome in zip(running.pop(future), future.result(), strict=True):
                        self._finished(graph, index, outcome, scope, options)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        self._never_started(graph, scope, options)
        return graph.ordered()

    def _finished(
        self,
        graph: StepGraph,
        index: int,
        outcome: StepOutcome,
        scope: RunScope,
        options: RunOptions,
    ) -> None:
        """Report a step's outcome; a failure skips what depends on it."""
        skipped = graph.finish(index, outcome)
        if options.on_step:
            options.on_step(outcome)
        for down in skipped:
            self._skip(graph, down, UPSTREAM_FAILED, scope, options)

    def _never_started(self, graph: StepGraph, scope: RunScope, options: RunOptions) -> None:
        """Steps a stop kept from starting: skipped."""
        for index in graph.unfinished():
            self._skip(graph, index, STOPPING, scope, options)

    def _skip(
        self, graph: StepGraph, index: int, why: str, scope: RunScope, options: RunOptions
    ) -> None:
        step = graph.steps[index]
        outcome = StepOutcome(
            step.asset, step.partition, StepStatus.SKIPPED, why, run_id=scope.run_id
        )
        graph.skip(index, outcome)
        step_id = scope.step_ids[(step.asset, step.partition)]
        self.catalog.update_step(step_id, status=StepStatus.SKIPPED, detail=why)
        if options.on_step:
            options.on_step(outcome)

    def _slot_keeper(self, run_id: str) -> SlotKeeper:
        from partita.storage.catalog.leases import Leases  # only runs with limits need it

        return SlotKeeper(Leases(self.catalog), run_id, self._sleep)


__all__ = ["Materializer", "RunOptions", "RunResult", "StepOutcome"]
