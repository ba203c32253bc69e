"""Status of partitions: missing, stale (with a cause) or fresh. Pure functions over values.

For asset A and partition p with committed version V:

* missing — no committed version;
* stale: code changed — V was built by another code version of A;
* stale: upstream changed — a mapped upstream partition's data version differs from the
  one V was built from (or the mapped set changed);
* stale: upstream stale / upstream missing — a mapped upstream partition is itself stale
  or missing;
* fresh — otherwise.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from partita.assets import AssetGraph, DynamicKeys, Edge, Identity, KeySpace, PartitionsDefinition
from partita.storage.records import PartitionState

FRESH = "fresh"
MISSING = "missing"
STALE = "stale"

CODE_CHANGED = "code changed"
UPSTREAM_CHANGED = "upstream changed"
UPSTREAM_STALE = "upstream stale"
UPSTREAM_MISSING = "upstream missing"
FORCED = "forced"

States = Mapping[str, Mapping[str, PartitionState]]


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


_FRESH = PartitionStatus(FRESH)
_NO_STATE = PartitionState(None, None, None, None)


def input_fingerprint(inputs: Mapping[str, Mapping[str, str | None]]) -> str:
    """A fingerprint of the upstream data versions a partition reads.

    ``inputs`` maps each upstream asset to its mapped partitions (in mapping order)
    and their data versions; a missing partition has ``None``.
    """
    parts = [
        f"{asset}|{key}|{version or ''}"
        for asset in sorted(inputs)
        for key, version in inputs[asset].items()
    ]
    return _digest(parts)


def _digest(parts: list[str]) -> str:
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=12).hexdigest()


class StatusResolver:
    """Computes and memoizes partition statuses over a graph and a catalog snapshot.

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
        self.graph = graph
        self.states = states
        self.now = now
        self.dynamic = dynamic or {}
        self._memo: dict[str, dict[str, PartitionStatus]] = {}
        self._mappers: dict[int, tuple[Edge, Callable[[str], tuple[str, ...]]]] = {}
        self._plans: dict[str, _Plan] = {}
        self._spaces: dict[PartitionsDefinition, KeySpace] = {}
        self._warmed: dict[str, int] = {}

    def space(self, asset: str) -> KeySpace | None:
        """The partitions ``asset`` has at ``now`` (``None`` when unpartitioned)."""
        definition = self.graph.get(asset).partitions
        if definition is None:
            return None
        found = self._spaces.get(definition)
        if found is None:  # assets with equal definitions share one space (and its key index)
            found = self._spaces[definition] = definition.space(self.now, self.dynamic)
        return found

    def state(self, asset: str, key: str) -> PartitionState:
        """The catalog state of a partition (an empty one if never recorded)."""
        return self.states.get(asset, {}).get(key, _NO_STATE)

    def upstream_keys(self, edge: Edge, key: str) -> tuple[str, ...]:
        """The upstream partitions ``edge`` maps ``key`` to (inside their definition)."""
        return self._mapper(edge)(key)

    def _mapper(self, edge: Edge) -> Callable[[str], tuple[str, ...]]:
        # One function per edge, built once: mapping a key is the hot path of status.
        found = self._mappers.get(id(edge))
        if found is not None and found[0] is edge:
            return found[1]
        down = self.space(edge.downstream)
        up = self.space(edge.upstream)
        mapping = edge.mapping
        if type(mapping) is Identity and up is not None:
            # Identity.upstream without building an UpstreamPartitions per key.
            contains = up.__contains__

            def mapper(key: str) -> tuple[str, ...]:
                return (key,) if contains(key) else ()

        else:

            def mapper(key: str) -> tuple[str, ...]:
                return mapping.upstream(key, down, up).keys

        self._mappers[id(edge)] = (edge, mapper)  # the edge is kept, so its id stays unique
        return mapper

    def inputs(self, asset: str, key: str) -> dict[str, dict[str, str | None]]:
        """The current data versions of every upstream partition ``(asset, key)`` reads."""
        return {
            edge.upstream: {
                up_key: self.state(edge.upstream, up_key).data_version
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
            if asset in self.graph and self.graph.self_dependent(asset):
                self._warm(asset, key, memo)
            found = memo[key] = self._compute(asset, key)
        return found

    def _warm(self, asset: str, key: str, memo: dict[str, PartitionStatus]) -> None:
        # A self-dependent partition's status depends on every earlier one: compute them
        # in time order first, so that the chain is a loop rather than a deep recursion.
        space = self.space(asset)
        position = space.index(key) if space is not None else None
        if position is None:
            return
        start = self._warmed.get(asset, 0)
        for index in range(start, min(position, len(space))):
            earlier = space.key_at(index)
            if earlier not in memo:
                memo[earlier] = self._compute(asset, earlier)
        self._warmed[asset] = max(start, position)

    def _plan(self, asset: str) -> _Plan:
        found = self._plans.get(asset)
        if found is None:
            if asset not in self.graph:  # never cached: see _compute
                return self.states.get(asset, {}), None, (), ()
            edges = tuple(
                (
                    edge.upstream,
                    self.states.get(edge.upstream, {}),
                    self._mapper(edge),
                    self._memo.setdefault(edge.upstream, {}),
                )
                for edge in self.graph.upstream(asset)
            )
            found = self._plans[asset] = (
                self.states.get(asset, {}),
                self.graph.get(asset).code_version,
                edges,
                tuple(sorted(range(len(edges)), key=lambda i: edges[i][0])),
            )
        return found

    def _compute(self, asset: str, key: str) -> PartitionStatus:
        states, code_version, edges, by_name = self._plan(asset)
        state = states.get(key, _NO_STATE)
        if state.version_id is None:
            return PartitionStatus(MISSING, Cause(MISSING), state.failure)
        if code_version is None:
            self.graph.get(asset)  # an unknown asset that was recorded: DefinitionError
        if state.code_version != code_version:
            return PartitionStatus(STALE, Cause(CODE_CHANGED), state.failure)
        if edges:
            mapped = [mapper(key) for _, _, mapper, _ in edges]
            # input_fingerprint(self.inputs(asset, key)), without building the dicts.
            parts = []
            for index in by_name:
                up, up_states = edges[index][0], edges[index][1]
                keys = mapped[index]
                for up_key in dict.fromkeys(keys) if len(keys) > 1 else keys:
                    version = up_states.get(up_key, _NO_STATE).data_version
                    parts.append(f"{up}|{up_key}|{version or ''}")
            if _digest(parts) != state.input_hash:
                return PartitionStatus(STALE, self._changed(asset, key), state.failure)
            for (up, _, _, up_memo), keys in zip(edges, mapped, strict=True):
                for up_key in keys:
                    up_status = (up_memo.get(up_key) or self.status(up, up_key)).status
                    if up_status != FRESH:
                        kind = UPSTREAM_MISSING if up_status == MISSING else UPSTREAM_STALE
                        return PartitionStatus(STALE, Cause(kind, up, up_key), state.failure)
        if state.failure is not None:
            return PartitionStatus(FRESH, None, state.failure)
        return _FRESH

    def _changed(self, asset: str, key: str) -> Cause:
        # Without the recorded inputs only the asset can be named; `why` names the partition.
        edges = self.graph.upstream(asset)
        return Cause(UPSTREAM_CHANGED, edges[0].upstream if len(edges) == 1 else None)


# Per asset: its recorded states, its code version, per upstream edge (in the graph's
# order) the upstream asset, its recorded states, the function mapping a key to upstream
# keys and the upstream's memo; and the edges' indexes by upstream name (fingerprint order).
_Plan = tuple[
    Mapping[str, PartitionState],
    str | None,
    tuple[
        tuple[
            str,
            Mapping[str, PartitionState],
            Callable[[str], tuple[str, ...]],
            dict[str, PartitionStatus],
        ],
        ...,
    ],
    tuple[int, ...],
]
