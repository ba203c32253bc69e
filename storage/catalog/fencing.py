"""The rules of every lease in the catalog, written once: when a lease is free to take,
and the fence that a holder's writes must pass.

Partition leases (a row of ``partitions``) and named leases (a row of ``leases``: the
active daemon, the slots of pools) follow the same rules:

- **free**: a lease may be taken when nobody holds it, its holder takes it again, it
  has expired (by the database's clock), or its holder is a process of this host that
  is gone. Only processes of this host can be checked; elsewhere expiry decides.
- **fence**: a holder's write (a commit, a release, a renewal) changes a lease's row
  only while the row still names that holder *and* its token. Taking a lease always
  increases the token, so a writer whose lease was taken over (a zombie) changes
  nothing, whatever it believes.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, select

from partita.storage.catalog.tables import RunRow
from partita.storage.statuses import RunStatus

HOST = socket.gethostname()
"""This host's name, as runs record it."""

R = RunRow.__table__.c
_RUN_OF = select(R.host, R.pid, R.status).where(R.id == bindparam("w_owner"))


def fence(owner: ColumnElement[Any], token: ColumnElement[Any]) -> ColumnElement[bool]:
    """The fence, as SQL: the lease's row still names the holder bound as ``w_owner``
    with the token bound as ``w_token``.

    Args:
        owner: the column naming a lease's holder.
        token: the column holding its fencing token.
    """
    return and_(owner == bindparam("w_owner"), token == bindparam("w_token"))


def expired(expires: float | None, now: float) -> bool:
    """Whether a lease that lives until ``expires`` has run out at ``now`` (database time)."""
    return (expires or 0.0) < now


def lease_is_free(
    conn: Connection, holder: str | None, expires: float | None, taker: str | None, now: float
) -> bool:
    """Whether ``taker`` may take a lease held by ``holder`` until ``expires``.

    Args:
        conn: an open transaction, to look the holder's run up.
        holder: who holds the lease, ``None`` if nobody.
        expires: until when (database time).
        taker: who wants it (``None``: someone who only asks whether it is free).
        now: the database's clock.
    """
    if holder is None or holder == taker or expired(expires, now):
        return True
    return not owner_alive(conn, holder)


def owner_alive(conn: Connection, owner: str) -> bool:
    """Whether a lease's holder may still be running.

    A holder is a run (its id names a row of ``runs``, with its host and pid) or a
    daemon (an id ``<host>:<pid>:<random>``). A run that has ended holds nothing alive.
    """
    run = conn.execute(_RUN_OF, {"w_owner": owner}).first()
    if run is None:
        return process_alive(*process_of(owner))
    if run.host != HOST or run.pid == os.getpid():
        return True  # only processes on this host can be checked; leases expire otherwise
    return run.status == RunStatus.RUNNING and pid_alive(run.pid)


def process_alive(host: str | None, pid: int | None) -> bool:
    """Whether the process ``pid`` of ``host`` may still run: ``False`` only for a
    process of this host (not this one) that is gone."""
    return host != HOST or pid is None or pid == os.getpid() or pid_alive(pid)


def process_of(owner: str) -> tuple[str | None, int | None]:
    """The host and pid in an owner id of the form ``<host>:<pid>:<random>``."""
    parts = owner.rsplit(":", 2)
    if len(parts) == 3 and parts[0] and parts[1].isdigit():
        return parts[0], int(parts[1])
    return None, None


def pid_alive(pid: int) -> bool:
    """Whether a process of this host with that pid exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


__all__ = [
    "HOST",
    "expired",
    "fence",
    "lease_is_free",
    "owner_alive",
    "pid_alive",
    "process_alive",
    "process_of",
]
