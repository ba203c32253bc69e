"""The catalog's tables (SQLModel), and the conversions between their rows and the
records of :mod:`partita.storage.records`. Only storage/ sees these rows."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from sqlalchemy import BigInteger, RowMapping, Table
from sqlmodel import Field, Index, SQLModel

from partita.storage.records import LogLine, NewVersion, VersionRecord
from partita.storage.statuses import (
    AttemptStatus,
    RunStatus,
    StepStatus,
    TickStatus,
    VersionStatus,
    read_status,
)


class _Row(SQLModel):
    # SQLAlchemy sets the table of each class below; SQLModel does not declare it.
    __table__: ClassVar[Table]


class RunRow(_Row, table=True):
    __tablename__ = "runs"

    id: str = Field(primary_key=True)
    command: str
    targets: str  # JSON list
    args: str = "{}"  # JSON object
    status: str = RunStatus.RUNNING
    started_at: float
    finished_at: float | None = None
    host: str = ""
    pid: int = 0


class StepRow(_Row, table=True):
    __tablename__ = "steps"
    __table_args__ = (Index("ix_steps_asset_partition", "asset", "partition"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True)
    asset: str
    partition: str
    reason: str
    status: str = StepStatus.PENDING
    detail: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    version_id: str | None = None
    rows: int | None = Field(default=None, sa_type=BigInteger)
    bytes: int | None = Field(default=None, sa_type=BigInteger)


class AttemptRow(_Row, table=True):
    __tablename__ = "attempts"

    id: int | None = Field(default=None, primary_key=True)
    step_id: int = Field(index=True)
    run_id: str = Field(index=True)
    number: int
    status: str = AttemptStatus.RUNNING
    started_at: float
    finished_at: float | None = None
    error: str | None = None


class VersionRow(_Row, table=True):
    __tablename__ = "versions"
    __table_args__ = (Index("ix_versions_asset_partition", "asset", "partition"),)

    id: str = Field(primary_key=True)
    asset: str
    partition: str
    status: str = VersionStatus.COMMITTED  # a VersionStatus, stored as its value
    kind: str
    files: str  # JSON list, relative to the store root
    # BIGINT: a partition of 2 GiB or 2**31 rows overflows PostgreSQL's INTEGER.
    rows: int | None = Field(default=None, sa_type=BigInteger)
    bytes: int = Field(sa_type=BigInteger)
    data_version: str
    code_version: str
    input_hash: str
    inputs: str  # JSON {upstream asset: {partition: data version}}
    run_id: str
    step_id: int | None = None
    created_at: float


class PartitionRow(_Row, table=True):
    __tablename__ = "partitions"

    asset: str = Field(primary_key=True)
    partition: str = Field(primary_key=True)
    version_id: str | None = None
    code_version: str | None = None
    data_version: str | None = None
    input_hash: str | None = None
    failure: str | None = None
    lease_owner: str | None = None
    lease_token: int = 0
    lease_expires: float | None = None
    updated_at: float = 0.0


class LogRow(_Row, table=True):
    __tablename__ = "logs"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True)
    step_id: int | None = None
    attempt: int
    asset: str
    partition: str
    ts: float
    level: str
    message: str


class DynamicPartitionRow(_Row, table=True):
    """One key of a ``DynamicPartitions`` definition, added at run time."""

    __tablename__ = "dynamic_partitions"
    # Unique: two writers that both read the same max(seq) collide here instead of
    # recording two keys at one position (databases whose writers are not serialized).
    __table_args__ = (Index("ix_dynamic_partitions_name_seq", "name", "seq", unique=True),)

    name: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    seq: int  # insertion order within the name: max(seq) + 1 when added
    added_at: float


class TickRow(_Row, table=True):
    """One tick of the daemon: when, what each source decided, which runs it started."""

    __tablename__ = "ticks"

    id: int | None = Field(default=None, primary_key=True)
    daemon: str  # the daemon's id: host, pid and a random part
    clock: float  # the daemon's clock at the tick, epoch seconds (simulated in tests)
    started_at: float  # database time
    finished_at: float | None = None
    status: str = TickStatus.RUNNING  # a TickStatus, stored as its value
    decisions: str = "[]"  # JSON list: {source, requests: [{asset, partitions, force}], notes}
    run_ids: str = "[]"  # JSON list
    error: str | None = None


class CursorRow(_Row, table=True):
    """Where a source of automation (a schedule, a sensor...) got to."""

    __tablename__ = "cursors"

    source: str = Field(primary_key=True)  # schedule:<name>, eager:<asset>, sensor:<name>
    cursor: str  # JSON, the source's own format
    updated_at: float


class LeaseRow(_Row, table=True):
    """A named lease with a fencing token: the active daemon, a slot of a pool."""

    __tablename__ = "leases"

    name: str = Field(primary_key=True)  # "daemon", "pool:api/0", "asset:raw_sales/1"
    owner: str | None = None
    token: int = 0
    expires: float | None = None  # database time
    updated_at: float = 0.0


def version_values(asset: str, partition: str, version: NewVersion, now: float) -> dict[str, Any]:
    """The values of a ``versions`` row recording ``version`` as committed at ``now``."""
    return {
        "id": version.version_id,
        "asset": asset,
        "partition": partition,
        "status": VersionStatus.COMMITTED,
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


def version_record(row: RowMapping, *, current: bool = True) -> VersionRecord:
    """The record of a ``versions`` row."""
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
        step_id=row["step_id"],
        created_at=row["created_at"],
        status=read_status(VersionStatus, row["status"]),
        current=current,
    )


def log_values(line: LogLine) -> dict[str, Any]:
    """The values of a ``logs`` row keeping ``line``."""
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
