"""What a worker does with a step: read its inputs, call the asset, write a new version.

It runs wherever the executor puts it (the coordinator's own thread, a pooled process, a
Dask worker) and touches storage only, never the catalog: it hands back what it wrote,
and the coordinator, which holds the partition's lease, commits it. A worker process
finds the asset functions by importing the project's definitions module itself
(:class:`Source`), so nothing but plain data is ever pickled.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from partita.assets import AssetGraph, Context
from partita.core.run.logcapture import asset_logger, capture
from partita.errors import SchemaError, StorageError
from partita.storage import DataStore
from partita.storage.store.datastore import WrittenVersion

LogLines = tuple[tuple[float, str, str], ...]


@dataclass(frozen=True, slots=True)
class Source:
    """Where a worker process finds the project: the definitions and the data store.

    Attributes:
        definitions: the definitions module or file, as in partita.toml.
        base_dir: the project directory ``definitions`` is relative to; workers must see
            it at the same path (a shared or identical checkout).
        storage: the data store URL, resolved (an absolute path for local disk).
        storage_options: fsspec options for the store.
        code: a fingerprint of the assets' code versions: a worker that loaded other code
            (a long-lived Dask worker, after the assets changed) loads the module again.
    """

    definitions: str
    base_dir: str
    storage: str
    storage_options: Mapping[str, Any] = field(default_factory=dict)
    code: str = ""

    def key(self) -> str:
        """A stable identity, to keep one loaded project per source in each worker."""
        options = json.dumps(self.storage_options, sort_keys=True, default=str)
        return "\n".join((self.definitions, self.base_dir, self.storage, options, self.code))


@dataclass(frozen=True, slots=True)
class Input:
    """One parameter's upstream data: the files of each upstream partition, in order.

    Attributes:
        param: the asset function's parameter.
        mapping: the partition mapping's kind (how several partitions combine).
        versions: ``(files, kind)`` of each upstream partition's committed version.
    """

    param: str
    mapping: str
    versions: tuple[tuple[tuple[str, ...], str], ...]


@dataclass(frozen=True, slots=True)
class Task:
    """One attempt of one step, as a worker receives it."""

    asset: str
    partition: str
    run_id: str
    attempt: int
    version_id: str
    inputs: tuple[Input, ...]
    notes: tuple[str, ...] = ()

    def again(self, note: str) -> Task:
        """The same attempt for another worker, writing under a new version id."""
        from partita.storage.store.versions import new_version_id

        notes = (*self.notes, note)
        return dataclasses.replace(self, version_id=new_version_id(), notes=notes)

    def failed(self, error: str) -> TaskResult:
        """The result of this task when it could not run: retryable (the next attempt
        may), nothing written (so no code version to check)."""
        logs = ((time.time(), "ERROR", f"attempt {self.attempt} failed: {error}"),)
        return TaskResult(self.asset, self.partition, None, error, True, "", logs)


@dataclass(frozen=True, slots=True)
class TaskResult:
    """What a worker did with a task: the version it wrote, or why it could not.

    Attributes:
        written: the files written (not committed), or ``None`` on failure.
        error: ``"ExceptionType: message"`` on failure.
        retryable: false when retrying cannot help (the output breaks its schema).
        code_version: the asset's code version as the worker loaded it.
        logs: ``(timestamp, level, message)`` records logged during the attempt.
    """

    asset: str
    partition: str
    written: WrittenVersion | None
    error: str | None
    retryable: bool
    code_version: str
    logs: LogLines


class Workspace:
    """An asset graph and a data store: everything a worker needs to run tasks."""

    def __init__(self, graph: AssetGraph, store: DataStore) -> None:
        self.graph = graph
        self.store = store
        self._schemas: dict[str, Any] = {}

    def run_all(self, tasks: Sequence[Task]) -> list[TaskResult]:
        """Run tasks one after the other; one failing does not stop the others.

        Their files are made durable together at the end (one sync for the batch rather
        than two per file); if that fails, none of them counts as written.
        """
        results = [self.run(task, durable=False) for task in tasks]
        files = [path for r in results if r.written is not None for path in r.written.files]
        try:
            self.store.make_durable(files)
        except StorageError as exc:
            with contextlib.suppress(StorageError):
                self.store.discard(files)
            error = f"{type(exc).__name__}: {exc}"
            return [
                r if r.written is None else dataclasses.replace(r, written=None, error=error)
                for r in results
            ]
        return results

    def run(self, task: Task, *, durable: bool = True) -> TaskResult:
        """Run one task, capturing its log records and any error."""
        if task.asset not in self.graph:
            unknown = f"DefinitionError: the worker's definitions have no asset {task.asset!r}"
            return TaskResult(task.asset, task.partition, None, unknown, False, "", ())
        item = self.graph.get(task.asset)
        written: WrittenVersion | None = None
        error: str | None = None
        retryable = True
        with capture() as lines:
            log = asset_logger(task.asset)
            for note in task.notes:
                log.info("%s", note)
            try:
                written = self._attempt(task, durable)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                retryable = not isinstance(exc, SchemaError)
                log.error("attempt %d failed: %s", task.attempt, error)
        return TaskResult(
            task.asset, task.partition, written, error, retryable, item.code_version, tuple(lines)
        )

    def _attempt(self, task: Task, durable: bool) -> WrittenVersion:
        item = self.graph.get(task.asset)
        kwargs: dict[str, Any] = {}
        for given in task.inputs:
            values = [self.store.read(files, kind) for files, kind in given.versions]
            kwargs[given.param] = _combine(given.mapping, values)
        partitions = item.partitions
        if item.context_param:
            kwargs[item.context_param] = Context(
                asset=item.key,
                partition_key=task.partition if partitions else None,
                partition=partitions.window(task.partition) if partitions else None,
                dimensions=partitions.split(task.partition) if partitions else {},
                run_id=task.run_id,
                attempt=task.attempt,
                log=asset_logger(item.key),
            )
        value = item.fn(**kwargs)
        return self.store.write(
            item.key,
            partitions.segments(task.partition) if partitions else "",
            task.version_id,
            value,
            ext=item.format,
            schema=self._schema(item.key),
            durable=durable,
        )

    def _schema(self, key: str) -> Any:
        item = self.graph.get(key)
        if item.output_schema is None:
            return None
        if key not in self._schemas:
            from partita.storage.store.schemas import arrow_schema

            self._schemas[key] = arrow_schema(item.output_schema)
        return self._schemas[key]


def code_fingerprint(graph: AssetGraph) -> str:
    """A fingerprint of every asset's code version (see :attr:`Source.code`)."""
    import hashlib

    versions = sorted((item.key, item.code_version) for item in graph.assets)
    lines = "\n".join(f"{key}={version}" for key, version in versions)
    return hashlib.blake2b(lines.encode(), digest_size=8).hexdigest()


