"""Executors: where the asset functions of a run execute.

The coordinator (the materializer) always drives steps from its own threads, one per
worker: it takes leases, re-checks freshness and commits. What an executor decides is
where a batch of tasks (call the asset, write the files) runs:

- ``inline``: in the coordinator's thread, one batch at a time (debugging, profiling);
- ``threads``: in the coordinator's worker threads (the default; I/O-bound assets);
- ``processes``: in a pool of worker processes started once per run (CPU-bound assets);
- ``dask``: on the workers of a Dask ``distributed`` cluster, an existing one
  (``dask_address``) or a local one started for the run.

Process and Dask workers import the definitions module themselves (:class:`Source`): the
functions are found by module and name, never pickled.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from partita._extras import needs_extra
from partita.core.run.options import EXECUTORS, RunOptions
from partita.core.run.tasks import Source, Task, TaskResult, Workspace, run_tasks, warm_up
from partita.errors import ConfigError, PartitaError

WORKER_LOST_RETRIES = 3  # times a batch whose worker died is sent again


class WorkerLost(PartitaError):
    """A worker died (or its connection did) while it had tasks: they may run again."""


class InlineExecutor(Executor):
    """Runs each submitted call at once, in the caller's thread."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


class Backend(Protocol):
    """Runs batches of tasks; called from the coordinator's worker threads."""

    def run(self, tasks: Sequence[Task]) -> list[TaskResult]:
        """Run ``tasks`` and wait for their results.

        Raises:
            WorkerLost: the worker died before answering; none of the results is known.
        """
        ...

    def close(self) -> None:
        """Stop whatever the backend started."""
        ...


class LocalBackend:
    """Runs tasks in the calling thread, on the coordinator's own project."""

    def __init__(self, workspace: Workspace) -> None:
        self._workspace = workspace

    def run(self, tasks: Sequence[Task]) -> list[TaskResult]:
        return self._workspace.run_all(tasks)

    def close(self) -> None:
        return None


class ProcessBackend:
    """Runs tasks in a pool of worker processes (started with ``spawn``, so no lock or
    connection of the coordinator is inherited). A pool whose process died is replaced
    and the tasks it had are reported lost, to be run again."""

    def __init__(self, source: Source, workers: int) -> None:
        self._source = source
        self._workers = workers
        self._lock = threading.Lock()
        self._pool = self._start()

    def _start(self) -> Executor:
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=warm_up,
            initargs=(self._source,),
        )

    def run(self, tasks: Sequence[Task]) -> list[TaskResult]:
        pool = self._pool
        try:
            return pool.submit(run_tasks, self._source, list(tasks)).result()
        except (BrokenProcessPool, RuntimeError) as exc:
            # RuntimeError: another thread shut this pool down to replace it.
            if not isinstance(exc, BrokenProcessPool) and self._pool is pool:
                raise
            with self._lock:
                if self._pool is pool:  # the first thread to notice replaces it
                    pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = self._start()
            raise WorkerLost(f"a worker process died: {exc}") from exc

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskBackend:
    """Runs tasks on a Dask ``distributed`` cluster: at ``address``, or on a local
    cluster of ``workers`` single-threaded worker processes started for the run.

    A worker that dies is Dask's to handle first: it reschedules the task on another
    worker. Only when it gives up (or the connection drops) is the batch reported lost.
    """

    def __init__(self, source: Source, workers: int, address: str | None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise ConfigError(needs_extra("the dask executor", exc, default="dask")) from exc
        self._source = source
        self._cluster: Any = None
        if address is None:
            self._cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address="127.0.0.1:0",  # any free port: 8787 may be taken
                host="127.0.0.1",
            )
            address = self._cluster.scheduler_address
        try:
            self._client: Any = Client(address, timeout="10s", set_as_default=False)
        except OSError as exc:
            self._close_cluster()
            raise ConfigError(
                f"cannot reach the Dask scheduler at {address}: {exc}; "
                "start one with 'dask scheduler' or leave out --dask-address for a local "
                "cluster"
            ) from exc
        except BaseException:
            self._close_cluster()
            raise

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (for tests and diagnostics)."""
        return self._client

    def run(self, tasks: Sequence[Task]) -> list[TaskResult]:
        from distributed import KilledWorker
        from distributed.comm.core import CommClosedError

        future = self._client.submit(run_tasks, self._source, list(tasks), pure=False)
        try:
            results: list[TaskResult] = future.result()
            return results
        except (KilledWorker, CommClosedError) as exc:
            raise WorkerLost(f"Dask lost the worker: {exc}") from exc
        finally:
            future.release()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._client.close()
        self._close_cluster()

    def _close_cluster(self) -> None:
        if self._cluster is not None:
            with contextlib.suppress(Exception):
                self._cluster.close()
            self._cluster = None


def check_source(options: RunOptions, source: Source | None) -> None:
    """Refuse a remote executor without a definitions module to load on the workers, or
    with storage its workers cannot see (``options`` checked their own values).

    Raises:
        ConfigError: the executor cannot work with this project's settings (found as
            the run starts, before anything is recorded: no step ran).
    """
    kind = options.executor
    if kind not in ("processes", "dask"):
        return
    if source is None:
        raise ConfigError(
            f"the {kind} executor loads the definitions module in each worker; "
            "run it through a project (partita.toml), not a graph built in memory"
        )
    if source.storage.startswith("memory://"):
        raise ConfigError(
            f"the {kind} executor writes from other processes, which cannot see "
            "memory:// storage; use local disk or an object store"
        )


def make_backend(options: RunOptions, workspace: Workspace, source: Source | None) -> Backend:
    """The backend of ``options.executor`` (its source checked first)."""
    check_source(options, source)
    if options.executor == "processes" and source is not None:
        return ProcessBackend(source, options.workers)
    if options.executor == "dask" and source is not None:
        return DaskBackend(source, options.workers, options.dask_address)
    return LocalBackend(workspace)


def run_on(backend: Backend, tasks: Sequence[Task]) -> list[TaskResult]:
    """Run tasks on ``backend``; a batch whose worker died runs again (under new version
    ids), a few times, then its tasks fail (retryably)."""
    pending = list(tasks)
    for lost in range(1, WORKER_LOST_RETRIES + 2):
        try:
            return backend.run(pending)
        except WorkerLost as exc:
            if lost > WORKER_LOST_RETRIES:
                return [task.failed(f"WorkerLost: {exc}") for task in pending]
            note = f"{exc}; running the step again (lost {lost} of {WORKER_LOST_RETRIES})"
            pending = [task.again(note) for task in pending]
    raise AssertionError("unreachable")  # pragma: no cover


def make_drivers(options: RunOptions) -> Executor:
    """The coordinator's threads that drive steps: none for ``inline``."""
    if options.executor == "inline":
        return InlineExecutor()
    return ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="partita-step")


__all__ = [
    "EXECUTORS",
    "Backend",
    "DaskBackend",
    "LocalBackend",
    "ProcessBackend",
    "WorkerLost",
    "check_source",
    "make_backend",
    "make_drivers",
    "run_on",
]
