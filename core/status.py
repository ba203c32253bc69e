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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from partita.assets import AssetGraph, Edge
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
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=12).hexdigest()


class StatusResolver:
    """Computes and memoizes partition statuses over a graph and a catalog snapshot.

    Args:
        graph: the asset graph.
        states: per asset, the catalog state of each recorded partition.
        now: the time at which partitions are due (no clock is read here).
    """

    def __init__(self, graph: AssetGraph, states: States, now: dt.datetime) -> None:
        self.graph = graph
        self.states = states
        self.now = now
        self._memo: dict[tuple[str, str], PartitionStatus] = {}

    def state(self, asset: str, key: str) -> PartitionState:
        """The catalog state of a partition (an empty one if never recorded)."""
        return self.states.get(asset, {}).get(key, _NO_STATE)

    def upstream_keys(self, edge: Edge, key: str) -> tuple[str, ...]:
        """The upstream partitions ``edge`` maps ``key`` to (inside their definition)."""
        down = self.graph.get(edge.downstream).partitions
        up = self.graph.get(edge.upstream).partitions
        return edge.mapping.upstream(key, down, up, self.now).keys

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
        found = self._memo.get((asset, key))
        if found is None:
            found = self._memo[(asset, key)] = self._compute(asset, key)
        return found

    def _compute(self, asset: str, key: str) -> PartitionStatus:
        state = self.state(asset, key)
        if state.version_id is None:
            return PartitionStatus(MISSING, Cause(MISSING), state.failure)
        if state.code_version != self.graph.get(asset).code_version:
            return PartitionStatus(STALE, Cause(CODE_CHANGED), state.failure)
        edges = self.graph.upstream(asset)
        if edges:
            if input_fingerprint(self.inputs(asset, key)) != state.input_hash:
                return PartitionStatus(STALE, self._changed(asset, key), state.failure)
            for up, up_key, up_status in self._upstream_statuses(asset, key):
                if up_status.status != FRESH:
                    kind = UPSTREAM_MISSING if up_status.status == MISSING else UPSTREAM_STALE
                    return PartitionStatus(STALE, Cause(kind, up, up_key), state.failure)
        if state.failure is not None:
            return PartitionStatus(FRESH, None, state.failure)
        return _FRESH

    def _changed(self, asset: str, key: str) -> Cause:
        # Without the recorded inputs only the asset can be named; `why` names the partition.
        edges = self.graph.upstream(asset)
        return Cause(UPSTREAM_CHANGED, edges[0].upstream if len(edges) == 1 else None)

    def _upstream_statuses(
        self, asset: str, key: str
    ) -> Iterator[tuple[str, str, PartitionStatus]]:
        for edge in self.graph.upstream(asset):
            for up_key in self.upstream_keys(edge, key):
                yield edge.upstream, up_key, self.status(edge.upstream, up_key)
