"""What status says of a partition: fresh, stale or missing, why, and its last failure."""

from __future__ import annotations

from dataclasses import dataclass

FRESH = "fresh"
MISSING = "missing"
STALE = "stale"

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

    kind: str
    upstream: str | None = None
    partition: str | None = None

    def __str__(self) -> str:
        if self.upstream is None:
            return self.kind
        where = f" {self.partition}" if self.partition else ""
        return f"{self.kind}: {self.upstream}{where}"


@dataclass(frozen=True, slots=True)
class PartitionStatus:
    """The status of one partition, its cause when not fresh, and its last failure."""

    status: str
    cause: Cause | None = None
    failure: str | None = None


FRESH_STATUS = PartitionStatus(FRESH)
"""The status of every fresh partition without a failure: one shared value, so that
``status is FRESH_STATUS`` picks out the common case quickly."""

MISSING_STATUS = PartitionStatus(MISSING, Cause(MISSING))
CODE_CHANGED_STATUS = PartitionStatus(STALE, Cause(CODE_CHANGED))


def with_failure(status: PartitionStatus, failure: str | None) -> PartitionStatus:
    """``status`` with the last failure of its partition (itself when there is none)."""
    if failure is None:
        return status
    return PartitionStatus(status.status, status.cause, failure)


def upstream_cause(upstream: str, partition: str, status: str) -> Cause:
    """Why a partition is stale when upstream partition ``partition`` is ``status``
    (stale or missing)."""
    return Cause(UPSTREAM_MISSING if status == MISSING else UPSTREAM_STALE, upstream, partition)
