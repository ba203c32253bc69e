"""Runs, their steps and attempts, and the log lines of attempts, in the catalog.

A run whose process died cannot record it: it stays ``running`` in its row. Reads
report it ``crashed`` (with its unfinished steps) as soon as its process, on this host,
is gone, and write nothing; the next run that starts records it so. How attempts end,
and commit, is :mod:`partita.storage.catalog.commits`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, bindparam, func, insert, select, update

from partita.storage.catalog.engine import Database
from partita.storage.catalog.fencing import HOST, process_alive
from partita.storage.catalog.tables import AttemptRow, LogRow, RunRow, StepRow
from partita.storage.records import AttemptRecord, LogLine, RunRecord, StepRecord
from partita.storage.statuses import (
    UNFINISHED_STEPS,
    AttemptStatus,
    RunStatus,
    StepStatus,
    read_status,
)

R = RunRow.__table__.c
S = StepRow.__table__.c
A = AttemptRow.__table__.c
L = LogRow.__table__.c

UPDATE_STEP = update(StepRow.__table__).where(S.id == bindparam("w_id"))
"""Set a step's values: its id bound as ``w_id``."""
UPDATE_ATTEMPT = update(AttemptRow.__table__).where(A.id == bindparam("w_id"))
"""Set an attempt's values: its id bound as ``w_id``."""
_INSERT_ATTEMPT = insert(AttemptRow.__table__).returning(A.id, sort_by_parameter_order=True)
_RUNNING_HERE = select(R.id, R.pid).where(R.status == RunStatus.RUNNING, R.host == HOST)
_NEWEST_RUNS = select(RunRow.__table__).order_by(R.started_at.desc(), R.id.desc())


def run_crashed(status: str, host: str, pid: int) -> bool:
    """Whether a run recorded with ``status`` by process ``pid`` of ``host`` crashed:
    it is recorded running and its process is known to be gone."""
    return status == RunStatus.RUNNING and not process_alive(host, pid)


def crashed_runs(conn: Connection) -> set[str]:
    """The ids of the runs recorded running whose process is gone (a read)."""
    rows = conn.execute(_RUNNING_HERE)
    return {run_id for run_id, pid in rows if run_crashed(RunStatus.RUNNING, HOST, pid)}


def crashed_counts(counts: Mapping[StepStatus | str, int]) -> dict[StepStatus | str, int]:
    """A crashed run's steps per status, its unfinished ones counted as crashed."""
    shown = {status: n for status, n in counts.items() if status not in UNFINISHED_STEPS}
    lost = sum(n for status, n in counts.items() if status in UNFINISHED_STEPS)
    if lost:
        shown[StepStatus.CRASHED] = shown.get(StepStatus.CRASHED, 0) + lost
    return shown


