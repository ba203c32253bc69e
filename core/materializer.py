"""The materializer: the only writer. It executes a Plan, step by step.

For each step: take the partition's lease (waiting for another holder), re-check the
step against the catalog, then attempt it — read inputs, call the asset, write a new
version under an untrusted name while hashing, commit conditionally on the fencing
token, and remove superseded files. Failures are retried with backoff; a step that
still fails skips its downstream ("upstream failed") while independent steps go on.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any

from partita.assets import Asset, AssetGraph, Context
from partita.core.executors import make_executor
from partita.core.logcapture import asset_logger, capture
from partita.core.planner import Plan, Step, step_dependencies
from partita.core.pools import HeldSlots, Limit, ReadySteps, SlotKeeper, limits_of
from partita.core.status import FRESH, StatusResolver, input_fingerprint
from partita.errors import (
    LeaseLostError,
    MaterializationError,
    PartitaError,
    SchemaError,
    StorageError,
)
from partita.storage import Catalog, DataStore, LogLine, NewVersion
from partita.storage.versions import new_version_id

SUCCEEDED = "succeeded"
FAILED = "failed"
SKIPPED = "skipped"
RUNNING = "running"
UPSTREAM_FAILED = "upstream failed"
INTERRUPTED = "interrupted"
STOPPING = "daemon stopping"
LEASE_POLL_S = 0.05
LEASE_POLL_MAX_S = 1.0


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
    ) -> None:
        self.graph = graph
        self.catalog = catalog
        self.store = store
        self._sleep = sleep
        self._jitter = jitter
        self._pools = dict(pools or {})
        self._schemas: dict[str, Any] = {}

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
    ) -> RunResult:
        """Execute ``plan`` and record everything in the catalog.

        Once ``stop`` is set, steps in flight finish and no new one starts: the rest are
        recorded as skipped (``daemon stopping``) and the run as ``interrupted``.
        ``run_id`` names the run (default: a new id), so a caller can know it before the
        run starts. ``on_start`` is called (from the step's worker) when a step starts
        running, with an outcome whose status is ``running``.
        """
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
        running: dict[Future[StepOutcome], int] = {}
        pool = make_executor(executor_kind, workers)
        try:
            while ready or running:
                # Steps start in the order they became ready. Only as many are handed to
                # the pool as it has workers: wait() below costs O(futures) per step, and
                # with hundreds queued it held the GIL the running steps need. A step whose
                # pool this run's steps in flight already fill waits for one of them.
                stopping = stop is not None and stop.is_set()
                while len(running) < workers and not stopping:
                    if (index := ready.take()) is None:
                        break
                    running[pool.submit(run.execute, steps[index])] = index
                if stopping and not running:
                    break  # what was in flight has finished
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    index = running.pop(future)
                    ready.finished(index)
                    outcome = future.result()
                    outcomes[index] = outcome
                    if on_step:
                        on_step(outcome)
                    if outcome.status == FAILED or outcome.detail == UPSTREAM_FAILED:
                        for skipped in self._skip_downstream(run, index, dependents, outcomes):
                            if on_step:
                                on_step(skipped)
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

    def schema_of(self, item: Asset) -> Any:
        """The declared output schema as a pyarrow schema (cached per asset)."""
        if item.output_schema is None:
            return None
        if item.key not in self._schemas:
            from partita.storage.formats import arrow_schema

            self._schemas[item.key] = arrow_schema(item.output_schema)
        return self._schemas[item.key]

    def backoff(self, item: Asset, retry: int) -> None:
        """Wait before retry number ``retry`` of ``item``."""
        self._sleep(item.retry.backoff(retry, self._jitter()))

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
        from partita.storage.leases import Leases

        return SlotKeeper(Leases(self.catalog), run_id, self._sleep)


class _Run:
    """One execution of a plan: what each worker needs to run a step."""

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

    def execute(self, step: Step) -> StepOutcome:
        """Lease, re-check and attempt one step.

        The partition's lease comes first, the slots of the asset's concurrency limits
        after: a fresh step then takes no slot, a slot is held only while a step runs,
        and no step holds a slot while it waits for a partition lease (whose holder may
        be waiting for that slot).
        """
        catalog = self.m.catalog
        step_id = self.step_ids[(step.asset, step.partition)]
        token = self.m.wait_for_lease(step.asset, step.partition, self.run_id)
        outcome: StepOutcome | None = None
        held: HeldSlots | None = None
        try:
            if (step.asset, step.partition) not in self.forced and self._is_fresh(step):
                catalog.update_step(step_id, status=SKIPPED, detail=FRESH)
                outcome = StepOutcome(
                    step.asset, step.partition, SKIPPED, FRESH, run_id=self.run_id
                )
                return outcome
            if self.slots is not None and step.asset in self.limits:
                held = self.slots.acquire(self.limits[step.asset])
            catalog.update_step(step_id, status="running", started_at=True)
            if self.on_start is not None:
                self.on_start(StepOutcome(step.asset, step.partition, RUNNING, run_id=self.run_id))
            outcome = self._attempts(step, step_id, token, held.notes() if held else [])
            return outcome
        finally:
            if held is not None and self.slots is not None:
                self.slots.release(held)
            failure = outcome.detail if outcome and outcome.status == FAILED else None
            catalog.release(step.asset, step.partition, self.run_id, token, failure)

    def _is_fresh(self, step: Step) -> bool:
        """Re-check a step just before running it, against the catalog as it is now."""
        graph = self.m.graph
        mapper = StatusResolver(graph, {}, self.plan.now, self.plan.dynamic)
        wanted: dict[str, set[str]] = {step.asset: {step.partition}}
        for edge in graph.upstream(step.asset):
            wanted.setdefault(edge.upstream, set()).update(
                mapper.upstream_keys(edge, step.partition)
            )
        current = StatusResolver(
            graph, self.m.catalog.states_of(wanted), self.plan.now, self.plan.dynamic
        )
        state = current.state(step.asset, step.partition)
        if state.version_id is None or state.code_version != graph.get(step.asset).code_version:
            return False
        # Upstream steps of this plan have finished, so only the inputs can still differ.
        inputs = current.inputs(step.asset, step.partition)
        return not inputs or input_fingerprint(inputs) == state.input_hash

    def _attempts(self, step: Step, step_id: int, token: int, notes: list[str]) -> StepOutcome:
        item = self.m.graph.get(step.asset)
        catalog = self.m.catalog
        attempts = item.retry.retries + 1
        error = ""
        for number in range(1, attempts + 1):
            attempt_id = catalog.start_attempt(self.run_id, step_id, number)
            with capture() as lines:
                for note in notes if number == 1 else ():
                    asset_logger(step.asset).info("%s", note)
                try:
                    version, cleared = self._attempt(item, step, step_id, number, token)
                except LeaseLostError as exc:
                    error = str(exc)
                    failure: Exception | None = exc
                except Exception as exc:
                    wrapped = MaterializationError(
                        step.asset, step.partition, number, f"{type(exc).__name__}: {exc}"
                    )
                    wrapped.__cause__ = exc
                    error = f"{type(exc).__name__}: {exc}"
                    failure = wrapped
                    asset_logger(step.asset).error("attempt %d failed: %s", number, error)
                else:
                    failure = None
            logs = [
                LogLine(self.run_id, step_id, number, step.asset, step.partition, ts, lvl, msg)
                for ts, lvl, msg in lines
            ]
            if failure is None:
                catalog.finish_attempt(attempt_id, SUCCEEDED, None, logs)
                catalog.update_step(
                    step_id,
                    status=SUCCEEDED,
                    finished_at=True,
                    version_id=version.version_id,
                    rows=version.rows,
                    bytes=version.bytes,
                )
                return StepOutcome(
                    step.asset,
                    step.partition,
                    SUCCEEDED,
                    None,
                    number,
                    version.rows,
                    version.bytes,
                    run_id=self.run_id,
                    recovered=cleared is not None,
                )
            catalog.finish_attempt(attempt_id, FAILED, error, logs)
            retryable = not isinstance(failure, LeaseLostError) and not isinstance(
                failure.__cause__, SchemaError
            )
            if not retryable:
                break
            if number < attempts:
                self.m.backoff(item, number)
        catalog.update_step(step_id, status=FAILED, finished_at=True, detail=error)
        return StepOutcome(step.asset, step.partition, FAILED, error, number, run_id=self.run_id)

    def _attempt(
        self, item: Asset, step: Step, step_id: int, number: int, token: int
    ) -> tuple[NewVersion, str | None]:
        """One attempt: the version committed, and the failure its commit cleared."""
        store = self.m.store
        kwargs, inputs = self._inputs(item, step.partition)
        if item.context_param:
            window = item.partitions.window(step.partition) if item.partitions else None
            kwargs[item.context_param] = Context(
                asset=item.key,
                partition_key=step.partition if item.partitions else None,
                partition=window,
                dimensions=item.partitions.split(step.partition) if item.partitions else {},
                run_id=self.run_id,
                attempt=number,
                log=asset_logger(item.key),
            )
        value = item.fn(**kwargs)
        segments = item.partitions.segments(step.partition) if item.partitions else ""
        written = store.write(
            item.key,
            segments,
            new_version_id(),
            value,
            ext=item.format,
            schema=self.m.schema_of(item),
        )
        version = NewVersion(
            version_id=written.version_id,
            kind=written.kind,
            files=written.files,
            rows=written.rows,
            bytes=written.bytes,
            data_version=written.data_version,
            code_version=item.code_version,
            input_hash=input_fingerprint(inputs),
            inputs={a: {k: v or "" for k, v in keys.items()} for a, keys in inputs.items()},
            run_id=self.run_id,
            step_id=step_id,
        )
        try:
            cleared = self.m.catalog.commit(item.key, step.partition, self.run_id, token, version)
        except LeaseLostError:
            store.delete(written.files)  # never committed: nobody may trust these files
            raise
        # Still under the lease, so no other writer's file is in the folder. Files a crash
        # left behind go too; if removing them fails, the next run of the partition retries.
        try:
            store.delete(store.leftovers(item.key, segments, written.files))
        except StorageError as exc:
            asset_logger(item.key).warning("could not remove superseded files: %s", exc)
        return version, cleared

    def _inputs(
        self, item: Asset, partition: str
    ) -> tuple[dict[str, Any], dict[str, dict[str, str | None]]]:
        kwargs: dict[str, Any] = {}
        inputs: dict[str, dict[str, str | None]] = {}
        resolver = StatusResolver(self.m.graph, {}, self.plan.now, self.plan.dynamic)
        for edge in self.m.graph.upstream(item.key):
            keys = resolver.upstream_keys(edge, partition)
            versions = self.m.catalog.versions(edge.upstream, keys)
            inputs[edge.upstream] = {
                k: (versions[k].data_version if k in versions else None) for k in keys
            }
            if edge.param is None:
                continue
            missing = [k for k in keys if k not in versions]
            if missing:
                raise MaterializationError(
                    item.key,
                    partition,
                    0,
                    f"upstream {edge.upstream} has no committed version for {missing[0]}",
                )
            values = [self.m.store.read(versions[k].files, versions[k].kind) for k in keys]
            kwargs[edge.param] = _combine(edge.mapping.kind, values)
        return kwargs, inputs


def _combine(kind: str, values: list[Any]) -> Any:
    if kind in ("identity", "last", "previous") and len(values) == 1:
        return values[0]
    from partita.storage.formats import concat_values

    return concat_values(values) if values else None


__all__ = ["Materializer", "RunResult", "StepOutcome"]
