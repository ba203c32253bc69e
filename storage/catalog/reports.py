"""The catalog's reporting queries: what ``partita query``, lineage and metrics read.

Kept apart from :mod:`partita.storage.catalog.facade`, which serves the hot path of runs: these
are bulk, read-only queries, each in one transaction of the catalog (through its
:meth:`~partita.storage.catalog.facade.Catalog.transaction` accessor), returning frozen records.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, func, select

from partita.storage.catalog.facade import Catalog
from partita.storage.catalog.runs import crashed_counts, crashed_runs, run_crashed
from partita.storage.catalog.tables import (
    PartitionRow,
    RunRow,
    StepRow,
    VersionRow,
    version_record,
)
from partita.storage.records import VersionRecord
from partita.storage.statuses import UNFINISHED_STEPS, RunStatus, StepStatus, read_status

P = PartitionRow.__table__.c
V = VersionRow.__table__.c
R = RunRow.__table__.c
S = StepRow.__table__.c

_TABLE_FILES = (
    select(V.asset, V.partition, V.files)
    .join(PartitionRow.__table__, P.version_id == V.id)
    .where(V.kind == "parquet")
    .order_by(V.asset, V.partition)
)
_VERSIONS_OF = (
    select(VersionRow.__table__, P.version_id.label("current_id"))
    .outerjoin(PartitionRow.__table__, (P.asset == V.asset) & (P.partition == V.partition))
    .where(V.asset == bindparam("w_asset"), V.partition.in_(bindparam("w_keys", expanding=True)))
    .order_by(V.created_at.desc(), V.id.desc())
)


@dataclass(frozen=True, slots=True)
class TableFiles:
    """The parquet files of one asset's current committed versions.

    Attributes:
        asset: The asset key.
        files: Every file, relative to the store root, in partition order.
    """

    asset: str
    files: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PartitionStats:
    """What the current version of a partition holds and how long it took to build.

    Attributes:
        partition: The partition key.
        version_id: The current version.
        rows: Its rows (``None`` for values without rows).
        bytes: Its size in bytes.
        duration: Seconds the step that built it ran, if known.
        built_at: When it was committed (epoch seconds).
        run_id: The run that built it.
    """

    partition: str
    version_id: str
    rows: int | None
    bytes: int
    duration: float | None
    built_at: float
    run_id: str


@dataclass(frozen=True, slots=True)
class RunStats:
    """A run's outcome in numbers.

    Attributes:
        run_id: The run's id.
        command: ``materialize``, ``backfill``...
        status: ``running``, ``succeeded``, ``failed`` or ``interrupted``.
        started_at: When it started (epoch seconds).
        finished_at: When it finished, if it has.
        steps: Its steps per status.
        rows: The rows its steps wrote.
        bytes: The bytes its steps wrote.
    """

    run_id: str
    command: str
    status: RunStatus | str
    started_at: float
    finished_at: float | None
    steps: dict[StepStatus | str, int]
    rows: int
    bytes: int

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish, if finished."""
        return None if self.finished_at is None else self.finished_at - self.started_at


@dataclass(frozen=True, slots=True)
class Totals:
    """Counts and sums over the whole catalog, for the Prometheus metrics.

    Attributes:
        runs: Runs per status.
        steps: Steps per ``(asset, status)``.
        durations: Per asset, the durations of its newest finished steps, newest first.
        duration_sums: Per asset, ``(count, sum of seconds)`` over every finished step.
        rows: Per asset, the rows of its current versions.
        bytes: Per asset, the bytes of its current versions.
    """

    runs: dict[RunStatus | str, int]
    steps: dict[tuple[str, StepStatus | str], int]
    durations: dict[str, list[float]]
    duration_sums: dict[str, tuple[int, float]]
    rows: dict[str, int]
    bytes: dict[str, int]


