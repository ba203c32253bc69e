"""The catalog's maintenance queries: what ``partita gc`` and ``partita doctor`` read and mark.

Kept apart from :mod:`partita.storage.catalog.facade`, which serves the hot path of runs: these
queries run once per maintenance command, over the whole catalog. They use the catalog's
transactions and clock through its small accessors, and never add columns or tables:
``collected`` and ``lost`` are values of the versions' status.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select, union, update

from partita.storage.catalog.facade import Catalog
from partita.storage.catalog.fencing import expired, lease_is_free, owner_alive
from partita.storage.catalog.tables import PartitionRow, RunRow, VersionRow
from partita.storage.statuses import RunStatus, VersionStatus

P = PartitionRow.__table__.c
V = VersionRow.__table__.c
R = RunRow.__table__.c

_BATCH = 500  # ids per UPDATE ... IN (...): well under every database's parameter limit


@dataclass(frozen=True, slots=True)
class HeldLease:
    """A partition's lease that some run holds.

    Attributes:
        asset: The asset key.
        partition: The partition key.
        owner: The run that holds it.
        live: Unexpired (by the database's clock), so its holder may be writing.
        orphaned: Its run is no longer running (finished, or its process is gone).
    """

    asset: str
    partition: str
    owner: str
    live: bool
    orphaned: bool


@dataclass(frozen=True, slots=True)
class References:
    """What the catalog says about the store's files, read in one transaction.

    Attributes:
        files: The files of every current committed version, relative to the store root.
        leases: The leases held now.
        assets: Every asset the catalog has a partition or a version of.
        now: The database's clock when this was read.
    """

    files: frozenset[str]
    leases: tuple[HeldLease, ...]
    assets: frozenset[str]
    now: float


class CatalogMaintenance:
    """Whole-catalog reads and repairs, for garbage collection and health checks.

    Args:
        catalog: The catalog to work on.
    """

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def now(self) -> float:
        """The database's clock, in seconds since the epoch."""
        with self._catalog.transaction("reading the clock", read_only=True) as conn:
            return self._catalog.database_now(conn)

    def references(self) -> References:
        """The current versions' files, the held leases and the known assets."""
        current = select(V.files).join(PartitionRow.__table__, P.version_id == V.id)
        held = (
            select(P.asset, P.partition, P.lease_owner, P.lease_expires, R.status)
            .outerjoin(RunRow.__table__, R.id == P.lease_owner)
            .where(P.lease_owner.is_not(None))
        )
        known = union(select(P.asset), select(V.asset))
        with self._catalog.transaction("reading referenced files", read_only=True) as conn:
            now = self._catalog.database_now(conn)
            files = frozenset(
                path for (listed,) in conn.execute(current) for path in json.loads(listed)
            )
            leases = tuple(
                HeldLease(
                    asset,
                    partition,
                    owner,
                    live=not expired(expires, now),
                    orphaned=_orphaned(conn, owner, status),
                )
                for asset, partition, owner, expires, status in conn.execute(held)
            )
            assets = frozenset(asset for (asset,) in conn.execute(known))
        return References(files, leases, assets, now)

    def collect(self, before: float, present: Collection[str]) -> int:
        """Mark superseded versions whose files are all gone as ``collected``.

        Only versions committed before ``before`` count: their files existed before the
        store was listed, so a file missing from ``present`` is really gone.

        Args:
            before: The database's clock before the store was listed.
            present: Every file the store still has, relative to its root.

        Returns:
            How many versions were marked.
        """
        query = select(V.id, V.files).where(
            V.status == VersionStatus.SUPERSEDED, V.created_at < before
        )
        with self._catalog.transaction("marking collected versions") as conn:
            gone = [
                version_id
                for version_id, files in conn.execute(query)
                if not any(path in present for path in json.loads(files))
            ]
            statement = (
                update(VersionRow.__table__)
                .where(
                    V.id.in_(bindparam("w_ids", expanding=True)),
                    V.status == VersionStatus.SUPERSEDED,
                )
                .values(status=VersionStatus.COLLECTED)
            )
            for batch in _batches(gone):
                conn.execute(statement, {"w_ids": batch})
        return len(gone)

    def mark_lost(self, asset: str, partition: str, version_id: str, failure: str) -> bool:
        """Mark a partition's current version lost, so the next run rebuilds it.

        In one transaction, and only while ``version_id`` is still the partition's
        current version and no live writer holds its lease: the partition then has no
        current version and ``failure`` says why; the version's row is kept, ``lost``.

        Returns:
            Whether it was marked (``False``: a writer got there first, or holds it).
        """
        lease = (
            select(P.version_id, P.lease_owner, P.lease_expires)
            .where(P.asset == asset, P.partition == partition)
            .with_for_update()
        )
        with self._catalog.transaction("marking a version lost") as conn:
            row = conn.execute(lease).first()
            if row is None or row.version_id != version_id:
                return False
            now = self._catalog.database_now(conn)
            if not lease_is_free(conn, row.lease_owner, row.lease_expires, None, now):
                return False
            conn.execute(
                update(PartitionRow.__table__)
                .where(P.asset == asset, P.partition == partition, P.version_id == version_id)
                .values(
                    version_id=None,
                    code_version=None,
                    data_version=None,
                    input_hash=None,
                    failure=failure,
                    updated_at=now,
                )
            )
            conn.execute(
                update(VersionRow.__table__)
                .where(V.id == version_id)
                .values(status=VersionStatus.LOST)
            )
        return True


def _orphaned(conn: Connection, owner: str, status: str | None) -> bool:
    if status is None:
        return False  # no such run: nothing says it stopped; the lease will expire
    return status != RunStatus.RUNNING or not owner_alive(conn, owner)


def _batches(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), _BATCH):
        yield ids[start : start + _BATCH]


__all__ = ["CatalogMaintenance", "HeldLease", "References"]
