"""Frozen records storage hands to the layers above (SQLModel rows never leave storage)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from partita.storage.statuses import AttemptStatus, RunStatus, StepStatus, VersionStatus


@dataclass(frozen=True, slots=True)
class PartitionState:
    """The catalog's view of one partition: its current version, if any.

    Attributes:
        version_id: the committed current version, or ``None`` if never built.
        code_version: the asset code version it was built with.
        data_version: the content hash of its committed bytes.
        input_hash: a fingerprint of the upstream data versions it was built from.
        failure: the error of the last step that failed on it, cleared by a commit.
    """

    version_id: str | None
    code_version: str | None
    data_version: str | None
    input_hash: str | None
    failure: str | None = None


StateRow = tuple[str, str, str | None, str | None, str | None, str | None, str | None]
"""A partition's state as the catalog reads it: ``(asset, partition, version_id,
code_version, data_version, input_hash, failure)``."""


class PartitionStates(Mapping[str, PartitionState]):
    """The recorded partitions of one asset and their states, as the catalog read them.

    The rows are kept as the database returned them (``rows``: partition -> ``StateRow``)
    and a :class:`PartitionState` is made only when one is looked up, because making a
    million of them costs more than reading them: status over many partitions reads
    ``rows`` directly.
    """

    __slots__ = ("rows",)

    def __init__(self, rows: dict[str, StateRow] | None = None) -> None:
        self.rows: dict[str, StateRow] = {} if rows is None else rows

    def __getitem__(self, key: str) -> PartitionState:
        _, _, version_id, code_version, data_version, input_hash, failure = self.rows[key]
        return PartitionState(version_id, code_version, data_version, input_hash, failure)

    def __contains__(self, key: object) -> bool:
        return key in self.rows

    def __iter__(self) -> Iterator[str]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"PartitionStates({dict(self.items())!r})"


@dataclass(frozen=True, slots=True)
class WrittenVersion:
    """What a write produced: the files of a new version, not committed yet.

    The first of the version records, each the one before with more said about it:
    a :class:`WrittenVersion` (the store wrote it), a :class:`NewVersion` (what a
    commit records) and a :class:`VersionRecord` (what the catalog reads back).

    Attributes:
        version_id: The id the files are named by, new for every attempt.
        files: Paths relative to the store root, ``/``-separated.
        kind: How the value was encoded (``parquet``, ``json``, ``text``...).
        rows: Table rows or list length, else ``None``.
        bytes: Total bytes written.
        data_version: Hex BLAKE2b-128 of the bytes written: the content hash.
    """

    version_id: str
    files: tuple[str, ...]
    kind: str
    rows: int | None
    bytes: int
    data_version: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NewVersion(WrittenVersion):
    """What a commit records: a written version and what it was built from.

    Attributes:
        code_version: The asset's code version it was built with.
        input_hash: A fingerprint of the upstream data versions it was built from.
        inputs: ``{upstream asset: {partition: data version}}`` it read.
        run_id: The run that built it.
        step_id: The run's step that built it, if known.
    """

    code_version: str
    input_hash: str
    inputs: dict[str, dict[str, str]]
    run_id: str
    step_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionRecord(NewVersion):
    """A committed version of a partition, as the catalog reads it back.

    Attributes:
        asset: The asset key.
        partition: The partition key (``""`` if unpartitioned).
        created_at: When it was committed (database time, epoch seconds).
        status: ``committed``, ``superseded``, ``collected`` (its files removed) or
            ``lost``.
        current: Whether it is the partition's current version.
    """

    asset: str
    partition: str
    created_at: float
    status: VersionStatus | str = VersionStatus.COMMITTED
    current: bool = True


@dataclass(frozen=True, slots=True)
class LogLine:
    """One log record kept with an attempt."""

    run_id: str
    step_id: int | None
    attempt: int
    asset: str
    partition: str
    ts: float
    level: str
    message: str


@dataclass(frozen=True, slots=True)
class AttemptEnd:
    """How an attempt ended, for :meth:`Catalog.finish_attempts`.

    Attributes:
        attempt_id: the attempt, as :meth:`Catalog.start_attempts` returned it.
        step_id: its step.
        asset: the partition's asset.
        partition: the partition's key.
        token: the fencing token of the writer's lease on it.
        logs: the records logged during the attempt.
        version: the version to commit (a success), or ``None``.
        error: why the attempt failed, or ``None``.
        final: whether the step ends with this attempt (no retry follows): the step is
            then recorded as ended and the lease given back.
    """

    attempt_id: int
    step_id: int
    asset: str
    partition: str
    token: int
    logs: tuple[LogLine, ...] = ()
    version: NewVersion | None = None
    error: str | None = None
    final: bool = True


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One try at a step."""

    number: int
    status: AttemptStatus | str
    started_at: float
    finished_at: float | None
    error: str | None


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One (asset, partition) step of a run, with its attempts."""

    step_id: int
    asset: str
    partition: str
    reason: str
    status: StepStatus | str
    detail: str | None
    started_at: float | None
    finished_at: float | None
    version_id: str | None
    rows: int | None
    bytes: int | None
    attempts: tuple[AttemptRecord, ...] = ()

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish, if both are known."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run: one materialize or backfill invocation."""

    run_id: str
    command: str
    targets: tuple[str, ...]
    status: RunStatus | str
    started_at: float
    finished_at: float | None
    counts: dict[StepStatus | str, int] = field(default_factory=dict)
    steps: tuple[StepRecord, ...] = ()

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish, if finished."""
        return None if self.finished_at is None else self.finished_at - self.started_at
