"""Frozen records the catalog hands to the layers above (SQLModel rows never leave storage)."""

from __future__ import annotations

from dataclasses import dataclass, field


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


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """A committed version of a partition with everything recorded about it."""

    version_id: str
    asset: str
    partition: str
    kind: str
    files: tuple[str, ...]
    rows: int | None
    bytes: int
    data_version: str
    code_version: str
    input_hash: str
    inputs: dict[str, dict[str, str]]
    run_id: str
    created_at: float
    status: str = "committed"


@dataclass(frozen=True, slots=True)
class NewVersion:
    """What a writer commits: the files it wrote and what they were built from."""

    version_id: str
    kind: str
    files: tuple[str, ...]
    rows: int | None
    bytes: int
    data_version: str
    code_version: str
    input_hash: str
    inputs: dict[str, dict[str, str]]
    run_id: str
    step_id: int | None = None


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
class AttemptRecord:
    """One try at a step."""

    number: int
    status: str
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
    status: str
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
    status: str
    started_at: float
    finished_at: float | None
    counts: dict[str, int] = field(default_factory=dict)
    steps: tuple[StepRecord, ...] = ()

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish, if finished."""
        return None if self.finished_at is None else self.finished_at - self.started_at
