"""Status of partitions: missing, stale (with a cause) or fresh. Pure functions over values.

For asset A and partition p with committed version V:

* missing — no committed version;
* stale: code changed — V was built by another code version of A;
* stale: upstream changed — a mapped upstream partition's data version differs from the
  one V was built from (or the mapped set changed);
* stale: upstream stale / upstream missing — a mapped upstream partition is itself stale
  or missing;
* fresh — otherwise.

``StatusResolver.status`` computes one partition at a time, and what it needs upstream:
this module holds that path, the definition of status. ``StatusResolver.statuses``
computes whole assets at once (:class:`~partita.core.plan.whole.WholeAssets`) with the
same checks in the same order, over lists, in a fraction of the time. The two must agree
to the last cause (a property test holds them to it); they share what they read
(:mod:`~partita.core.plan.snapshot`) and what they say (:mod:`~partita.core.plan.causes`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from partita.assets import AssetGraph, DynamicKeys, Edge, KeySpace
from partita.core.plan.causes import (
    FRESH_STATUS,
    Cause,
    CauseKind,
    Freshness,
    PartitionStatus,
    upstream_cause,
)
from partita.core.plan.snapshot import (
    DATA_VERSION,
    NO_ROW,
    Snapshot,
    States,
    digest,
    input_fingerprint,
)
from partita.core.plan.whole import WholeAssets
from partita.storage.records import PartitionState, StateRow

__all__ = [
    "FRESH_STATUS",
    "Cause",
    "CauseKind",
    "Freshness",
    "PartitionStatus",
    "States",
    "StatusResolver",
    "input_fingerprint",
]


class StatusResolver:
    """Computes and memoizes partition statuses over a graph and a catalog snapshot.

    ``status`` computes one partition (and what it needs upstream); ``statuses`` computes
    many, whole assets at a time where it can: the same results, in a fraction of the time.

    Args:
        graph: the asset graph.
        states: per asset, the catalog state of each recorded partition (a snapshot:
            statuses are memoized, so it must not change while the resolver is used).
        now: the time at which partitions are due (no clock is read here).
        dynamic: the keys of each dynamic partitions set, as recorded in the catalog.
    """

    def __init__(
        self,
        graph: AssetGraph,
        states: States,
        now: dt.datetime,
        dynamic: DynamicKeys | None = None,
    ) -> None:
        self._snapshot = Snapshot(graph, states, now, dynamic)
        self.graph = graph
        self.states = states
        self.now = now
        self.dynamic = self._snapshot.dynamic
        self._memo: dict[str, dict[str, PartitionStatus]] = {}
        self._plans: dict[str, _AssetPlan] = {}
        self._warmed: dict[str, int] = {}
        self._whole = WholeAssets(self._snapshot)

    def space(self, asset: str) -> KeySpace | None:
        """The partitions ``asset`` has at ``now`` (``None`` when unpartitioned)."""
        return self._snapshot.space(asset)

    def keys(self, asset: str) -> list[str]:
        """Every partition of ``asset`` at ``now``, oldest first (listed once per definition)."""
        return list(self._snapshot.key_index(asset).ordered)

    def outside(self, asset: str) -> int:
        """How many committed partitions of ``asset`` its definition no longer has."""
        return self._snapshot.outside(asset)

    def state(self, asset: str, key: str) -> PartitionState:
        """The catalog state of a partition (an empty one if never recorded)."""
        return self._snapshot.state(asset, key)

    def upstream_keys(self, edge: Edge, key: str) -> tuple[str, ...]:
        """The upstream partitions ``edge`` maps ``key`` to (inside their definition)."""
        return self._snapshot.mapper(edge)(key)

    def inputs(self, asset: str, key: str) -> dict[str, dict[str, str | None]]:
        """The current data versions of every upstream partition ``(asset, key)`` reads."""
        rows = self._snapshot.rows
        return {
            edge.upstream: {
                up_key: rows(edge.upstream).get(up_key, NO_ROW)[DATA_VERSION]
                for up_key in self.upstream_keys(edge, key)
            }
            for edge in self.graph.upstream(asset)
        }

    def status(self, asset: str, key: str) -> PartitionStatus:
        """The status of one partition."""
        memo = self._memo.get(asset)
        if memo is None:
            memo = self._memo.setdefault(asset, {})
        found = memo.get(key)
        if found is None:
            whole = self._whole.status(asset, key)
            if whole is not None:  # not memoized: the whole asset keeps it
                return whole
            if self._snapshot.self_dependent(asset):
                self._warm(asset, key, memo)
            found = memo[key] = self._compute(asset, key)
        return found

    def statuses(self, asset: str, keys: Sequence[str]) -> list[PartitionStatus]:
        """The status of each of ``keys`` of ``asset``, in the same order.

        When ``keys`` are a good part of the asset's partitions, the asset and its
        upstream are computed whole rather than key by key.
        """
        space = self.space(asset)
        if space is not None and 4 * len(keys) >= len(space):
            self._whole.compute(asset, self.status)
        found = self._whole.statuses(asset, keys)
        if found is not None:
            return found
        memo = self._memo.setdefault(asset, {})
        return [memo.get(key) or self.status(asset, key) for key in keys]

    def _warm(self, asset: str, key: str, memo: dict[str, PartitionStatus]) -> None:
        # A self-dependent partition's status depends on every earlier one: compute them
        # in time order first, so that the chain is a loop rather than a deep recursion.
        space = self.space(asset)
        position = space.index(key) if space is not None else None
        if space is None or position is None:
            return
        start = self._warmed.get(asset, 0)
        for index in range(start, min(position, len(space))):
            earlier = space.key_at(index)
            if earlier not in memo:
                memo[earlier] = self._compute(asset, earlier)
        self._warmed[asset] = max(start, position)

    def _plan(self, asset: str) -> _AssetPlan:
        found = self._plans.get(asset)
        if found is None:
            snapshot = self._snapshot
            if asset not in self.graph:  # never cached: see _compute
                return _AssetPlan(snapshot.rows(asset), None, (), ())
            reads = tuple(
                _Read(
                    edge.upstream,
                    snapshot.rows(edge.upstream),
                    snapshot.mapper(edge),
                    self._memo.setdefault(edge.upstream, {}),
                )
                for edge in self.graph.upstream(asset)
            )
            found = self._plans[asset] = _AssetPlan(
                snapshot.rows(asset),
                self.graph.get(asset).code_version,
                reads,
                tuple(sorted(range(len(reads)), key=lambda i: reads[i].upstream)),
            )
        return found

    def _compute(self, asset: str, key: str) -> PartitionStatus:
        rows, code_version, reads, by_name = self._plan(asset)
        _, _, version_id, built_with, _, input_hash, failure = rows.get(key, NO_ROW)
        if version_id is None:
            return PartitionStatus(Freshness.MISSING, Cause(CauseKind.MISSING), failure)
        if code_version is None:
            self.graph.get(asset)  # an unknown asset that was recorded: DefinitionError
        if built_with != code_version:
            return PartitionStatus(Freshness.STALE, Cause(CauseKind.CODE_CHANGED), failure)
        if reads:
            mapped = [read.mapper(key) for read in reads]
            # input_fingerprint(self.inputs(asset, key)), without building the dicts.
            lines = []
            for index in by_name:
                up, up_rows = reads[index].upstream, reads[index].rows
                keys = mapped[index]
                for up_key in dict.fromkeys(keys) if len(keys) > 1 else keys:
                    version = up_rows.get(up_key, NO_ROW)[DATA_VERSION]
                    lines.append(f"{up}|{up_key}|{version or ''}")
            if digest("\n".join(lines)) != input_hash:
                cause = self._snapshot.upstream_changed(asset)
                return PartitionStatus(Freshness.STALE, cause, failure)
            for read, keys in zip(reads, mapped, strict=True):
                found = self._first_not_fresh(read.upstream, read.memo, keys)
                if found is not None:
                    return PartitionStatus(Freshness.STALE, found, failure)
        if failure is not None:
            return PartitionStatus(Freshness.FRESH, None, failure)
        return FRESH_STATUS

    def _first_not_fresh(
        self, up: str, up_memo: dict[str, PartitionStatus], keys: Sequence[str]
    ) -> Cause | None:
        fresh = Freshness.FRESH
        for up_key in keys:
            up_status = (up_memo.get(up_key) or self.status(up, up_key)).status
            if up_status != fresh:
                return upstream_cause(up, up_key, up_status)
        return None


class _Read(NamedTuple):
    """An upstream edge as the per-key path reads it."""

    upstream: str
    rows: Mapping[str, StateRow]  # the upstream's recorded rows
    mapper: Callable[[str], tuple[str, ...]]  # a key to its upstream keys
    memo: dict[str, PartitionStatus]  # the upstream's statuses computed key by key


class _AssetPlan(NamedTuple):
    """What the per-key path reads to compute a partition of one asset."""

    rows: Mapping[str, StateRow]
    code_version: str | None  # None: an asset not in the graph
    reads: tuple[_Read, ...]  # per upstream edge, in the graph's order
    by_name: tuple[int, ...]  # the reads' indexes by upstream name: the fingerprint's order
