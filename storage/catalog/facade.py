"""The catalog: runs, steps, attempts, partition state, versions, leases, log lines
and the keys of dynamic partitions.

Writes go through short transactions (``BEGIN IMMEDIATE`` on SQLite). Status reads are
bulk: one query returns the state of every partition of the assets asked for.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from partita.errors import CatalogError, LeaseLostError
from partita.storage.catalog.engine import make_engine, now_sql, redact_url, translate_errors
from partita.storage.catalog.schema import ensure_schema
from partita.storage.catalog.tables import (
    AttemptRow,
    DynamicPartitionRow,
    LeaseRow,
    LogRow,
    PartitionRow,
    RunRow,
    StepRow,
    VersionRow,
)
from partita.storage.records import (
    AttemptEnd,
    AttemptRecord,
    LogLine,
    NewVersion,
    PartitionStates,
    RunRecord,
    StepRecord,
    VersionRecord,
)

P = PartitionRow.__table__.c
V = VersionRow.__table__.c
R = RunRow.__table__.c
S = StepRow.__table__.c
A = AttemptRow.__table__.c
L = LogRow.__table__.c
D = DynamicPartitionRow.__table__.c
N = LeaseRow.__table__.c

# The statements every step runs, built once: building a statement and its cache key
# costs more than SQLite takes to run it. Values come with the execution parameters,
# which also name the columns an UPDATE sets (or an INSERT fills); the parameters of
# WHERE clauses are named w_* so they never clash with a column.
_ONE_PARTITION = (P.asset == bindparam("w_asset"), P.partition == bindparam("w_partition"))
_STATES = select(
    P.asset, P.partition, P.version_id, P.code_version, P.data_version, P.input_hash, P.failure
)
# Ordered by asset (the primary key's index on SQLite, so no sort), to be split in groups.
_STATES_OF_ASSETS = _STATES.where(P.asset.in_(bindparam("w_assets", expanding=True))).order_by(
    P.asset
)
_STATES_OF_PARTITIONS = _STATES.where(
    tuple_(P.asset, P.partition).in_(bindparam("w_pairs", expanding=True))
).order_by(P.asset)
# FOR UPDATE locks the partition's row where the database has row locks (SQLite's
# BEGIN IMMEDIATE already serializes writers), so a lease is read and changed atomically.
_LEASE = (
    select(P.lease_owner, P.lease_token, P.lease_expires).where(*_ONE_PARTITION).with_for_update()
)
_LEASE_AND_VERSION = (
    select(P.lease_owner, P.lease_token, P.version_id, P.failure)
    .where(*_ONE_PARTITION)
    .with_for_update()
)
# Rows are locked in key order, the same in every writer, so that two writers locking
# overlapping batches wait for each other rather than deadlock.
_LEASES_OF = (
    select(
        P.asset, P.partition, P.lease_owner, P.lease_token, P.lease_expires, P.version_id, P.failure
    )
    .where(tuple_(P.asset, P.partition).in_(bindparam("w_pairs", expanding=True)))
    .order_by(P.asset, P.partition)
)
_INSERT_PARTITION = insert(PartitionRow.__table__)
_UPDATE_PARTITION = update(PartitionRow.__table__).where(*_ONE_PARTITION)
_RELEASE = update(PartitionRow.__table__).where(
    *_ONE_PARTITION, P.lease_owner == bindparam("w_owner"), P.lease_token == bindparam("w_token")
)
_INSERT_VERSION = insert(VersionRow.__table__)
_UPDATE_VERSION = update(VersionRow.__table__).where(V.id == bindparam("w_id"))
_CURRENT_VERSIONS = (
    select(VersionRow.__table__)
    .join(PartitionRow.__table__, P.version_id == V.id)
    .where(P.asset == bindparam("w_asset"), P.partition.in_(bindparam("w_keys", expanding=True)))
)
_UPDATE_STEP = update(StepRow.__table__).where(S.id == bindparam("w_id"))
_INSERT_ATTEMPT = insert(AttemptRow.__table__)
_UPDATE_ATTEMPT = update(AttemptRow.__table__).where(A.id == bindparam("w_id"))
_INSERT_LOGS = insert(LogRow.__table__)
_DYNAMIC_KEYS = (
    select(D.name, D.key)
    .where(D.name.in_(bindparam("w_names", expanding=True)))
    .order_by(D.name, D.seq)
)
_DYNAMIC_SEQS = select(D.key, D.seq).where(D.name == bindparam("w_name"))
_INSERT_DYNAMIC = insert(DynamicPartitionRow.__table__)
_DELETE_DYNAMIC = delete(DynamicPartitionRow.__table__).where(
    D.name == bindparam("w_name"), D.key == bindparam("w_key")
)
# Where writers are not serialized (PostgreSQL), two that add to one name at once can
# collide on a key or a seq; the loser reads again and retries, this many times.
_DYNAMIC_RETRIES = 3

_HOST = socket.gethostname()


def _process_of(owner: str) -> tuple[str | None, int | None]:
    """The host and pid in an owner id of the form ``<host>:<pid>:<random>``."""
    parts = owner.rsplit(":", 2)
    if len(parts) == 3 and parts[0] and parts[1].isdigit():
        return parts[0], int(parts[1])
    return None, None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Catalog:
    """The record of what exists, how it was built, and who is writing it.

    Args:
        url: a SQLAlchemy URL (``sqlite:///.partita/catalog.db``).
        lease_seconds: how long a lease lives without a heartbeat.
    """

    def __init__(self, url: str, *, lease_seconds: float = 30.0) -> None:
        self._url = url
        self.lease_seconds = lease_seconds
        self._engine = make_engine(url)
        self._read_engine = self._engine.execution_options(partita_read_only=True)
        self._now_sql = now_sql(self._engine)
        try:
            ensure_schema(self._engine, url)
        except BaseException:
            self._engine.dispose()  # a refused catalog keeps no connection open
            raise

    @property
    def url(self) -> str:
        """The catalog URL with any password redacted."""
        return redact_url(self._url)

    def close(self) -> None:
        """Release the catalog's connections."""
        self._engine.dispose()

    @contextlib.contextmanager
    def _write(self, what: str, *, read_only: bool = False) -> Iterator[Connection]:
        with translate_errors(what, self._url):
            engine = self._read_engine if read_only else self._engine
            with engine.begin() as conn:
                yield conn

    def _read(self, what: str) -> contextlib.AbstractContextManager[Connection]:
        return self._write(what, read_only=True)

    # -- for the maintenance queries (storage/catalog/maintenance.py) ---------------------------

    def transaction(
        self, what: str, *, read_only: bool = False
    ) -> contextlib.AbstractContextManager[Connection]:
        """One catalog transaction, its errors translated into ``CatalogError``."""
        return self._write(what, read_only=read_only)

    def database_now(self, conn: Connection) -> float:
        """The database's clock, in seconds since the epoch: lease times use it."""
        return self._db_now(conn)

    def owner_alive(self, conn: Connection, owner: str) -> bool:
        """Whether a lease holder's run may still be running (see :meth:`acquire`)."""
        return self._owner_alive(conn, owner)

    def _db_now(self, conn: Connection) -> float:
        return float(conn.exec_driver_sql(self._now_sql).scalar_one())

    # -- partition state --------------------------------------------------------------

    def states(self, assets: Collection[str]) -> dict[str, PartitionStates]:
        """The state of every recorded partition of ``assets``, in one query."""
        return self._states(assets, _STATES_OF_ASSETS, {"w_assets": list(assets)})

    def states_of(self, wanted: Mapping[str, Collection[str]]) -> dict[str, PartitionStates]:
        """The state of some partitions of some assets, in one query."""
        pairs = [(asset, key) for asset, keys in wanted.items() for key in keys]
        if not pairs:
            return {key: PartitionStates() for key in wanted}
        return self._states(wanted, _STATES_OF_PARTITIONS, {"w_pairs": pairs})

    def _states(
        self, assets: Collection[str], query: Any, parameters: dict[str, Any]
    ) -> dict[str, PartitionStates]:
        result = {key: PartitionStates() for key in assets}
        partition_of = itemgetter(1)
        with self._read("reading partition states") as conn:
            cursor = conn.execute(query, parameters)
            # Plain strings need no result processing: take the driver's rows as they are
            # (SQLAlchemy's Row objects cost more than the query over many rows), and keep
            # them so (PartitionStates makes a record when one is looked up). The cyclic
            # garbage collector stays on: it untracks the tuples of strings as they come,
            # which costs less than one pass over all of them afterwards.
            rows = cursor.cursor.fetchall()
            cursor.close()
        for asset, group in groupby(rows, itemgetter(0)):
            found = list(group)
            result[asset].rows.update(zip(map(partition_of, found), found, strict=True))
        return result

    def versions(self, asset: str, partitions: Collection[str]) -> dict[str, VersionRecord]:
        """The current committed versions of some partitions of one asset."""
        parameters = {"w_asset": asset, "w_keys": list(partitions)}
        with self._read("reading versions") as conn:
            rows = conn.execute(_CURRENT_VERSIONS, parameters).mappings().all()
        return {row["partition"]: _version(row) for row in rows}

    def version_history(self, asset: str, partition: str) -> list[VersionRecord]:
        """Every version of one partition ever committed, newest first."""
        query = (
            select(VersionRow.__table__)
            .where(V.asset == asset, V.partition == partition)
            .order_by(V.created_at.desc())
        )
        with self._read("reading version history") as conn:
            return [_version(row) for row in conn.execute(query).mappings().all()]

    # -- dynamic partitions -----------------------------------------------------------

    def dynamic_keys(self, names: Collection[str]) -> dict[str, tuple[str, ...]]:
        """The keys of some dynamic partitions definitions, in the order they were added.

        Args:
            names: the definitions' names; a name without keys maps to ``()``.

        Returns:
            Each name's keys, read in one query.
        """
        found: dict[str, list[str]] = {name: [] for name in names}
        if not found:
            return {}
        with self._read("reading dynamic partitions") as conn:
            rows = conn.execute(_DYNAMIC_KEYS, {"w_names": list(found)}).all()
        for name, key in rows:
            found[name].append(key)
        return {name: tuple(keys) for name, keys in found.items()}

    def add_dynamic_keys(self, name: str, keys: Sequence[str]) -> list[str]:
        """Add keys to a dynamic partitions definition, after the ones it has.

        Keys it already has are left where they are, so adding is idempotent.

        Args:
            name: the definition's name.
            keys: the keys to add, in the order to add them.

        Returns:
            The keys that were not there yet, in the order given.
        """
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return []
        for _ in range(_DYNAMIC_RETRIES):
            try:
                return self._add_dynamic_keys(name, wanted)
            except CatalogError as exc:
                if not isinstance(exc.__cause__, IntegrityError):
                    raise
        return self._add_dynamic_keys(name, wanted)

    def _add_dynamic_keys(self, name: str, wanted: list[str]) -> list[str]:
        with self._write("adding dynamic partitions") as conn:
            seqs = self._dynamic_seqs(conn, name)
            added = [key for key in wanted if key not in seqs]
            if added:
                now = self._db_now(conn)
                start = max(seqs.values(), default=0) + 1
                conn.execute(
                    _INSERT_DYNAMIC,
                    [
                        {"name": name, "key": key, "seq": seq, "added_at": now}
                        for seq, key in enumerate(added, start)
                    ],
                )
        return added

    def remove_dynamic_keys(self, name: str, keys: Sequence[str]) -> list[str]:
        """Remove keys from a dynamic partitions definition.

        The partitions' state and versions stay: adding a key back shows them again.

        Args:
            name: the definition's name.
            keys: the keys to remove.

        Returns:
            The keys that were there, in the order given.
        """
        if not keys:
            return []
        with self._write("removing dynamic partitions") as conn:
            seqs = self._dynamic_seqs(conn, name)
            removed = [key for key in dict.fromkeys(keys) if key in seqs]
            if removed:
                conn.execute(_DELETE_DYNAMIC, [{"w_name": name, "w_key": key} for key in removed])
        return removed

    def _dynamic_seqs(self, conn: Connection, name: str) -> dict[str, int]:
        return {key: seq for key, seq in conn.execute(_DYNAMIC_SEQS, {"w_name": name})}

    # -- leases and commits -----------------------------------------------------------

    def acquire(self, asset: str, partition: str, owner: str) -> int | None:
        """Take the lease on a partition, returning its new fencing token.

        Returns ``None`` while another live owner holds it. An expired lease, or one
        whose owner process on this host is gone, is taken over.
        """
        try:
            return self._acquire(asset, partition, owner)
        except CatalogError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                return None  # another writer created the partition's row first: it holds it
            raise

    def _acquire(self, asset: str, partition: str, owner: str) -> int | None:
        with self._write("taking a lease") as conn:
            return self._take(conn, self._db_now(conn), asset, partition, owner)

    def acquire_many(self, pairs: Sequence[tuple[str, str]], owner: str) -> list[int | None]:
        """Take the leases of several ``(asset, partition)`` at once, in one transaction
        (see :meth:`acquire`): a fencing token for each, ``None`` where another holds it."""
        try:
            with self._write("taking leases") as conn:
                return self._take_many(conn, pairs, owner)
        except CatalogError as exc:
            if isinstance(exc.__cause__, IntegrityError):  # a row created concurrently
                return [self.acquire(asset, key, owner) for asset, key in pairs]
            raise

    def _take_many(
        self, conn: Connection, pairs: Sequence[tuple[str, str]], owner: str
    ) -> list[int | None]:
        now = self._db_now(conn)
        expires = now + self.lease_seconds
        rows = {
            (r.asset, r.partition): r
            for r in conn.execute(_LEASES_OF.with_for_update(), {"w_pairs": list(pairs)})
        }
        created: list[dict[str, Any]] = []
        taken: list[dict[str, Any]] = []
        tokens: list[int | None] = []
        for asset, key in pairs:
            row = rows.get((asset, key))
            if row is None:
                created.append(
                    {
                        "asset": asset,
                        "partition": key,
                        "lease_owner": owner,
                        "lease_token": 1,
                        "lease_expires": expires,
                        "updated_at": now,
                    }
                )
                tokens.append(1)
                continue
            holder = row.lease_owner
            free = holder is None or holder == owner or (row.lease_expires or 0) < now
            if not free and not self._owner_alive(conn, holder):
                free = True
            if not free:
                tokens.append(None)
                continue
            token = row.lease_token + 1
            taken.append(
                {
                    "w_asset": asset,
                    "w_partition": key,
                    "lease_owner": owner,
                    "lease_token": token,
                    "lease_expires": expires,
                }
            )
            tokens.append(token)
        if created:
            conn.execute(_INSERT_PARTITION, created)
        if taken:
            conn.execute(_UPDATE_PARTITION, taken)
        return tokens

    def _take(
        self, conn: Connection, now: float, asset: str, partition: str, owner: str
    ) -> int | None:
        where = {"w_asset": asset, "w_partition": partition}
        row = conn.execute(_LEASE, where).first()
        expires = now + self.lease_seconds
        if row is None:
            conn.execute(
                _INSERT_PARTITION,
                {
                    "asset": asset,
                    "partition": partition,
                    "lease_owner": owner,
                    "lease_token": 1,
                    "lease_expires": expires,
                    "updated_at": now,
                },
            )
            return 1
        holder, token, until = row
        free = holder is None or holder == owner or (until or 0) < now
        if not free and not self._owner_alive(conn, holder):
            free = True
        if not free:
            return None
        conn.execute(
            _UPDATE_PARTITION,
            {**where, "lease_owner": owner, "lease_token": token + 1, "lease_expires": expires},
        )
        return token + 1

    def _owner_alive(self, conn: Connection, owner: str) -> bool:
        run = conn.execute(select(R.host, R.pid, R.status).where(R.id == owner)).first()
        if run is None:
            # Not a run: a daemon, whose id is "<host>:<pid>:<random>".
            host, pid = _process_of(owner)
            return host != _HOST or pid in (None, os.getpid()) or _pid_alive(pid)
        if run.host != _HOST or run.pid == os.getpid():
            return True  # only processes on this host can be checked; leases expire otherwise
        return run.status == "running" and _pid_alive(run.pid)

    def heartbeat(self, owner: str) -> None:
        """Extend every lease ``owner`` holds: on partitions, and named ones (the slots
        of concurrency pools a run's steps hold)."""
        with self._write("renewing leases") as conn:
            now = self._db_now(conn)
            conn.execute(
                update(PartitionRow.__table__)
                .where(P.lease_owner == owner)
                .values(lease_expires=now + self.lease_seconds)
            )
            conn.execute(
                update(LeaseRow.__table__)
                .where(N.owner == owner)
                .values(expires=now + self.lease_seconds, updated_at=now)
            )

    def release(
        self, asset: str, partition: str, owner: str, token: int, failure: str | None = None
    ) -> None:
        """Give a lease back without committing; record ``failure`` if the step failed."""
        values: dict[str, Any] = {"lease_owner": None, "lease_expires": None}
        if failure is not None:
            values["failure"] = failure
        where = {"w_asset": asset, "w_partition": partition, "w_owner": owner, "w_token": token}
        with self._write("releasing a lease") as conn:
            conn.execute(_RELEASE, {**where, **values})

    def release_many(self, owner: str, leases: Sequence[tuple[str, str, int]]) -> None:
        """Give back the leases ``(asset, partition, token)`` of ``owner``, in one
        transaction (those lost meanwhile stay with their new holder)."""
        if not leases:
            return
        rows = [
            {"w_asset": asset, "w_partition": partition, "w_owner": owner, "w_token": token}
            | {"lease_owner": None, "lease_expires": None}
            for asset, partition, token in leases
        ]
        with self._write("releasing leases") as conn:
            conn.execute(_RELEASE, rows)

    def release_all(self, owner: str) -> None:
        """Give back every lease ``owner`` still holds, named ones included (a run that
        stops early)."""
        with self._write("releasing leases") as conn:
            conn.execute(
                update(PartitionRow.__table__)
                .where(P.lease_owner == owner)
                .values(lease_owner=None, lease_expires=None)
            )
            conn.execute(
                update(LeaseRow.__table__).where(N.owner == owner).values(owner=None, expires=None)
            )

    def commit(
        self, asset: str, partition: str, owner: str, token: int, version: NewVersion
    ) -> str | None:
        """Make ``version`` the partition's current version, if ``token`` is still current.

        The lease stays held: the writer removes superseded files, then releases it.

        Returns:
            The failure recorded on the partition that this commit cleared, if any.

        Raises:
            LeaseLostError: another writer took the lease over; nothing was committed.
        """
        with self._write("committing a version") as conn:
            return self._commit(conn, self._db_now(conn), asset, partition, owner, token, version)

    def _commit(
        self,
        conn: Connection,
        now: float,
        asset: str,
        partition: str,
        owner: str,
        token: int,
        version: NewVersion,
    ) -> str | None:
        where = {"w_asset": asset, "w_partition": partition}
        row = conn.execute(_LEASE_AND_VERSION, where).first()
        if row is None or row.lease_owner != owner or row.lease_token != token:
            raise LeaseLostError(
                f"{asset} [{partition}]: lease lost to another writer "
                f"(token {token} is no longer current); nothing was committed"
            )
        if row.version_id is not None:
            conn.execute(_UPDATE_VERSION, {"w_id": row.version_id, "status": "superseded"})
        conn.execute(_INSERT_VERSION, _version_row(asset, partition, version, now))
        conn.execute(_UPDATE_PARTITION, _current_row(where, version, now))
        return row.failure

    def skip_steps(
        self, owner: str, skipped: Sequence[tuple[int, str, str, int]], detail: str
    ) -> None:
        """Record steps ``(step_id, asset, partition, token)`` as skipped for ``detail``
        and give their leases back, in one transaction."""
        if not skipped:
            return
        with self._write("skipping steps") as conn:
            conn.execute(
                _UPDATE_STEP,
                [
                    {"w_id": step_id, "status": "skipped", "detail": detail}
                    for step_id, *_ in skipped
                ],
            )
            conn.execute(
                _RELEASE,
                [
                    {
                        "w_asset": asset,
                        "w_partition": partition,
                        "w_owner": owner,
                        "w_token": token,
                        "lease_owner": None,
                        "lease_expires": None,
                    }
                    for _, asset, partition, token in skipped
                ],
            )

    def finish_attempts(
        self, owner: str, ends: Sequence[AttemptEnd], *, hold: bool = False
    ) -> list[str | LeaseLostError | None]:
        """Record how attempts ended, in one transaction, each partition on its own.

        For each: commit its version (conditionally on its fencing token, as
        :meth:`commit`), close the attempt with its log lines, and when the step ends
        with it, record the step's result and give the lease back (keeping the error as
        the partition's failure). With ``hold``, the lease of a committed version stays
        with its writer, who publishes the version's files, then gives it back with
        :meth:`release_many`: a writer that dies in between leaves its lease behind.

        Returns:
            For each end: the failure its commit cleared, ``None``, or the
            ``LeaseLostError`` of a version that could not be committed (its attempt and
            step are then recorded failed, and nothing of it was committed).
        """
        with self._write("finishing attempts") as conn:
            return self._finish_attempts(conn, owner, ends, hold)

    def _finish_attempts(
        self, conn: Connection, owner: str, ends: Sequence[AttemptEnd], hold: bool = False
    ) -> list[str | LeaseLostError | None]:
        now = self._db_now(conn)
        pairs = [(e.asset, e.partition) for e in ends if e.version is not None]
        leases = (
            {
                (r.asset, r.partition): r
                for r in conn.execute(_LEASES_OF.with_for_update(), {"w_pairs": pairs})
            }
            if pairs
            else {}
        )
        results: list[str | LeaseLostError | None] = []
        superseded: list[str] = []
        versions: list[dict[str, Any]] = []
        partitions: list[dict[str, Any]] = []
        attempts: list[dict[str, Any]] = []
        built: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        released: list[dict[str, Any]] = []
        released_failed: list[dict[str, Any]] = []
        logs: list[LogLine] = []
        for end in ends:
            error, result, version = end.error, None, end.version
            where = {"w_asset": end.asset, "w_partition": end.partition}
            if version is not None:
                row = leases.get((end.asset, end.partition))
                if row is None or row.lease_owner != owner or row.lease_token != end.token:
                    result = LeaseLostError(
                        f"{end.asset} [{end.partition}]: lease lost to another writer "
                        f"(token {end.token} is no longer current); nothing was committed"
                    )
                    error = str(result)
                else:
                    result = row.failure
                    if row.version_id is not None:
                        superseded.append(row.version_id)
                    versions.append(_version_row(end.asset, end.partition, version, now))
                    partitions.append(_current_row(where, version, now))
            results.append(result)
            logs.extend(end.logs)
            status = "failed" if error is not None else "succeeded"
            attempts.append(
                {"w_id": end.attempt_id, "status": status, "error": error, "finished_at": now}
            )
            if not end.final and error is not None:
                continue  # a retry follows, under the same lease
            step = {"w_id": end.step_id, "status": status, "finished_at": now}
            if error is None and version is not None:
                built.append(
                    {**step, "version_id": version.version_id, "rows": version.rows}
                    | {"bytes": version.bytes}
                )
            else:
                failed.append({**step, "detail": error})
            lease = {**where, "w_owner": owner, "w_token": end.token}
            lease.update(lease_owner=None, lease_expires=None)
            if error is None and hold and version is not None:
                continue  # the writer publishes the files, then releases it
            if error is None:
                released.append(lease)
            else:  # the partition keeps the error it ended with
                released_failed.append({**lease, "failure": error})
        if superseded:
            conn.execute(
                update(VersionRow.__table__).where(V.id.in_(superseded)).values(status="superseded")
            )
        for statement, rows in (
            (_INSERT_VERSION, versions),
            (_UPDATE_PARTITION, partitions),
            (_UPDATE_ATTEMPT, attempts),
            (_UPDATE_STEP, built),
            (_UPDATE_STEP, failed),
        ):
            if rows:
                conn.execute(statement, rows)
        for rows in (released, released_failed):
            if rows:
                conn.execute(_RELEASE, rows)
        if logs:
            conn.execute(_INSERT_LOGS, [_log_row(line) for line in logs])
        return results

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
        with self._write("recording a run") as conn:
            now = self._db_now(conn)
            conn.execute(
                insert(RunRow.__table__).values(
                    id=run_id,
                    command=command,
                    targets=json.dumps(list(targets)),
                    args=json.dumps(dict(args or {}), default=str),
                    status="running",
                    started_at=now,
                    host=_HOST,
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

    def finish_run(self, run_id: str, status: str) -> None:
        """Close a run with its final status."""
        with self._write("finishing a run") as conn:
            now = self._db_now(conn)
            conn.execute(
                update(RunRow.__table__)
                .where(R.id == run_id)
                .values(status=status, finished_at=now)
            )

    def update_step(self, step_id: int, **values: Any) -> None:
        """Set a step's status, detail, timings or result (``started_at``/``finished_at``
        given as ``True`` take the database time)."""
        with self._write("updating a step") as conn:
            now = self._db_now(conn)
            for stamp in ("started_at", "finished_at"):
                if values.get(stamp) is True:
                    values[stamp] = now
            conn.execute(_UPDATE_STEP, {"w_id": step_id, **values})

    def start_attempt(self, run_id: str, step_id: int, number: int) -> int:
        """Record the start of an attempt and return its id."""
        with self._write("recording an attempt") as conn:
            now = self._db_now(conn)
            result = conn.execute(
                _INSERT_ATTEMPT,
                {
                    "run_id": run_id,
                    "step_id": step_id,
                    "number": number,
                    "status": "running",
                    "started_at": now,
                },
            )
            return int(result.inserted_primary_key[0])

    def start_attempts(self, run_id: str, starts: Sequence[tuple[int, int]]) -> list[int]:
        """Record that attempts ``(step_id, number)`` start, in one transaction; a first
        attempt also marks its step running. Returns the attempts' ids, in order."""
        with self._write("recording attempts") as conn:
            now = self._db_now(conn)
            firsts = [step_id for step_id, number in starts if number == 1]
            if firsts:
                conn.execute(
                    update(StepRow.__table__)
                    .where(S.id.in_(firsts))
                    .values(status="running", started_at=now)
                )
            rows = [
                {
                    "run_id": run_id,
                    "step_id": step_id,
                    "number": number,
                    "status": "running",
                    "started_at": now,
                }
                for step_id, number in starts
            ]
            returning = _INSERT_ATTEMPT.returning(A.id, sort_by_parameter_order=True)
            return [int(i) for i in conn.execute(returning, rows).scalars()]

    def finish_attempt(
        self, attempt_id: int, status: str, error: str | None, logs: Iterable[LogLine] = ()
    ) -> None:
        """Close an attempt and keep its log lines, in one transaction."""
        lines = [_log_row(line) for line in logs]
        with self._write("finishing an attempt") as conn:
            now = self._db_now(conn)
            conn.execute(
                _UPDATE_ATTEMPT,
                {"w_id": attempt_id, "status": status, "error": error, "finished_at": now},
            )
            if lines:
                conn.execute(_INSERT_LOGS, lines)

    def _mark_crashed(self, conn: Connection) -> None:
        rows = conn.execute(select(R.id, R.pid).where(R.status == "running", R.host == _HOST)).all()
        dead = [rid for rid, pid in rows if pid != os.getpid() and not _pid_alive(pid)]
        if dead:
            conn.execute(update(RunRow.__table__).where(R.id.in_(dead)).values(status="crashed"))
            conn.execute(
                update(StepRow.__table__)
                .where(S.run_id.in_(dead), S.status.in_(["pending", "running"]))
                .values(status="crashed")
            )

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The newest runs with per-status step counts."""
        with self._write("listing runs") as conn:
            self._mark_crashed(conn)
            rows = (
                conn.execute(
                    select(RunRow.__table__).order_by(R.started_at.desc(), R.id.desc()).limit(limit)
                )
                .mappings()
                .all()
            )
            ids = [row["id"] for row in rows]
            counts: dict[str, dict[str, int]] = {rid: {} for rid in ids}
            for rid, status, n in conn.execute(
                select(S.run_id, S.status, func.count())
                .where(S.run_id.in_(ids))
                .group_by(S.run_id, S.status)
            ).all():
                counts[rid][status] = n
        return [_run(row, counts[row["id"]]) for row in rows]

    def run(self, run_id: str) -> RunRecord | None:
        """One run with its steps and their attempts; ``run_id`` may be a unique prefix
        or ``last``."""
        with self._write("reading a run") as conn:
            self._mark_crashed(conn)
            query = select(RunRow.__table__)
            if run_id == "last":
                query = query.order_by(R.started_at.desc(), R.id.desc()).limit(1)
            else:
                query = query.where(R.id.startswith(run_id, autoescape=True)).limit(2)
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
                        a["number"], a["status"], a["started_at"], a["finished_at"], a["error"]
                    )
                )
        records = tuple(
            StepRecord(
                step_id=s["id"],
                asset=s["asset"],
                partition=s["partition"],
                reason=s["reason"],
                status=s["status"],
                detail=s["detail"],
                started_at=s["started_at"],
                finished_at=s["finished_at"],
                version_id=s["version_id"],
                rows=s["rows"],
                bytes=s["bytes"],
                attempts=tuple(attempts.get(s["id"], ())),
            )
            for s in steps
        )
        counts: dict[str, int] = {}
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
        with self._read("reading logs") as conn:
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

    def forget(self, asset: str, partitions: Collection[str]) -> None:
        """Drop the state of partitions (used by tests and repair tools)."""
        with self._write("forgetting partitions") as conn:
            conn.execute(
                delete(PartitionRow.__table__).where(
                    tuple_(P.asset, P.partition).in_([(asset, p) for p in partitions])
                )
            )


def _version_row(asset: str, partition: str, version: NewVersion, now: float) -> dict[str, Any]:
    return {
        "id": version.version_id,
        "asset": asset,
        "partition": partition,
        "status": "committed",
        "kind": version.kind,
        "files": json.dumps(version.files),
        "rows": version.rows,
        "bytes": version.bytes,
        "data_version": version.data_version,
        "code_version": version.code_version,
        "input_hash": version.input_hash,
        "inputs": json.dumps(version.inputs, sort_keys=True),
        "run_id": version.run_id,
        "step_id": version.step_id,
        "created_at": now,
    }


def _current_row(where: Mapping[str, str], version: NewVersion, now: float) -> dict[str, Any]:
    """The partition row's values that make ``version`` current."""
    return {
        **where,
        "version_id": version.version_id,
        "code_version": version.code_version,
        "data_version": version.data_version,
        "input_hash": version.input_hash,
        "failure": None,
        "updated_at": now,
    }


def _log_row(line: LogLine) -> dict[str, Any]:
    return {
        "run_id": line.run_id,
        "step_id": line.step_id,
        "attempt": line.attempt,
        "asset": line.asset,
        "partition": line.partition,
        "ts": line.ts,
        "level": line.level,
        "message": line.message,
    }


def _version(row: Mapping[str, Any]) -> VersionRecord:
    return VersionRecord(
        version_id=row["id"],
        asset=row["asset"],
        partition=row["partition"],
        kind=row["kind"],
        files=tuple(json.loads(row["files"])),
        rows=row["rows"],
        bytes=row["bytes"],
        data_version=row["data_version"],
        code_version=row["code_version"],
        input_hash=row["input_hash"],
        inputs=json.loads(row["inputs"]),
        run_id=row["run_id"],
        created_at=row["created_at"],
        status=row["status"],
    )


def _run(
    row: Mapping[str, Any], counts: dict[str, int], steps: tuple[StepRecord, ...] = ()
) -> RunRecord:
    return RunRecord(
        run_id=row["id"],
        command=row["command"],
        targets=tuple(json.loads(row["targets"])),
        status=row["status"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        counts=counts,
        steps=steps,
    )
