"""The catalog: one facade over its parts, each in its own module.

- ``engine``: the database, its transactions and clock (``schema`` and ``migrations``
  bring it to the expected schema when it is opened).
- ``states``: partition states, current versions, the keys of dynamic partitions.
- ``fencing``: the rules of every lease: when one is free, the fence a holder's
  writes pass, whether a holder is alive.
- ``partition_leases``: taking, extending and giving back partition leases.
- ``commits``: how attempts end, committing their versions behind the fence.
- ``runs``: runs, steps, attempts and log lines.
- ``leases`` (named leases: the daemon, pool slots), ``ticks`` (the daemon's ticks
  and cursors), ``reports`` (query, lineage, metrics) and ``maintenance`` (gc,
  doctor) work over this facade's transactions.

Writes go through short transactions (``BEGIN IMMEDIATE`` on SQLite); reads never
write. Status reads are bulk: one query returns the state of every partition of the
assets asked for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from partita.errors import LeaseLostError
from partita.storage.catalog import fencing
from partita.storage.catalog.commits import Commits
from partita.storage.catalog.engine import Database
from partita.storage.catalog.partition_leases import PartitionLeases
from partita.storage.catalog.runs import RunLog
from partita.storage.catalog.schema import ensure_schema
from partita.storage.catalog.states import DynamicKeys, States
from partita.storage.records import (
    AttemptEnd,
    LogLine,
    PartitionStates,
    RunRecord,
    VersionRecord,
)
from partita.storage.redaction import redact_url
from partita.storage.statuses import RunStatus

if TYPE_CHECKING:
    from partita.storage.catalog.leases import Leases
    from partita.storage.catalog.maintenance import CatalogMaintenance
    from partita.storage.catalog.reports import CatalogReports


class Catalog:
    """The record of what exists, how it was built, and who is writing it.

    Args:
        url: a SQLAlchemy URL (``sqlite:///.partita/catalog.db``).
        lease_seconds: how long a lease lives without a heartbeat.
    """

    def __init__(self, url: str, *, lease_seconds: float = 30.0) -> None:
        self._url = url
        self._db = Database(url)
        self._engine = self._db.engine
        try:
            ensure_schema(self._engine, url)
        except BaseException:
            self._db.dispose()  # a refused catalog keeps no connection open
            raise
        self._states = States(self._db)
        self._dynamic = DynamicKeys(self._db)
        self._leases = PartitionLeases(self._db, lease_seconds)
        self._commits = Commits(self._db)
        self._runs = RunLog(self._db)

    @property
    def url(self) -> str:
        """The catalog URL with any password redacted."""
        return redact_url(self._url)

    @property
    def lease_seconds(self) -> float:
        """How long a lease lives without a heartbeat."""
        return self._leases.seconds

    def close(self) -> None:
        """Release the catalog's connections."""
        self._db.dispose()

    # -- the other parts, over this facade's transactions ------------------------------

    @property
    def reports(self) -> CatalogReports:
        """Bulk reads for queries, lineage and metrics."""
        from partita.storage.catalog.reports import CatalogReports

        return CatalogReports(self)

    @property
    def maintenance(self) -> CatalogMaintenance:
        """Whole-catalog reads and repairs, for garbage collection and health checks."""
        from partita.storage.catalog.maintenance import CatalogMaintenance

        return CatalogMaintenance(self)

    @property
    def named_leases(self) -> Leases:
        """Named leases (the active daemon, the slots of pools), living as long as
        partition leases."""
        from partita.storage.catalog.leases import Leases

        return Leases(self)

    def transaction(
        self, what: str, *, read_only: bool = False
    ) -> contextlib.AbstractContextManager[Connection]:
        """One catalog transaction, its errors translated into ``CatalogError``."""
        return self._db.transaction(what, read_only=read_only)

    def database_now(self, conn: Connection) -> float:
        """The database's clock, in seconds since the epoch: lease times use it."""
        return self._db.now(conn)

    def owner_alive(self, conn: Connection, owner: str) -> bool:
        """Whether a lease holder's run may still be running (see :meth:`acquire`)."""
        return fencing.owner_alive(conn, owner)

    # -- partition states -------------------------------------------------------------

    def states(self, assets: Collection[str]) -> dict[str, PartitionStates]:
        """The state of every recorded partition of ``assets``, in one query."""
        return self._states.states(assets)

    def states_of(self, wanted: Mapping[str, Collection[str]]) -> dict[str, PartitionStates]:
        """The state of some partitions of some assets, in one query."""
        return self._states.states_of(wanted)

    def versions(self, asset: str, partitions: Collection[str]) -> dict[str, VersionRecord]:
        """The current committed versions of some partitions of one asset."""
        return self._states.versions(asset, partitions)

    # -- dynamic partitions -----------------------------------------------------------

    def dynamic_keys(self, names: Collection[str]) -> dict[str, tuple[str, ...]]:
        """The keys of some dynamic partitions definitions, in the order they were added.

        Args:
            names: the definitions' names; a name without keys maps to ``()``.

        Returns:
            Each name's keys, read in one query.
        """
        return self._dynamic.keys(names)

    def add_dynamic_keys(self, name: str, keys: Sequence[str]) -> list[str]:
        """Add keys to a dynamic partitions definition, after the ones it has.

        Keys it already has are left where they are, so adding is idempotent.

        Args:
            name: the definition's name.
            keys: the keys to add, in the order to add them.

        Returns:
            The keys that were not there yet, in the order given.
        """
        return self._dynamic.add(name, keys)

    def remove_dynamic_keys(self, name: str, keys: Sequence[str]) -> list[str]:
        """Remove keys from a dynamic partitions definition.

        The partitions' state and versions stay: adding a key back shows them again.

        Args:
            name: the definition's name.
            keys: the keys to remove.

        Returns:
            The keys that were there, in the order given.
        """
        return self._dynamic.remove(name, keys)

    # -- partition leases -------------------------------------------------------------

    def acquire(self, asset: str, partition: str, owner: str) -> int | None:
        """Take the lease on a partition, returning its new fencing token.

        Returns ``None`` while another live owner holds it. An expired lease, or one
        whose owner process on this host is gone, is taken over.
        """
        return self._leases.acquire(asset, partition, owner)

    def acquire_many(self, pairs: Sequence[tuple[str, str]], owner: str) -> list[int | None]:
        """Take the leases of several ``(asset, partition)`` at once, in one transaction
        (see :meth:`acquire`): a fencing token for each, ``None`` where another holds it."""
        return self._leases.acquire_many(pairs, owner)

    def heartbeat(self, owner: str) -> None:
        """Extend every lease ``owner`` holds: on partitions, and named ones (the slots
        of concurrency pools a run's steps hold)."""
        self._leases.heartbeat(owner)

    def release(
        self, asset: str, partition: str, owner: str, token: int, failure: str | None = None
    ) -> None:
        """Give a lease back without committing; record ``failure`` if the step failed."""
        self._leases.release(asset, partition, owner, token, failure)

    def release_many(self, owner: str, leases: Sequence[tuple[str, str, int]]) -> None:
        """Give back the leases ``(asset, partition, token)`` of ``owner``, in one
        transaction (those lost meanwhile stay with their new holder)."""
        self._leases.release_many(owner, leases)

    def release_all(self, owner: str) -> None:
        """Give back every lease ``owner`` still holds, named ones included (a run that
        stops early)."""
        self._leases.release_all(owner)

    # -- commits ----------------------------------------------------------------------

    def finish_attempts(
        self, owner: str, ends: Sequence[AttemptEnd], *, hold: bool = False
    ) -> list[str | LeaseLostError | None]:
        """Record how attempts ended, in one transaction, each partition on its own.

        For each: commit its version, only while ``owner`` still holds the partition's
        lease with the end's fencing token; close the attempt with its log lines; and
        when the step ends with it, record the step's result and give the lease back
        (keeping the error as the partition's failure). With ``hold``, the lease of a
        committed version stays with its writer, who publishes the version's files, then
        gives it back with :meth:`release_many`: a writer that dies in between leaves its
        lease behind.

        Returns:
            For each end: the failure its commit cleared, ``None``, or the
            ``LeaseLostError`` of a version that could not be committed (its attempt and
            step are then recorded failed, and nothing of it was committed).
        """
        return self._commits.finish_attempts(owner, ends, hold=hold)

    def skip_steps(
        self, owner: str, skipped: Sequence[tuple[int, str, str, int]], detail: str
    ) -> None:
        """Record steps ``(step_id, asset, partition, token)`` as skipped for ``detail``
        and give their leases back, in one transaction."""
        self._commits.skip_steps(owner, skipped, detail)

    # -- runs, steps, attempts, logs --------------------------------------------------

    def create_run(
        self,
        run_id: str,
        command: str,
        targets: Sequence[str],
        steps: Sequence[tuple[str, str, str]],
        args: Mapping[str, Any] | None = None,
    ) -> dict[tuple[str, str], int]:
        """Record a new run and its planned ``(asset, partition, reason)`` steps."""
        return self._runs.create_run(run_id, command, targets, steps, args)

    def finish_run(self, run_id: str, status: RunStatus) -> None:
        """Close a run with its final status."""
        self._runs.finish_run(run_id, status)

    def update_step(self, step_id: int, **values: Any) -> None:
        """Set a step's status, detail, timings or result (``started_at``/``finished_at``
        given as ``True`` take the database time)."""
        self._runs.update_step(step_id, **values)

    def start_attempts(self, run_id: str, starts: Sequence[tuple[int, int]]) -> list[int]:
        """Record that attempts ``(step_id, number)`` start, in one transaction; a first
        attempt also marks its step running. Returns the attempts' ids, in order."""
        return self._runs.start_attempts(run_id, starts)

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The newest runs with per-status step counts (a run whose process is gone
        shows as ``crashed``)."""
        return self._runs.runs(limit)

    def run(self, run_id: str) -> RunRecord | None:
        """One run with its steps and their attempts; ``run_id`` may be a unique prefix
        or ``last``."""
        return self._runs.run(run_id)

    def logs(
        self, run_id: str, asset: str | None = None, partition: str | None = None
    ) -> list[LogLine]:
        """The log lines of a run, optionally of one asset and partition."""
        return self._runs.logs(run_id, asset, partition)


__all__ = ["Catalog"]
