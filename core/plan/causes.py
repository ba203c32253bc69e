"""What status says of a partition: fresh, stale or missing, why, and its last failure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Freshness(StrEnum):
    """A partition's status: fresh, stale (with a cause) or missing (never committed).

    A :class:`~enum.StrEnum`: a member compares equal to, and shows as, its value.
    """

    FRESH = "fresh"
    STALE = "stale"
    MISSING = "missing"


class CauseKind(StrEnum):
    """Why a partition is not fresh, or why a step builds it anyway (forced)."""

    MISSING = "missing"
    CODE_CHANGED = "code changed"
    UPSTREAM_CHANGED = "upstream changed"
    UPSTREAM_STALE = "upstream stale"
    UPSTREAM_MISSING = "upstream missing"
    FORCED = "forced"


@dataclass(frozen=True, slots=True)
class Cause:
    """Why a partition is not fresh.

    Attributes:
        kind: ``missing``, ``code changed``, ``upstream changed``, ``upstream stale``,
            ``upstream missing`` or ``forced``.
        upstream: the upstream asset involved, for upstream causes.
        partition: the upstream partition involved, when one is known.
    """

    kind: CauseKind
    upstream: str | None = None
    partition: str | None = None

    def __str__(self) -> str:
        if self.upstream is None:
            # The plain value: a member returned as it is would make str() call
            # Enum.__init__ on it, a Python call per stale partition of a status report.
            return str(self.kind)
        where = f" {self.partition}" if self.partition else ""
        return f"{self.kind}: {self.upstream}{where}"


@dataclass(frozen=True, slots=True)
class PartitionStatus:
    """The status of one partition, its cause when not fresh, and its last failure."""

    status: Freshness
    cause: Cause | None = None
    failure: str | None = None


FRESH_STATUS = PartitionStatus(Freshness.FRESH)
"""The status of every fresh partition without a failure: one shared value, so that
``status is FRESH_STATUS`` picks out the common case quickly."""

MISSING_STATUS = PartitionStatus(Freshness.MISSING, Cause(CauseKind.MISSING))
CODE_CHANGED_STATUS = PartitionStatus(Freshness.STALE, Cause(CauseKind.CODE_CHANGED))


def with_failure(status: PartitionStatus, failure: str | None) -> PartitionStatus:
    """``status`` with the last failure of its partition (itself when there is none)."""
    if failure is None:
        return status
    return PartitionStatus(status.status, status.cause, failure)


def upstream_cause(upstream: str, partition: str, status: Freshness) -> Cause:
    """Why a partition is stale when upstream partition ``partition`` is ``status``
    (stale or missing)."""
    kind = CauseKind.UPSTREAM_MISSING if status == Freshness.MISSING else CauseKind.UPSTREAM_STALE
    return Cause(kind, upstream, partition)
