"""``partita.Project``: the Python API. The CLI is a thin shell over it."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import time
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from partita.assets import (
    UNPARTITIONED,
    AssetGraph,
    Definitions,
    DynamicKeys,
    DynamicPartitions,
    KeySpace,
    load_definitions,
)
from partita.assets.durations import parse_duration
from partita.core.config import (
    Settings,
    load_settings,
    project_root,
    resolve_catalog,
    resolve_storage,
)
from partita.core.maintenance.doctor import Doctor, DoctorReport
from partita.core.maintenance.gc import DEFAULT_GRACE_S, GarbageCollector, GcResult
from partita.core.plan.explain import AssetStatus, WhyLink, asset_status, chain_nodes, why_chain
from partita.core.plan.planner import Plan, Target, plan
from partita.core.plan.status import StatusResolver
from partita.core.run.materializer import Materializer
from partita.core.run.options import RunOptions
from partita.core.run.outcomes import RunResult
from partita.core.run.pools import check_pools
from partita.core.run.recovery import Recoverer
from partita.core.run.tasks import Source, code_fingerprint
from partita.errors import (
    NotPartitionedError,
    PartitaError,
    PartitionKeyError,
    PartitionRequiredError,
    PlanError,
)
from partita.storage import Catalog, DataStore, LogLine, RunRecord

READ_ATTEMPTS = 3  # a file moved or removed while read: resolve the version again


def utc_now() -> dt.datetime:
    """The default clock."""
    return dt.datetime.now(dt.UTC)


class Project:
    """A partita project: its definitions, catalog and data store.

    Args:
        path: the project directory (default: ``PARTITA_PROJECT`` or the working directory).
        clock: returns the current time; injectable so tests control which partitions are due.
        sleep: how the materializer waits (retry backoff, lease polling).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.root: Path = project_root(path)
        self.settings: Settings = load_settings(self.root)
        self._clock = clock
        self._sleep = sleep

    @cached_property
    def definitions(self) -> Definitions:
        """The assets, schedules and sensors of the definitions module, validated
        (every pool an asset names must be defined in the settings)."""
        definitions = load_definitions(self.settings.definitions, self.root)
        check_pools(definitions.graph, self.settings.pools)
        return definitions

    @property
    def graph(self) -> AssetGraph:
        """The validated asset graph."""
        return self.definitions.graph

    @cached_property
    def catalog(self) -> Catalog:
        """The catalog (opened on first use)."""
        url = resolve_catalog(self.settings, self.root)
        return Catalog(url, lease_seconds=self.settings.lease_seconds)

    @cached_property
    def source(self) -> Source:
        """Where worker processes load this project from (the definitions and the store)."""
        return Source(
            self.settings.definitions,
            str(self.root),
            resolve_storage(self.settings, self.root),
            dict(self.settings.storage_options),
            code_fingerprint(self.graph),
        )

    @cached_property
    def store(self) -> DataStore:
        """The data store (opened on first use)."""
        return DataStore(resolve_storage(self.settings, self.root), self.settings.storage_options)

    def now(self) -> dt.datetime:
        """The project's clock."""
        return self._clock()

    def close(self) -> None:
        """Release the catalog's connections."""
        if "catalog" in self.__dict__:
            self.catalog.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- partitions and targets ---------------------------------------------------------

    def dynamic_keys(self) -> dict[str, tuple[str, ...]]:
        """The keys of every dynamic partitions set the definitions use (from the catalog)."""
        names = self.graph.dynamic_sets()
        return self.catalog.dynamic_keys(names) if names else {}

    def partitions(
        self, asset: str, *, start: str | None = None, end: str | None = None
    ) -> list[str]:
        """The partition keys of ``asset`` that exist now, oldest first (optionally a range)."""
        space = self._space(asset, self.now(), self.dynamic_keys())
        if space is None:
            raise PlanError(f"{asset} is not partitioned: it has one partition and no keys")
        if start is None and end is None:
            return space.keys()
        return space.select(start, end, asset=asset)

    def add_partitions(
        self, asset: str, keys: Sequence[str], *, dimension: str | None = None
    ) -> list[str]:
        """Add keys to the dynamic partitions of ``asset``; returns the keys that were new."""
        _, definition = self._dynamic_dimension(asset, dimension)
        if not keys:
            raise PlanError("name at least one key to add")
        for key in keys:
            definition.check_new_key(key)
        return self.catalog.add_dynamic_keys(definition.name, list(keys))

    def remove_partitions(
        self, asset: str, keys: Sequence[str], *, dimension: str | None = None
    ) -> list[str]:
        """Remove keys from a dynamic set (their state is kept, hidden); returns those removed."""
        _, definition = self._dynamic_dimension(asset, dimension)
        return self.catalog.remove_dynamic_keys(definition.name, list(keys))

    def _dynamic_dimension(
        self, asset: str, dimension: str | None
    ) -> tuple[str, DynamicPartitions]:
        definition = self.graph.get(asset).partitions
        found = [
            (name, d)
            for name, d in (definition.dimensions().items() if definition else ())
            if isinstance(d, DynamicPartitions) and dimension in (None, name)
        ]
        if not found:
            what = definition.describe() if definition else "unpartitioned"
            which = f" named {dimension!r}" if dimension else ""
            raise PlanError(
                f"{asset} has no dynamic partitions{which} (its partitions: {what}); "
                "declare DynamicPartitions(...) to add keys at run time"
            )
        if len(found) > 1:
            names = ", ".join(name for name, _ in found)
            raise PlanError(f"{asset} has several dynamic dimensions ({names}): pick one")
        return found[0]

    def _space(self, asset: str, now: dt.datetime, dynamic: DynamicKeys) -> KeySpace | None:
        definition = self.graph.get(asset).partitions
        return None if definition is None else definition.space(now, dynamic)

    def targets(
        self,
        assets: Sequence[str],
        partition: str | None = None,
        *,
        start: str | None = None,
        end: str | None = None,
    ) -> list[Target]:
        """Turn asset names and a partition (or a ``start``..``end`` range) into targets.

        Raises:
            DefinitionError: an unknown asset or a bad partition key.
            PlanError: a partition missing for a partitioned asset, or given for an
                unpartitioned one.
        """
        return self._targets(assets, partition, start, end, self.now(), self.dynamic_keys())

    def _targets(
        self,
        assets: Sequence[str],
        partition: str | None,
        start: str | None,
        end: str | None,
        now: dt.datetime,
        dynamic: DynamicKeys,
    ) -> list[Target]:
        if not assets:
            raise PlanError("name at least one asset")
        result: list[Target] = []
        for name in assets:
            space = self._space(name, now, dynamic)
            if start is not None or end is not None:
                if space is None:
                    raise PlanError(f"{name} is not partitioned: it has no range to backfill")
                keys = space.select(start, end, asset=name)
            elif space is None:
                if partition is not None:
                    raise NotPartitionedError(name)
                keys = [UNPARTITIONED]
            else:
                if partition is None:
                    example = space.key_at(len(space) - 1) if len(space) else None
                    raise PartitionRequiredError(name, example)
                keys = [space.parse(partition, asset=name)]
            result.append(Target(asset=name, partitions=tuple(keys)))
        return result

    # -- plan and apply ---------------------------------------------------------------

    def plan(
        self,
        assets: Sequence[str],
        partition: str | None = None,
        *,
        start: str | None = None,
        end: str | None = None,
        force: bool = False,
    ) -> Plan:
        """Plan what :meth:`materialize` (or :meth:`backfill`) would build (after
        finishing what dead writers left: see :meth:`recover`)."""
        self.recover()
        now, dynamic = self.now(), self.dynamic_keys()
        targets = self._targets(assets, partition, start, end, now, dynamic)
        closure = self.graph.closure_upstream([t.asset for t in targets])
        states = self.catalog.states(closure)
        return plan(self.graph, states, targets, now, force=force, dynamic=dynamic)

    def apply(self, planned: Plan, options: RunOptions | None = None) -> RunResult:
        """Execute a plan as ``options`` say, within the concurrency limits of ``[pools]``
        and the assets.

        Failure and recovery alerts (``[[alerts]]``) and OpenLineage events
        (``[openlineage]``) are delivered while it runs, from background threads, and
        all of them (with their retries) before this returns.
        """
        options = options or RunOptions()
        materializer = Materializer(
            self.graph,
            self.catalog,
            self.store,
            sleep=self._sleep,
            pools=self.settings.pools,
            source=self.source,
        )
        alerter = None
        if self.settings.alerts:
            from partita.core.observe.alerts import Alerter

            alerter = Alerter(self.settings.alerts, self.root, clock=self.now, sleep=self._sleep)
            options = dataclasses.replace(options, on_step=alerter.wrap(options.on_step))
        emitter = None
        if self.settings.openlineage is not None:
            from partita.core.observe.openlineage import LineageEmitter

            emitter = LineageEmitter(
                self.settings.openlineage,
                self.root,
                self.graph,
                planned,
                clock=self.now,
                sleep=self._sleep,
            )
            options = dataclasses.replace(
                options.starting(emitter.observe), on_step=emitter.wrap(options.on_step)
            )
        try:
            return materializer.run(planned, options)
        finally:
            if alerter is not None:
                alerter.close()
            if emitter is not None:
                emitter.close()

    def materialize(
        self,
        assets: str | Sequence[str],
        partition: str | None = None,
        *,
        force: bool = False,
        options: RunOptions | None = None,
    ) -> RunResult:
        """Build what is missing or stale for ``assets`` at ``partition``, upstream first."""
        names = [assets] if isinstance(assets, str) else list(assets)
        planned = self.plan(names, partition, force=force)
        run = dataclasses.replace(options or RunOptions(), command="materialize")
        return self.apply(planned, run)

    def backfill(
        self,
        assets: str | Sequence[str],
        start: str,
        end: str,
        *,
        force: bool = False,
        options: RunOptions | None = None,
    ) -> RunResult:
        """Build what is missing or stale for every partition from ``start`` to ``end``."""
        names = [assets] if isinstance(assets, str) else list(assets)
        planned = self.plan(names, start=start, end=end, force=force)
        return self.apply(planned, dataclasses.replace(options or RunOptions(), command="backfill"))

    # -- looking --------------------------------------------------------------------------

    def status(
        self,
        assets: Sequence[str] | None = None,
        *,
        start: str | None = None,
        end: str | None = None,
    ) -> list[AssetStatus]:
        """The status of every partition of ``assets`` (default: all), optionally in a range.

        A range applies to the assets with a time dimension; when no assets are named, the
        others are shown whole.
        """
        names = list(assets) if assets else list(self.graph.order)
        for name in names:
            self.graph.get(name)
        with contextlib.suppress(PartitaError):  # reading must not depend on it
            self.recover()
        now, dynamic = self.now(), self.dynamic_keys()
        closure = self.graph.closure_upstream(names)
        resolver = StatusResolver(self.graph, self.catalog.states(closure), now, dynamic)
        reports = []
        for name in (key for key in self.graph.order if key in names):
            space = resolver.space(name)
            outside = 0
            if space is None:
                keys = [UNPARTITIONED]
            elif (start or end) and (space.timed() or assets):
                keys = space.select(start, end, asset=name)
            else:
                keys = resolver.keys(name)
                outside = resolver.outside(name)
            reports.append(asset_status(resolver, name, keys, outside=outside))
        return reports

    def why(self, asset: str, partition: str | None = None) -> list[WhyLink]:
        """The chain of causes that make a partition stale or missing, down to the root."""
        now, dynamic = self.now(), self.dynamic_keys()
        key = self._targets([asset], partition, None, None, now, dynamic)[0].partitions[0]
        closure = self.graph.closure_upstream([asset])
        resolver = StatusResolver(self.graph, self.catalog.states(closure), now, dynamic)
        recorded = {}
        for a, p in chain_nodes(resolver, asset, key):
            recorded.update({(a, k): v for k, v in self.catalog.versions(a, [p]).items()})
        return why_chain(resolver, asset, key, recorded)

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The newest runs."""
        return self.catalog.runs(limit)

    def run(self, run_id: str) -> RunRecord:
        """One run with its steps and attempts (``last`` for the newest)."""
        found = self.catalog.run(run_id)
        if found is None:
            raise PlanError(f"no run {run_id!r} (or the prefix is ambiguous); see `partita runs`")
        return found

    def logs(
        self, run_id: str, asset: str | None = None, partition: str | None = None
    ) -> list[LogLine]:
        """The log lines of a run, optionally of one asset and partition."""
        if asset is not None and partition is not None:
            space = self._space(asset, self.now(), self.dynamic_keys())
            if space is not None:
                with contextlib.suppress(PartitionKeyError):  # a key the definition lost
                    partition = space.parse(partition, asset=asset)
        return self.catalog.logs(self.run(run_id).run_id, asset, partition)

    # -- maintenance ------------------------------------------------------------------

    def recover(self) -> int:
        """Finish what writers that died left in partition folders: publish the versions
        they committed, move superseded files out of sight and remove what they never
        committed (see :mod:`partita.core.run.recovery`). :meth:`status`, :meth:`plan`
        (so every run), :meth:`gc` and :meth:`doctor` do it first; returns how many
        partitions were tidied. One query when there is nothing to do."""
        return Recoverer(self.graph, self.catalog, lambda: self.store).recover()

    def gc(
        self, grace: float | str | dt.timedelta = DEFAULT_GRACE_S, *, dry_run: bool = False
    ) -> GcResult:
        """Remove the files no current committed version references once they are ``grace``
        old (seconds, ``"2h"`` or a timedelta; see :mod:`partita.core.maintenance.gc`); ``dry_run``
        only says what would go."""
        seconds = parse_duration(grace, what="grace period")
        if not dry_run:
            self.recover()
        return self._collector().collect(seconds, dry_run=dry_run)

    def doctor(self, assets: Sequence[str] | None = None, *, fix: bool = False) -> DoctorReport:
        """Check the committed data of ``assets`` (default: all) against the catalog;
        ``fix`` marks the missing and corrupt partitions for rebuild."""
        self.recover()
        doctor = Doctor(self.catalog, self.store, self._collector(), defined=self.graph.order)
        return doctor.examine(list(assets) if assets else None, fix=fix)

    def _collector(self) -> GarbageCollector:
        return GarbageCollector(
            self.catalog, self.store, self.graph, protected=self._catalog_files()
        )

    def _catalog_files(self) -> set[str]:
        """The SQLite catalog's files, relative to the store root if they are inside it."""
        url = resolve_catalog(self.settings, self.root)
        prefix = "sqlite:///"
        if not url.startswith(prefix) or "://" in self.store.url:
            return set()
        catalog = Path(url[len(prefix) :].partition("?")[0]).resolve()
        root = Path(self.store.url).resolve()
        if not catalog.is_relative_to(root):
            return set()
        path = catalog.relative_to(root).as_posix()
        return {path, *(f"{path}{suffix}" for suffix in ("-wal", "-shm", "-journal"))}

    def query(self, sql: str) -> Any:
        """Run SQL over the current committed tables (DuckDB); returns a ``pyarrow.Table``.

        Each asset whose versions are tables is a view named by its key (quote keys with
        ``/``: ``"sales/raw"``); see :mod:`partita.core.observe.query`.

        Raises:
            QueryError: invalid SQL, an unknown table or column, or a failure running it.
        """
        from partita.core.observe.query import run_query

        return run_query(self.catalog, self.store, sql)

    def lineage(self, asset: str, partition: str | None = None, depth: int | None = None) -> Any:
        """The exact upstream versions the current version of a partition was built from,
        recursively (``depth`` levels; ``None``: all): a
        :class:`~partita.core.observe.lineage.Lineage`.

        Raises:
            PlanError: the partition has no committed version.
        """
        from partita.core.observe.lineage import lineage

        key = self.targets([asset], partition)[0].partitions[0]
        return lineage(self.catalog, asset, key, depth=depth)

    def read(self, asset: str, partition: str | None = None) -> Any:
        """The committed data of a partition (a table, dict/list, str or bytes).

        A file that a rebuild moved away while it was read makes it resolve the current
        version again (a few times)."""
        from partita.storage.store.datastore import MissingFile

        key = self.targets([asset], partition)[0].partitions[0]
        for attempt in range(1, READ_ATTEMPTS + 1):
            version = self.catalog.versions(asset, [key]).get(key)
            if version is None:
                where = f" {key}" if key else ""
                raise PlanError(f"{asset}{where} has no committed version; materialize it first")
            try:
                return self.store.read(version.files, version.kind)
            except MissingFile:
                if attempt == READ_ATTEMPTS:  # a writer rebuilding it in a loop, or lost
                    raise
        raise AssertionError("unreachable")  # pragma: no cover
