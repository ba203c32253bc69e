"""``partita.Project``: the Python API. The CLI is a thin shell over it."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from partita.assets import UNPARTITIONED, AssetGraph, load_graph, parse_day
from partita.core.config import (
    Settings,
    load_settings,
    project_root,
    resolve_catalog,
    resolve_storage,
)
from partita.core.materializer import Materializer, RunResult, StepOutcome
from partita.core.planner import Plan, Target, plan
from partita.core.report import AssetStatus, WhyLink, asset_status, chain_nodes, why_chain
from partita.core.status import StatusResolver
from partita.errors import PlanError
from partita.storage import Catalog, DataStore, LogLine, RunRecord


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
    def graph(self) -> AssetGraph:
        """The validated asset graph."""
        return load_graph(self.settings.definitions, self.root)

    @cached_property
    def catalog(self) -> Catalog:
        """The catalog (opened on first use)."""
        url = resolve_catalog(self.settings, self.root)
        return Catalog(url, lease_seconds=self.settings.lease_seconds)

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

    # -- targets ----------------------------------------------------------------------

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
        if not assets:
            raise PlanError("name at least one asset")
        now = self.now()
        result: list[Target] = []
        for name in assets:
            item = self.graph.get(name)
            definition = item.partitions
            if start is not None or end is not None:
                if definition is None:
                    raise PlanError(f"{name} is not partitioned: it has no date range to backfill")
                keys = self._range(name, start, end, now)
            elif definition is None:
                if partition is not None:
                    raise PlanError(f"{name} is not partitioned: drop --partition")
                keys = [UNPARTITIONED]
            else:
                if partition is None:
                    raise PlanError(f"{name} is partitioned: pass --partition YYYY-MM-DD")
                keys = [definition.parse(partition, now, asset=name)]
            result.append(Target(asset=name, partitions=tuple(keys)))
        return result

    def _range(self, name: str, start: str | None, end: str | None, now: dt.datetime) -> list[str]:
        definition = self.graph.get(name).partitions
        assert definition is not None
        if start is None or end is None:
            raise PlanError("a range needs both --from and --to")
        first, last = parse_day(start), parse_day(end)
        if first > last:
            raise PlanError(f"--from {start} is after --to {end}")
        return definition.keys_between(first.isoformat(), last.isoformat(), now)

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
        """Plan what :meth:`materialize` (or :meth:`backfill`) would build."""
        targets = self.targets(assets, partition, start=start, end=end)
        closure = self.graph.closure_upstream([t.asset for t in targets])
        states = self.catalog.states(closure)
        return plan(self.graph, states, targets, self.now(), force=force)

    def apply(
        self,
        planned: Plan,
        *,
        command: str = "materialize",
        workers: int = 1,
        executor: str = "threads",
        on_step: Callable[[StepOutcome], None] | None = None,
    ) -> RunResult:
        """Execute a plan."""
        materializer = Materializer(self.graph, self.catalog, self.store, sleep=self._sleep)
        return materializer.run(
            planned, command=command, workers=workers, executor=executor, on_step=on_step
        )

    def materialize(
        self,
        assets: str | Sequence[str],
        partition: str | None = None,
        *,
        force: bool = False,
        workers: int = 1,
        executor: str = "threads",
        on_step: Callable[[StepOutcome], None] | None = None,
    ) -> RunResult:
        """Build what is missing or stale for ``assets`` at ``partition``, upstream first."""
        names = [assets] if isinstance(assets, str) else list(assets)
        planned = self.plan(names, partition, force=force)
        return self.apply(planned, workers=workers, executor=executor, on_step=on_step)

    def backfill(
        self,
        assets: str | Sequence[str],
        start: str,
        end: str,
        *,
        force: bool = False,
        workers: int = 1,
        executor: str = "threads",
        on_step: Callable[[StepOutcome], None] | None = None,
    ) -> RunResult:
        """Build what is missing or stale for every partition from ``start`` to ``end``."""
        names = [assets] if isinstance(assets, str) else list(assets)
        planned = self.plan(names, start=start, end=end, force=force)
        return self.apply(
            planned, command="backfill", workers=workers, executor=executor, on_step=on_step
        )

    # -- looking --------------------------------------------------------------------------

    def status(
        self,
        assets: Sequence[str] | None = None,
        *,
        start: str | None = None,
        end: str | None = None,
    ) -> list[AssetStatus]:
        """The status of every partition of ``assets`` (default: all), optionally in a range."""
        names = list(assets) if assets else list(self.graph.order)
        for name in names:
            self.graph.get(name)
        now = self.now()
        closure = self.graph.closure_upstream(names)
        resolver = StatusResolver(self.graph, self.catalog.states(closure), now)
        first = parse_day(start).isoformat() if start else None
        last = parse_day(end).isoformat() if end else None
        reports = []
        for name in (key for key in self.graph.order if key in names):
            definition = self.graph.get(name).partitions
            if definition is None:
                keys = [UNPARTITIONED]
            elif first or last:
                keys = definition.keys_between(
                    first or definition.key_at(0), last or "9999-12-31", now
                )
            else:
                keys = definition.keys(now)
            reports.append(asset_status(resolver, name, keys))
        return reports

    def why(self, asset: str, partition: str | None = None) -> list[WhyLink]:
        """The chain of causes that make a partition stale or missing, down to the root."""
        key = self.targets([asset], partition)[0].partitions[0]
        closure = self.graph.closure_upstream([asset])
        resolver = StatusResolver(self.graph, self.catalog.states(closure), self.now())
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
        return self.catalog.logs(self.run(run_id).run_id, asset, partition)

    def read(self, asset: str, partition: str | None = None) -> Any:
        """The committed data of a partition (a table, dict/list, str or bytes)."""
        key = self.targets([asset], partition)[0].partitions[0]
        version = self.catalog.versions(asset, [key]).get(key)
        if version is None:
            where = f" {key}" if key else ""
            raise PlanError(f"{asset}{where} has no committed version; materialize it first")
        return self.store.read(version.files, version.kind)
