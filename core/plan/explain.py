"""Status reports and ``why`` chains, computed from a catalog snapshot (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress, count, repeat
from operator import is_not

from partita.core.plan.status import FRESH_STATUS, CauseKind, Freshness, StatusResolver
from partita.storage.records import VersionRecord

STATUSES = (Freshness.FRESH, Freshness.STALE, Freshness.MISSING)
_UPSTREAM_NOT_FRESH = (CauseKind.UPSTREAM_STALE, CauseKind.UPSTREAM_MISSING)


@dataclass(frozen=True, slots=True)
class AssetStatus:
    """The status of an asset's partitions over a range.

    Attributes:
        asset: the asset key.
        partitioned: whether the asset is partitioned.
        counts: how many partitions are fresh, stale and missing.
        ranges: per status, compact ranges of keys (``2026-04-01..2026-04-07``).
        stale: each stale partition with its cause.
        failed: partitions whose last step failed, with the error.
        outside: committed partitions that the definition no longer has (a moved start,
            a changed granularity or dimension): kept in the catalog, not counted above.
    """

    asset: str
    partitioned: bool
    counts: dict[Freshness, int]
    ranges: dict[Freshness, list[str]]
    stale: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    outside: int = 0

    @property
    def total(self) -> int:
        """How many partitions were looked at."""
        return sum(self.counts.values())


def compact_ranges(positions: Sequence[int], keys: Sequence[str]) -> list[str]:
    """Collapse runs of consecutive positions in ``keys`` into ``first..last`` ranges."""
    ranges: list[str] = []
    start: int | None = None
    prev = 0
    for index in positions:
        if start is None:
            start = prev = index
        elif index == prev + 1:
            prev = index
        else:
            ranges.append(_span(keys, start, prev))
            start = prev = index
    if start is not None:
        ranges.append(_span(keys, start, prev))
    return ranges


def _span(keys: Sequence[str], first: int, last: int) -> str:
    return keys[first] if first == last else f"{keys[first]}..{keys[last]}"


def asset_status(
    resolver: StatusResolver, asset: str, keys: Sequence[str], *, outside: int = 0
) -> AssetStatus:
    """Summarize the status of ``keys`` of ``asset``."""
    results = resolver.statuses(asset, keys)
    fresh, stale, missing = STATUSES  # locals: the loop below may see every partition
    stale_at: list[int] = []
    missing_at: list[int] = []
    causes: list[tuple[str, str]] = []
    failed: list[tuple[str, str]] = []
    # Most partitions are plainly fresh (one shared value): look only at the others.
    for position in compress(count(), map(is_not, results, repeat(FRESH_STATUS))):
        result = results[position]
        if result.status == stale:
            stale_at.append(position)
            causes.append((keys[position], str(result.cause)))
        elif result.status == missing:
            missing_at.append(position)
        if result.failure is not None:
            failed.append((keys[position], result.failure))
    counts = {
        fresh: len(keys) - len(stale_at) - len(missing_at),
        stale: len(stale_at),
        missing: len(missing_at),
    }
    partitioned = resolver.graph.get(asset).partitions is not None
    positions = {stale: stale_at, missing: missing_at}
    ranges = {s: compact_ranges(positions[s], keys) for s in (stale, missing) if positions[s]}
    if counts[fresh]:
        taken = sorted(stale_at + missing_at)
        ranges = {fresh: _gaps(taken, keys), **ranges}
    return AssetStatus(asset, partitioned, counts, ranges, causes, failed, outside)


def _gaps(taken: Sequence[int], keys: Sequence[str]) -> list[str]:
    # compact_ranges of the positions not in `taken` (sorted), without listing them.
    ranges: list[str] = []
    start = 0
    for position in taken:
        if position > start:
            ranges.append(_span(keys, start, position - 1))
        start = position + 1
    if start < len(keys):
        ranges.append(_span(keys, start, len(keys) - 1))
    return ranges


@dataclass(frozen=True, slots=True)
class WhyLink:
    """One link of a ``why`` chain: a partition, its status and cause, and detail."""

    asset: str
    partition: str
    status: Freshness
    cause: str | None
    detail: str | None = None


def why_chain(
    resolver: StatusResolver,
    asset: str,
    partition: str,
    recorded: Mapping[tuple[str, str], VersionRecord],
) -> list[WhyLink]:
    """Walk a partition's causes down to the root cause.

    ``recorded`` holds the current committed version of the partitions on the chain
    (for the inputs they were built from and their code versions).
    """
    chain: list[WhyLink] = []
    node: tuple[str, str] | None = (asset, partition)
    while node is not None:
        a, p = node
        result = resolver.status(a, p)
        cause = result.cause
        node = None
        detail: str | None = None
        if cause is None:
            detail = "fresh: built from the current code and upstream data"
        elif cause.kind == CauseKind.MISSING:
            if result.failure and result.failure.startswith("doctor:"):
                detail = f"marked for rebuild by {result.failure}"
            else:
                detail = "never built" + (
                    f"; last attempt failed: {result.failure}" if result.failure else ""
                )
        elif cause.kind == CauseKind.CODE_CHANGED:
            detail = _code_detail(resolver, a, recorded.get((a, p)))
        elif cause.kind == CauseKind.UPSTREAM_CHANGED:
            detail = _changed_detail(resolver, a, p, recorded.get((a, p)))
        elif cause.kind in _UPSTREAM_NOT_FRESH:
            node = (cause.upstream or "", cause.partition or "")
        chain.append(WhyLink(a, p, result.status, str(cause) if cause else None, detail))
    return chain


def chain_nodes(resolver: StatusResolver, asset: str, partition: str) -> list[tuple[str, str]]:
    """The partitions a ``why`` chain visits (to fetch their recorded versions first)."""
    nodes = [(asset, partition)]
    while True:
        cause = resolver.status(*nodes[-1]).cause
        if cause is None or cause.kind not in _UPSTREAM_NOT_FRESH:
            return nodes
        nodes.append((cause.upstream or "", cause.partition or ""))


def _code_detail(resolver: StatusResolver, asset: str, version: VersionRecord | None) -> str:
    now = resolver.graph.get(asset).code_version
    was = version.code_version if version else "?"
    return f"the code of {asset} changed: built with code version {was}, now {now}"


def _changed_detail(
    resolver: StatusResolver, asset: str, partition: str, version: VersionRecord | None
) -> str:
    current = resolver.inputs(asset, partition)
    if version is None:
        return "upstream data changed"
    built = version.inputs
    for upstream in sorted(set(current) | set(built)):
        now_keys, was_keys = current.get(upstream, {}), built.get(upstream, {})
        added = [k for k in now_keys if k not in was_keys]
        removed = [k for k in was_keys if k not in now_keys]
        if added or removed:
            change = ", ".join([*(f"+{k}" for k in added), *(f"-{k}" for k in removed)])
            return f"the partitions mapped from {upstream} changed ({change})"
        for key, was in was_keys.items():
            if (now_keys.get(key) or "") != was:
                return (
                    f"{upstream} {key} was rebuilt with different data: built from data version "
                    f"{was or 'none'}, now {now_keys.get(key) or 'none'}"
                )
    return "upstream data changed"
