"""The daemon's records in the catalog: ticks, the cursors of automation sources, and
which partitions are being built right now.

A tick row is written once the sources have decided (with their decisions and notes)
and finished after the runs (with their ids and the tick's status). A source's cursor is
stored only once its requests were handed to a run.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from partita.storage.catalog.facade import Catalog
from partita.storage.catalog.fencing import expired
from partita.storage.catalog.tables import CursorRow, PartitionRow, TickRow
from partita.storage.statuses import TickStatus, read_status

T = TickRow.__table__.c
C = CursorRow.__table__.c
P = PartitionRow.__table__.c


@dataclass(frozen=True, slots=True)
class TickRecord:
    """One tick of the daemon.

    Attributes:
        tick_id: the tick's number.
        daemon: the id of the daemon that ran it (``host:pid:random``).
        clock: the daemon's clock at the tick (seconds since the epoch; injectable).
        started_at: when it was recorded (database time).
        finished_at: when it ended (database time), ``None`` while running.
        status: ``running``, ``succeeded``, ``failed`` or ``interrupted``.
        decisions: per source: ``source``, ``requests`` (``asset``, ``partitions``,
            ``force``), ``notes`` and ``error``.
        run_ids: the runs the tick started.
        error: why the tick failed, if it did.
    """

    tick_id: int
    daemon: str
    clock: float
    started_at: float
    finished_at: float | None
    status: TickStatus | str
    decisions: tuple[dict[str, Any], ...]
    run_ids: tuple[str, ...]
    error: str | None

    def requested(self, source: str | None = None) -> int:
        """How many partitions the tick requested (of one source, if given)."""
        return sum(
            len(request["partitions"])
            for decision in self.decisions
            if source in (None, decision["source"])
            for request in decision.get("requests", ())
        )


def record_tick(
    catalog: Catalog, daemon: str, clock: float, decisions: Sequence[Mapping[str, Any]]
) -> int:
    """Record a tick that is starting, with what its sources decided; returns its id."""
    with catalog.transaction("recording a tick") as conn:
        now = catalog.database_now(conn)
        result = conn.execute(
            insert(TickRow.__table__).values(
                daemon=daemon,
                clock=clock,
                started_at=now,
                status=TickStatus.RUNNING,
                decisions=json.dumps(list(decisions)),
                run_ids="[]",
            )
        )
        key = result.inserted_primary_key
        assert key is not None  # None only for an executemany
        return int(key[0])


def finish_tick(
    catalog: Catalog,
    tick_id: int,
    status: TickStatus,
    run_ids: Sequence[str],
    error: str | None = None,
    decisions: Sequence[Mapping[str, Any]] | None = None,
) -> None:
    """Close a tick with its status and the runs it started."""
    values: dict[str, Any] = {"status": status, "run_ids": json.dumps(list(run_ids))}
    if error is not None:
        values["error"] = error
    if decisions is not None:
        values["decisions"] = json.dumps(list(decisions))
    with catalog.transaction("finishing a tick") as conn:
        values["finished_at"] = catalog.database_now(conn)
        conn.execute(update(TickRow.__table__).where(T.id == tick_id).values(**values))


def ticks(catalog: Catalog, limit: int = 20) -> list[TickRecord]:
    """The newest ticks, newest first."""
    query = select(TickRow.__table__).order_by(T.id.desc()).limit(limit)
    with catalog.transaction("listing ticks", read_only=True) as conn:
        rows = conn.execute(query).mappings().all()
    return [
        TickRecord(
            tick_id=row["id"],
            daemon=row["daemon"],
            clock=row["clock"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            status=read_status(TickStatus, row["status"]),
            decisions=tuple(json.loads(row["decisions"] or "[]")),
            run_ids=tuple(json.loads(row["run_ids"] or "[]")),
            error=row["error"],
        )
        for row in rows
    ]


def cursors(catalog: Catalog, sources: Collection[str]) -> dict[str, str]:
    """The stored cursors of ``sources`` (those that have one)."""
    if not sources:
        return {}
    query = select(C.source, C.cursor).where(C.source.in_(bindparam("w", expanding=True)))
    with catalog.transaction("reading cursors", read_only=True) as conn:
        return {source: cursor for source, cursor in conn.execute(query, {"w": list(sources)})}


def cursor(catalog: Catalog, source: str) -> str | None:
    """The stored cursor of one source, if any."""
    return cursors(catalog, [source]).get(source)


def set_cursors(catalog: Catalog, values: Mapping[str, str]) -> None:
    """Store the cursors of several sources, in one transaction."""
    if not values:
        return
    with catalog.transaction("storing cursors") as conn:
        now = catalog.database_now(conn)
        query = select(C.source).where(C.source.in_(bindparam("w", expanding=True)))
        known = set(conn.execute(query, {"w": list(values)}).scalars())
        for source, text in values.items():
            if source in known:
                conn.execute(
                    update(CursorRow.__table__)
                    .where(C.source == source)
                    .values(cursor=text, updated_at=now)
                )
            else:
                conn.execute(
                    insert(CursorRow.__table__).values(source=source, cursor=text, updated_at=now)
                )


def set_cursor(catalog: Catalog, source: str, text: str) -> None:
    """Store one source's cursor."""
    set_cursors(catalog, {source: text})


def leased_partitions(catalog: Catalog) -> frozenset[tuple[str, str]]:
    """The ``(asset, partition)`` pairs whose lease is held right now (database time)."""
    with catalog.transaction("reading partition leases", read_only=True) as conn:
        now = catalog.database_now(conn)
        rows = conn.execute(
            select(P.asset, P.partition, P.lease_expires).where(P.lease_owner.is_not(None))
        ).all()
    return frozenset((asset, key) for asset, key, expires in rows if not expired(expires, now))


__all__ = [
    "TickRecord",
    "cursor",
    "cursors",
    "finish_tick",
    "leased_partitions",
    "record_tick",
    "set_cursor",
    "set_cursors",
    "ticks",
]