def _combine(kind: str, values: list[Any]) -> Any:
    if kind in ("identity", "last", "previous") and len(values) == 1:
        return values[0]
    from partita.storage.store.formats import concat_values

    return concat_values(values) if values else None


_loaded: dict[str, Workspace] = {}
_loading = threading.Lock()


def workspace(source: Source) -> Workspace:
    """The project of ``source`` as this process loaded it (once per process)."""
    key = source.key()
    with _loading:
        if key not in _loaded:
            from partita.assets.loader import load_definitions

            module = sys.modules.get(source.definitions)
            if module is not None:  # loaded before, for other code: load it afresh
                importlib.reload(module)
            graph = load_definitions(source.definitions, Path(source.base_dir)).graph
            _loaded[key] = Workspace(graph, DataStore(source.storage, source.storage_options))
        return _loaded[key]


def run_tasks(source: Source, tasks: Sequence[Task]) -> list[TaskResult]:
    """The entry point of worker processes: run ``tasks`` of the project ``source``."""
    return workspace(source).run_all(tasks)


def warm_up(source: Source) -> None:
    """Load the project in a worker process before its first task."""
    workspace(source)


__all__ = [
    "Input",
    "Source",
    "code_fingerprint",
    "Task",
    "TaskResult",
    "Workspace",
    "run_tasks",
    "workspace",
]
