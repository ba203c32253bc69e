"""Partition leases: one writer per ``(asset, partition)`` at a time.

A partition's lease lives in its ``partitions`` row: the holder, a fencing token that
only grows, and an expiry in database time, extended by heartbeats. Taking one follows
:func:`~partita.storage.catalog.fencing.lease_is_free`; giving one back passes
:func:`~partita.storage.catalog.fencing.fence`, as the commit does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from partita.errors import CatalogError
from partita.storage.catalog.engine import Database
from partita.storage.catalog.fencing import fence, lease_is_free
from partita.storage.catalog.tables import LeaseRow, PartitionRow

P = PartitionRow.__table__.c
N = LeaseRow.__table__.c

ONE_PARTITION = (P.asset == bindparam("w_asset"), P.partition == bindparam("w_partition"))
"""WHERE one partition: bound as ``w_asset`` and ``w_partition``."""
# FOR UPDATE locks the partitions' rows where the database has row locks (SQLite's
# BEGIN IMMEDIATE already serializes writers), so a lease is read and changed
# atomically. Rows are locked in key order, the same in every writer, so that two
# writers locking overlapping batches wait for each other rather than deadlock.
_LOCK_LEASES = (
    select(P.asset, P.partition, P.lease_owner, P.lease_token, P.lease_expires)
    .where(tuple_(P.asset, P.partition).in_(bindparam("w_pairs", expanding=True)))
    .order_by(P.asset, P.partition)
    .with_for_update()
)
_INSERT_PARTITION = insert(PartitionRow.__table__)
_TAKE = update(PartitionRow.__table__).where(*ONE_PARTITION)
RELEASE = update(PartitionRow.__table__).where(*ONE_PARTITION, fence(P.lease_owner, P.lease_token))
"""Give a partition's lease back, if still held: bound as ``w_asset``, ``w_partition``,
``w_owner``, ``w_token``, with ``lease_owner=None, lease_expires=None`` (and the
``failure`` to keep, if any)."""


def released(asset: str, partition: str, owner: str, token: int) -> dict[str, Any]:
    """The parameters of :data:`RELEASE` for one lease."""
    return {
        "w_asset": asset,
        "w_partition": partition,
        "w_owner": owner,
        "w_token": token,
        "lease_owner": None,
        "lease_expires": None,
    }


class PartitionLeases:
    """Take, extend and give back partition leases.

    Args:
        db: the catalog's database.
        seconds: how long a lease lives without a heartbeat.
    """

    def __init__(self, db: Database, seconds: float) -> None:
        self._db = db
        self.seconds = seconds

    def acquire(self, asset: str, partition: str, owner: str) -> int | None:
        """Take one partition's lease: its new fencing token, or ``None`` while another
        live owner holds it."""
        try:
            with self._db.write("taking a lease") as conn:
                return self._take(conn, [(asset, partition)], owner)[0]
        except CatalogError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                return None  # another writer created the partition's row first: it holds it
            raise

    def acquire_many(self, pairs: Sequence[tuple[str, str]], owner: str) -> list[int | None]:
        """Take the leases of several ``(asset, partition)`` in one transaction: a
        fencing token for each, ``None`` where another holds it."""
        try:
            with self._db.write("taking leases") as conn:
                return self._take(conn, pairs, owner)
        except CatalogError as exc:
            if isinstance(exc.__cause__, IntegrityError):  # a row created concurrently
                return [self.acquire(asset, key, owner) for asset, key in pairs]
            raise

    def _take(
        self, conn: Connection, pairs: Sequence[tuple[str, str]], owner: str
    ) -> list[int | None]:
        now = self._db.now(conn)
        expires = now + self.seconds
        locked = conn.execute(_LOCK_LEASES, {"w_pairs": list(pairs)})
        rows = {(r.asset, r.partition): r for r in locked}
        created: list[dict[str, Any]] = []
        taken: list[dict[str, Any]] = []
        tokens: list[int | None] = []
        for asset, key in pairs:
            row = rows.get((asset, key))
            if row is None:
                created.append(
                    {"asset": asset, "partition": key, "lease_owner": owner, "lease_token": 1}
                    | {"lease_expires": expires, "updated_at": now}
                )
                tokens.append(1)
            elif lease_is_free(conn, row.lease_owner, row.lease_expires, owner, now):
                token = row.lease_token + 1
                taken.append(
                    {"w_asset": asset, "w_partition": key, "lease_owner": owner}
                    | {"lease_token": token, "lease_expires": expires}
                )
                tokens.append(token)
            else:
                tokens.append(None)
        if created:
            conn.execute(_INSERT_PARTITION, created)
        if taken:
            conn.execute(_TAKE, taken)
        return tokens

    def heartbeat(self, owner: str) -> None:
        """Extend every lease ``owner`` holds: on partitions, and named ones (the slots
        of concurrency pools a run's steps hold)."""
        with self._db.write("renewing leases") as conn:
            now = self._db.now(conn)
            conn.execute(
                update(PartitionRow.__table__)
                .where(P.lease_owner == owner)
                .values(lease_expires=now + self.seconds)
            )
            conn.execute(
                update(LeaseRow.__table__)
                .where(N.owner == owner)
                .values(expires=now + self.seconds, updated_at=now)
            )

    def release(
        self, asset: str, partition: str, owner: str, token: int, failure: str | None = None
    ) -> None:
        """Give a lease back without committing; record ``failure`` if the step failed."""
        values = released(asset, partition, owner, token)
        if failure is not None:
            values["failure"] = failure
        with self._db.write("releasing a lease") as conn:
            conn.execute(RELEASE, values)

    def release_many(self, owner: str, leases: Sequence[tuple[str, str, int]]) -> None:
        """Give back the leases ``(asset, partition, token)`` of ``owner``, in one
        transaction (those lost meanwhile stay with their new holder)."""
        if leases:
            with self._db.write("releasing leases") as conn:
                conn.execute(RELEASE, [released(*lease[:2], owner, lease[2]) for lease in leases])

    def release_all(self, owner: str) -> None:
        """Give back every lease ``owner`` still holds, named ones included (a run that
        stops early)."""
        with self._db.write("releasing leases") as conn:
            conn.execute(
                update(PartitionRow.__table__)
                .where(P.lease_owner == owner)
                .values(lease_owner=None, lease_expires=None)
            )
            conn.execute(
                update(LeaseRow.__table__).where(N.owner == owner).values(owner=None, expires=None)
            )


__all__ = ["ONE_PARTITION", "RELEASE", "PartitionLeases", "released"]
