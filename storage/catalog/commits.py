"""How attempts end: the commit of new versions, behind the fence, in batches.

Runs record the ends of a batch of attempts in one transaction, each partition on its
own: a version is committed only where the writer's lease passes the
:func:`~partita.storage.catalog.fencing.fence` (the partition's row still names the
writer and its token); elsewhere nothing of it is recorded but the lost lease.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, tuple_, update

from partita.errors import LeaseLostError
from partita.storage.catalog.engine import Database
from partita.storage.catalog.fencing import fence
from partita.storage.catalog.partition_leases import ONE_PARTITION, RELEASE, released
from partita.storage.catalog.runs import UPDATE_ATTEMPT, UPDATE_STEP
from partita.storage.catalog.tables import (
    LogRow,
    PartitionRow,
    VersionRow,
    log_values,
    version_values,
)
from partita.storage.records import AttemptEnd, LogLine, NewVersion
from partita.storage.statuses import AttemptStatus, StepStatus, VersionStatus

P = PartitionRow.__table__.c
V = VersionRow.__table__.c

_OF_PAIRS = tuple_(P.asset, P.partition).in_(bindparam("w_pairs", expanding=True))
# Locked in key order, the same in every writer (see partition_leases): the versions the
# commits supersede and the failures they clear.
_LOCK_CURRENT = (
    select(P.asset, P.partition, P.version_id, P.failure)
    .where(_OF_PAIRS)
    .order_by(P.asset, P.partition)
    .with_for_update()
)
_COMMIT = update(PartitionRow.__table__).where(*ONE_PARTITION, fence(P.lease_owner, P.lease_token))
_CURRENT = select(P.asset, P.partition, P.version_id).where(_OF_PAIRS)
_INSERT_VERSION = insert(VersionRow.__table__)
_SUPERSEDE = (
    update(VersionRow.__table__)
    .where(V.id.in_(bindparam("w_ids", expanding=True)))
    .values(status=VersionStatus.SUPERSEDED)
)
_INSERT_LOGS = insert(LogRow.__table__)


class Commits:
    """Records how attempts end, committing their versions.

    Args:
        db: the catalog's database.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def finish_attempts(
        self, owner: str, ends: Sequence[AttemptEnd], *, hold: bool = False
    ) -> list[str | LeaseLostError | None]:
        """Record how attempts ended, in one transaction, each partition on its own.

        For each: commit its version if ``owner`` still holds the partition's lease
        with the end's token, close the attempt with its log lines, and when the step
        ends with it, record the step's result and give the lease back (keeping the
        error as the partition's failure). With ``hold``, a committed version's lease
        stays with its writer, who publishes its files and then releases it.

        Returns:
            For each end: the failure its commit cleared, ``None``, or the
            ``LeaseLostError`` of a version that could not be committed (its attempt and
            step are then recorded failed, and nothing of it was committed).
        """
        with self._db.write("finishing attempts") as conn:
            now = self._db.now(conn)
            lost = self._commit(conn, owner, ends, now)
            return self._record(conn, owner, ends, lost, now, hold)

    def _commit(
        self, conn: Connection, owner: str, ends: Sequence[AttemptEnd], now: float
    ) -> dict[int, LeaseLostError | str | None]:
        """Commit the ends' versions where the fence lets them; for each end with a
        version (by position): the failure its commit cleared, or its lost lease."""
        committing = [(i, end, end.version) for i, end in enumerate(ends) if end.version]
        if not committing:
            return {}
        pairs = [(end.asset, end.partition) for _, end, _ in committing]
        locked = conn.execute(_LOCK_CURRENT, {"w_pairs": pairs})
        before = {(r.asset, r.partition): r for r in locked}
        conn.execute(
            _COMMIT,
            [
                {"w_asset": end.asset, "w_partition": end.partition, "w_owner": owner}
                | {"w_token": end.token}
                | _current_values(version, now)
                for _, end, version in committing
            ],
        )
        current = {
            (asset, partition): version_id
            for asset, partition, version_id in conn.execute(_CURRENT, {"w_pairs": pairs})
        }
        results: dict[int, LeaseLostError | str | None] = {}
        superseded: list[str] = []
        versions: list[dict[str, Any]] = []
        for i, end, version in committing:
            where = (end.asset, end.partition)
            if current.get(where) != version.version_id:  # the fence held it back
                results[i] = LeaseLostError(
                    f"{end.asset} [{end.partition}]: lease lost to another writer "
                    f"(token {end.token} is no longer current); nothing was committed"
                )
                continue
            previous = before[where]
            results[i] = previous.failure
            if previous.version_id is not None:
                superseded.append(previous.version_id)
            versions.append(version_values(end.asset, end.partition, version, now))
        if superseded:
            conn.execute(_SUPERSEDE, {"w_ids": superseded})
        if versions:
            conn.execute(_INSERT_VERSION, versions)
        return results

    def _record(
        self,
        conn: Connection,
        owner: str,
        ends: Sequence[AttemptEnd],
        committed: dict[int, LeaseLostError | str | None],
        now: float,
        hold: bool,
    ) -> list[str | LeaseLostError | None]:
        """Close the attempts, the steps that end and their leases; keep the logs."""
        results: list[str | LeaseLostError | None] = []
        attempts: list[dict[str, Any]] = []
        built: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        releases: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        logs: list[LogLine] = []
        for i, end in enumerate(ends):
            result = committed.get(i)
            error = str(result) if isinstance(result, LeaseLostError) else end.error
            version = end.version if error is None else None
            results.append(result)
            logs.extend(end.logs)
            ended = AttemptStatus.FAILED if error is not None else AttemptStatus.SUCCEEDED
            attempts.append(
                {"w_id": end.attempt_id, "status": ended, "error": error, "finished_at": now}
            )
            if not end.final and error is not None:
                continue  # a retry follows, under the same lease
            status = StepStatus.FAILED if error is not None else StepStatus.SUCCEEDED
            step = {"w_id": end.step_id, "status": status, "finished_at": now}
            if version is not None:
                built.append(
                    step
                    | {
                        "version_id": version.version_id,
                        "rows": version.rows,
                        "bytes": version.bytes,
                    }
                )
            else:
                failed.append(step | {"detail": error})
            lease = released(end.asset, end.partition, owner, end.token)
            if error is None and hold and version is not None:
                continue  # the writer publishes the files, then releases it
            if error is None:
                releases.append(lease)
            else:  # the partition keeps the error it ended with
                failures.append(lease | {"failure": error})
        for statement, rows in (
            (UPDATE_ATTEMPT, attempts),
            (UPDATE_STEP, built),
            (UPDATE_STEP, failed),
            (RELEASE, releases),
            (RELEASE, failures),
        ):
            if rows:
                conn.execute(statement, rows)
        if logs:
            conn.execute(_INSERT_LOGS, [log_values(line) for line in logs])
        return results

    def skip_steps(
        self, owner: str, skipped: Sequence[tuple[int, str, str, int]], detail: str
    ) -> None:
        """Record steps ``(step_id, asset, partition, token)`` as skipped for ``detail``
        and give their leases back, in one transaction."""
        if not skipped:
            return
        with self._db.write("skipping steps") as conn:
            conn.execute(
                UPDATE_STEP,
                [
                    {"w_id": step_id, "status": StepStatus.SKIPPED, "detail": detail}
                    for step_id, *_ in skipped
                ],
            )
            conn.execute(
                RELEASE,
                [
                    released(asset, partition, owner, token)
                    for _, asset, partition, token in skipped
                ],
            )


def _current_values(version: NewVersion, now: float) -> dict[str, Any]:
    """The partition row's values that make ``version`` current."""
    return {
        "version_id": version.version_id,
        "code_version": version.code_version,
        "data_version": version.data_version,
        "input_hash": version.input_hash,
        "failure": None,
        "updated_at": now,
    }


__all__ = ["Commits"]
