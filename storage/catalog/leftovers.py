"""What a dead writer left in the catalog: the leases it still holds.

A writer holds a partition's lease from before it writes until the files of the version
it committed are published (see ``Catalog.finish_attempts(hold=True)``). A lease whose
holder is gone (the lease expired, the holder's run is no longer running, or its process
on this host is gone) is abandoned: the partition's folder may hold what the writer left
half done (a staged file of a version it committed but did not publish, a superseded
file it did not retire, a partial write). The recovery that runs before commands
(``partita.core.run.recovery``) finds those partitions here, takes their leases over and
tidies their folders.

Kept apart from :mod:`partita.storage.catalog.facade`, like the maintenance and report
queries: read-only queries in one transaction each, through the catalog's accessors.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from partita.storage.catalog.facade import Catalog
from partita.storage.catalog.tables import PartitionRow, VersionRow

P = PartitionRow.__table__.c
V = VersionRow.__table__.c

_HELD = select(P.asset, P.partition, P.lease_owner, P.lease_expires).where(
    P.lease_owner.is_not(None)
)
_KNOWN_VERSIONS = select(V.id).where(V.id.in_(bindparam("w_ids", expanding=True)))
_BATCH = 500  # ids per query: well under every database's parameter limit


@dataclass(frozen=True, slots=True)
class AbandonedLease:
    """A partition's lease whose holder is gone.

    Attributes:
        asset: The asset key.
        partition: The partition key.
        owner: The holder that left it (a run id, or a process's ``host:pid:random``).
    """

    asset: str
    partition: str
    owner: str


class CatalogLeftovers:
    """Finds the leases dead writers left, and which versions were ever committed.

    Args:
        catalog: The catalog to read.
    """

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def abandoned(self) -> list[AbandonedLease]:
        """Every partition lease held by a holder that is gone, by the database's clock
        and the rule :meth:`Catalog.acquire` takes leases over by."""
        found: list[AbandonedLease] = []
        alive: dict[str, bool] = {}
        with self._catalog.transaction("finding abandoned leases", read_only=True) as conn:
            held = conn.execute(_HELD).all()
            now = self._catalog.database_now(conn) if held else 0.0
            for asset, partition, owner, expires in held:
                if (expires or 0) >= now:
                    if owner not in alive:
                        alive[owner] = self._catalog.owner_alive(conn, owner)
                    if alive[owner]:
                        continue
                found.append(AbandonedLease(asset, partition, owner))
        return found

    def committed(self, version_ids: Collection[str]) -> set[str]:
        """Those of ``version_ids`` that were ever committed (current or not)."""
        ids = sorted(set(version_ids))
        known: set[str] = set()
        if not ids:
            return known
        with self._catalog.transaction("reading version ids", read_only=True) as conn:
            for start in range(0, len(ids), _BATCH):
                batch = ids[start : start + _BATCH]
                known.update(conn.execute(_KNOWN_VERSIONS, {"w_ids": batch}).scalars())
        return known


__all__ = ["AbandonedLease", "CatalogLeftovers"]