class CatalogReports:
    """Bulk reads over the catalog for queries, lineage and metrics.

    Args:
        catalog: The catalog to read.
    """

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def table_files(self) -> list[TableFiles]:
        """The files of every asset's current parquet versions, read in one query."""
        found: dict[str, list[str]] = {}
        with self._catalog.transaction("reading the current tables", read_only=True) as conn:
            for asset, _, files in conn.execute(_TABLE_FILES):
                found.setdefault(asset, []).extend(json.loads(files))
        return [TableFiles(asset, tuple(files)) for asset, files in found.items()]

    def versions_of(self, asset: str, partitions: Collection[str]) -> list[VersionRecord]:
        """Every version ever committed of some partitions of ``asset``, newest first
        (each says whether it is its partition's current version)."""
        parameters = {"w_asset": asset, "w_keys": list(partitions)}
        with self._catalog.transaction("reading versions", read_only=True) as conn:
            rows = conn.execute(_VERSIONS_OF, parameters).mappings().all()
        return [version_record(row, current=row["current_id"] == row["id"]) for row in rows]

    def partition_stats(
        self, asset: str, limit: int | None, partitions: Collection[str] | None = None
    ) -> list[PartitionStats]:
        """The current versions of ``asset``'s newest ``limit`` partitions (by key, newest
        first; ``None``: all) — or of just ``partitions`` — with the duration of the step
        that built each."""
        query = (
            select(
                P.partition,
                V.id,
                V.rows,
                V.bytes,
                V.created_at,
                V.run_id,
                S.started_at,
                S.finished_at,
            )
            .join(VersionRow.__table__, P.version_id == V.id)
            .outerjoin(StepRow.__table__, S.id == V.step_id)
            .where(P.asset == asset)
            .order_by(P.partition.desc())
            .limit(limit)
        )
        if partitions is not None:
            query = query.where(P.partition.in_(list(partitions)))
        with self._catalog.transaction("reading partition metrics", read_only=True) as conn:
            rows = conn.execute(query).all()
        return [
            PartitionStats(
                partition=partition,
                version_id=version_id,
                rows=rows_,
                bytes=bytes_,
                duration=None if started is None or finished is None else finished - started,
                built_at=created_at,
                run_id=run_id,
            )
            for partition, version_id, rows_, bytes_, created_at, run_id, started, finished in rows
        ]

    def run_stats(self, limit: int) -> list[RunStats]:
        """The newest ``limit`` runs, with their steps per status and what they wrote (a
        run whose process is gone shows as ``crashed``)."""
        with self._catalog.transaction("reading run metrics", read_only=True) as conn:
            runs = conn.execute(
                select(R.id, R.command, R.status, R.started_at, R.finished_at, R.host, R.pid)
                .order_by(R.started_at.desc(), R.id.desc())
                .limit(limit)
            ).all()
            counts: dict[str, dict[StepStatus | str, int]] = {}
            written: dict[str, tuple[int, int]] = {}
            for run_id, status, n, rows, size in conn.execute(
                select(S.run_id, S.status, func.count(), func.sum(S.rows), func.sum(S.bytes))
                .where(S.run_id.in_([run[0] for run in runs]))
                .group_by(S.run_id, S.status)
            ):
                counts.setdefault(run_id, {})[read_status(StepStatus, status)] = n
                before = written.get(run_id, (0, 0))
                written[run_id] = (before[0] + int(rows or 0), before[1] + int(size or 0))
        stats = []
        for run_id, command, status, started, finished, host, pid in runs:
            steps = counts.get(run_id, {})
            shown = read_status(RunStatus, status)
            if run_crashed(status, host, pid):
                shown, steps = RunStatus.CRASHED, crashed_counts(steps)
            rows, size = written.get(run_id, (0, 0))
            stats.append(
                RunStats(run_id, command, shown, started, finished, steps, rows=rows, bytes=size)
            )
        return stats

    def totals(self, recent: int) -> Totals:
        """Counts of runs and steps, step durations (the ``recent`` newest finished steps
        of each asset, and count and sum over all), rows and bytes of current versions."""
        duration = S.finished_at - S.started_at
        finished = S.started_at.is_not(None) & S.finished_at.is_not(None)
        ranked = (
            select(
                S.asset,
                duration.label("seconds"),
                func.row_number()
                .over(partition_by=S.asset, order_by=(S.finished_at.desc(), S.id.desc()))
                .label("n"),
            )
            .where(finished)
            .subquery()
        )
        with self._catalog.transaction("reading metrics", read_only=True) as conn:
            runs: dict[RunStatus | str, int] = {
                read_status(RunStatus, status): n
                for status, n in conn.execute(select(R.status, func.count()).group_by(R.status))
            }
            steps = {
                (asset, read_status(StepStatus, status)): n
                for asset, status, n in conn.execute(
                    select(S.asset, S.status, func.count()).group_by(S.asset, S.status)
                )
            }
            _count_crashed(conn, runs, steps)
            durations: dict[str, list[float]] = {}
            for asset, seconds, _ in conn.execute(
                select(ranked).where(ranked.c.n <= recent).order_by(ranked.c.asset, ranked.c.n)
            ):
                durations.setdefault(asset, []).append(float(seconds))
            sums = {
                asset: (n, float(total or 0.0))
                for asset, n, total in conn.execute(
                    select(S.asset, func.count(), func.sum(duration))
                    .where(finished)
                    .group_by(S.asset)
                )
            }
            sizes = conn.execute(
                select(V.asset, func.sum(V.rows), func.sum(V.bytes))
                .join(PartitionRow.__table__, P.version_id == V.id)
                .group_by(V.asset)
            ).all()
        return Totals(
            runs=runs,
            steps=steps,
            durations=durations,
            duration_sums=sums,
            rows={asset: int(rows or 0) for asset, rows, _ in sizes},
            bytes={asset: int(size or 0) for asset, _, size in sizes},
        )


def _count_crashed(
    conn: Connection,
    runs: dict[RunStatus | str, int],
    steps: dict[tuple[str, StepStatus | str], int],
) -> None:
    """Count the runs whose process is gone, and their unfinished steps, as crashed."""
    dead = sorted(crashed_runs(conn))
    if not dead:
        return
    running, crashed = RunStatus.RUNNING, RunStatus.CRASHED
    runs[running] -= len(dead)
    runs[crashed] = runs.get(crashed, 0) + len(dead)
    if not runs[running]:
        del runs[running]
    unfinished = (
        select(S.asset, S.status, func.count())
        .where(S.run_id.in_(dead), S.status.in_(sorted(UNFINISHED_STEPS)))
        .group_by(S.asset, S.status)
    )
    for asset, status, n in conn.execute(unfinished):
        step = (asset, read_status(StepStatus, status))
        steps[step] -= n
        if not steps[step]:
            del steps[step]
        steps[(asset, StepStatus.CRASHED)] = steps.get((asset, StepStatus.CRASHED), 0) + n


__all__ = [
    "CatalogReports",
    "PartitionStats",
    "RunStats",
    "TableFiles",
    "Totals",
]