class RunLog:
    """The record of runs, steps, attempts and log lines.

    Args:
        db: the catalog's database.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- writes -----------------------------------------------------------------------

    def create_run(
        self,
        run_id: str,
        command: str,
        targets: Sequence[str],
        steps: Sequence[tuple[str, str, str]],
        args: Mapping[str, Any] | None = None,
    ) -> dict[tuple[str, str], int]:
        """Record a new run and its planned ``(asset, partition, reason)`` steps (and
        record the runs of this host that crashed as crashed)."""
        with self._db.write("recording a run") as conn:
            _mark_crashed(conn)
            now = self._db.now(conn)
            conn.execute(
                insert(RunRow.__table__).values(
                    id=run_id,
                    command=command,
                    targets=json.dumps(list(targets)),
                    args=json.dumps(dict(args or {}), default=str),
                    status=RunStatus.RUNNING,
                    started_at=now,
                    host=HOST,
                    pid=os.getpid(),
                )
            )
            if steps:
                conn.execute(
                    insert(StepRow.__table__),
                    [
                        {"run_id": run_id, "asset": a, "partition": p, "reason": r}
                        for a, p, r in steps
                    ],
                )
            ids = conn.execute(select(S.asset, S.partition, S.id).where(S.run_id == run_id)).all()
        return {(a, p): i for a, p, i in ids}

    def finish_run(self, run_id: str, status: RunStatus) -> None:
        """Close a run with its final status."""
        with self._db.write("finishing a run") as conn:
            now = self._db.now(conn)
            conn.execute(
                update(RunRow.__table__)
                .where(R.id == run_id)
                .values(status=status, finished_at=now)
            )

    def update_step(self, step_id: int, **values: Any) -> None:
        """Set a step's status, detail, timings or result (``started_at``/``finished_at``
        given as ``True`` take the database time)."""
        with self._db.write("updating a step") as conn:
            now = self._db.now(conn)
            for stamp in ("started_at", "finished_at"):
                if values.get(stamp) is True:
                    values[stamp] = now
            conn.execute(UPDATE_STEP, {"w_id": step_id, **values})

    def start_attempts(self, run_id: str, starts: Sequence[tuple[int, int]]) -> list[int]:
        """Record that attempts ``(step_id, number)`` start, in one transaction; a first
        attempt also marks its step running. Returns the attempts' ids, in order."""
        with self._db.write("recording attempts") as conn:
            now = self._db.now(conn)
            firsts = [step_id for step_id, number in starts if number == 1]
            if firsts:
                conn.execute(
                    update(StepRow.__table__)
                    .where(S.id.in_(firsts))
                    .values(status=StepStatus.RUNNING, started_at=now)
                )
            rows = [
                {"run_id": run_id, "step_id": step_id, "number": number}
                | {"status": AttemptStatus.RUNNING, "started_at": now}
                for step_id, number in starts
            ]
            return [int(i) for i in conn.execute(_INSERT_ATTEMPT, rows).scalars()]

    # -- reads ------------------------------------------------------------------------

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The newest runs with per-status step counts."""
        with self._db.read("listing runs") as conn:
            rows = conn.execute(_NEWEST_RUNS.limit(limit)).mappings().all()
            ids = [row["id"] for row in rows]
            counts: dict[str, dict[StepStatus | str, int]] = {rid: {} for rid in ids}
            for rid, status, n in conn.execute(
                select(S.run_id, S.status, func.count())
                .where(S.run_id.in_(ids))
                .group_by(S.run_id, S.status)
            ).all():
                counts[rid][read_status(StepStatus, status)] = n
        return [_run(row, counts[row["id"]]) for row in rows]

    def run(self, run_id: str) -> RunRecord | None:
        """One run with its steps and their attempts; ``run_id`` may be a unique prefix
        or ``last``."""
        if run_id == "last":
            query = _NEWEST_RUNS.limit(1)
        else:
            query = select(RunRow.__table__).where(R.id.startswith(run_id, autoescape=True))
            query = query.limit(2)
        with self._db.read("reading a run") as conn:
            rows = conn.execute(query).mappings().all()
            if len(rows) != 1:
                return None
            row = rows[0]
            steps = (
                conn.execute(select(StepRow.__table__).where(S.run_id == row["id"]).order_by(S.id))
                .mappings()
                .all()
            )
            attempts: dict[int, list[AttemptRecord]] = {}
            for a in (
                conn.execute(
                    select(AttemptRow.__table__).where(A.run_id == row["id"]).order_by(A.id)
                )
                .mappings()
                .all()
            ):
                attempts.setdefault(a["step_id"], []).append(
                    AttemptRecord(
                        a["number"],
                        read_status(AttemptStatus, a["status"]),
                        a["started_at"],
                        a["finished_at"],
                        a["error"],
                    )
                )
        lost = run_crashed(row["status"], row["host"], row["pid"])
        records = tuple(_step(s, attempts.get(s["id"], ()), crashed=lost) for s in steps)
        counts: dict[StepStatus | str, int] = {}
        for step in records:
            counts[step.status] = counts.get(step.status, 0) + 1
        return _run(row, counts, records)

    def logs(
        self, run_id: str, asset: str | None = None, partition: str | None = None
    ) -> list[LogLine]:
        """The log lines of a run, optionally of one asset and partition."""
        conditions = [L.run_id == run_id]
        if asset is not None:
            conditions.append(L.asset == asset)
        if partition is not None:
            conditions.append(L.partition == partition)
        query = select(LogRow.__table__).where(and_(*conditions)).order_by(L.ts, L.id)
        with self._db.read("reading logs") as conn:
            rows = conn.execute(query).mappings().all()
        return [
            LogLine(
                r["run_id"],
                r["step_id"],
                r["attempt"],
                r["asset"],
                r["partition"],
                r["ts"],
                r["level"],
                r["message"],
            )
            for r in rows
        ]


def _mark_crashed(conn: Connection) -> None:
    """Record the runs of this host that crashed, and their unfinished steps, so."""
    dead = sorted(crashed_runs(conn))
    if dead:
        conn.execute(
            update(RunRow.__table__).where(R.id.in_(dead)).values(status=RunStatus.CRASHED)
        )
        conn.execute(
            update(StepRow.__table__)
            .where(S.run_id.in_(dead), S.status.in_(sorted(UNFINISHED_STEPS)))
            .values(status=StepStatus.CRASHED)
        )


def _step(row: RowMapping, attempts: Sequence[AttemptRecord], crashed: bool) -> StepRecord:
    status = read_status(StepStatus, row["status"])
    return StepRecord(
        step_id=row["id"],
        asset=row["asset"],
        partition=row["partition"],
        reason=row["reason"],
        status=StepStatus.CRASHED if crashed and status in UNFINISHED_STEPS else status,
        detail=row["detail"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        version_id=row["version_id"],
        rows=row["rows"],
        bytes=row["bytes"],
        attempts=tuple(attempts),
    )


def _run(
    row: RowMapping,
    counts: dict[StepStatus | str, int],
    steps: tuple[StepRecord, ...] = (),
) -> RunRecord:
    lost = run_crashed(row["status"], row["host"], row["pid"])
    return RunRecord(
        run_id=row["id"],
        command=row["command"],
        targets=tuple(json.loads(row["targets"])),
        status=RunStatus.CRASHED if lost else read_status(RunStatus, row["status"]),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        counts=crashed_counts(counts) if lost and not steps else counts,
        steps=steps,
    )


__all__ = [
    "UPDATE_ATTEMPT",
    "UPDATE_STEP",
    "RunLog",
    "crashed_counts",
    "crashed_runs",
    "run_crashed",
]
