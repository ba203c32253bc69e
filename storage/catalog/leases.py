"""Named leases with fencing tokens: the active daemon, the slots of concurrency pools.

A lease is a row of the ``leases`` table: its holder, a token that only grows, and an
expiry in database time. The rules are those of partition leases
(:mod:`~partita.storage.catalog.fencing`): taking one succeeds when it is free, and
renewing or giving one back passes the fence. A pool of size ``n`` is the leases
``<pool>/0`` .. ``<pool>/<n-1>``: a step takes any free one.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from partita.errors import CatalogError
from partita.storage.catalog.facade import Catalog
from partita.storage.catalog.fencing import expired, fence, lease_is_free
from partita.storage.catalog.tables import LeaseRow

N = LeaseRow.__table__.c
_HELD = (
    select(N.name, N.owner, N.token, N.expires)
    .where(N.name.in_(bindparam("w_names", expanding=True)))
    .with_for_update()
)
_TAKE = update(LeaseRow.__table__).where(N.name == bindparam("w_name"))
_CREATE = insert(LeaseRow.__table__)
_HELD_BY = update(LeaseRow.__table__).where(N.name == bindparam("w_name"), fence(N.owner, N.token))


class Leases:
    """Named leases in a catalog.

    Args:
        catalog: the catalog holding the ``leases`` table.
        seconds: how long a lease lives unless renewed (default: the catalog's).
    """

    def __init__(self, catalog: Catalog, seconds: float | None = None) -> None:
        self._catalog = catalog
        self.seconds = catalog.lease_seconds if seconds is None else seconds

    def acquire(self, name: str, owner: str) -> int | None:
        """Take the lease ``name`` for ``owner``: its new fencing token, or ``None`` while
        another live owner holds it."""
        taken = self.acquire_any([name], owner)
        return None if taken is None else taken[1]

    def acquire_any(self, names: Sequence[str], owner: str) -> tuple[str, int] | None:
        """Take the first free lease among ``names`` (a pool's slots), in one transaction.

        Returns:
            The name taken and its new token, or ``None`` when all are held.
        """
        try:
            with self._catalog.transaction("taking a lease") as conn:
                return self._take_first_free(conn, names, owner)
        except CatalogError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                return None  # another owner created the row first: it holds it
            raise

    def _take_first_free(
        self, conn: Connection, names: Sequence[str], owner: str
    ) -> tuple[str, int] | None:
        now = self._catalog.database_now(conn)
        rows = {row.name: row for row in conn.execute(_HELD, {"w_names": list(names)})}
        expires = now + self.seconds
        for name in names:
            row = rows.get(name)
            if row is None:
                conn.execute(
                    _CREATE,
                    {
                        "name": name,
                        "owner": owner,
                        "token": 1,
                        "expires": expires,
                        "updated_at": now,
                    },
                )
                return name, 1
            if lease_is_free(conn, row.owner, row.expires, owner, now):
                token = row.token + 1
                conn.execute(
                    _TAKE,
                    {
                        "w_name": name,
                        "owner": owner,
                        "token": token,
                        "expires": expires,
                        "updated_at": now,
                    },
                )
                return name, token
        return None

    def renew(self, name: str, owner: str, token: int) -> bool:
        """Extend a lease still held with ``token``; ``False`` if it was lost."""
        with self._catalog.transaction("renewing a lease") as conn:
            now = self._catalog.database_now(conn)
            result = conn.execute(
                _HELD_BY.values(expires=now + self.seconds, updated_at=now),
                {"w_name": name, "w_owner": owner, "w_token": token},
            )
            return result.rowcount == 1

    def release(self, name: str, owner: str, token: int) -> None:
        """Give a lease back (nothing happens if it was lost meanwhile)."""
        with self._catalog.transaction("releasing a lease") as conn:
            conn.execute(
                _HELD_BY.values(owner=None, expires=None),
                {"w_name": name, "w_owner": owner, "w_token": token},
            )

    def holder(self, name: str) -> tuple[str, float] | None:
        """Who holds the lease ``name`` and until when (database time), if anyone does."""
        with self._catalog.transaction("reading a lease", read_only=True) as conn:
            now = self._catalog.database_now(conn)
            row = conn.execute(select(N.owner, N.expires).where(N.name == name)).first()
        if row is None or row.owner is None or expired(row.expires, now):
            return None
        return row.owner, row.expires


def pool_slots(pool: str, size: int) -> list[str]:
    """The lease names of a pool's slots."""
    return [f"{pool}/{i}" for i in range(size)]


__all__ = ["Leases", "pool_slots"]
