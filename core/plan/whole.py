"""Status of whole assets at once: the checks of the per-key path, over lists.

Status over every partition of many assets is mostly fresh partitions whose upstream
partitions sit at the same position of the same key space (Identity between equal
definitions) or a few positions around it (Window, Previous). Such an asset is computed
whole: the checks of the per-key path (``StatusResolver._compute`` in
:mod:`~partita.core.plan.status`), in its order, over lists in C loops (map, compress,
list.count), and key by key only where a partition is not fresh. Edges of other kinds
are mapped key by key.

:class:`WholeAssets` reads the same :class:`~partita.core.plan.snapshot.Snapshot` as the
per-key path and asks it one thing: the status of an upstream partition it did not
compute (``status``, passed to :meth:`WholeAssets.compute`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import ne
from typing import NamedTuple, TypeGuard

from partita.assets import Containment, Edge, Identity, Previous, Window
from partita.core.plan.causes import (
    CODE_CHANGED_STATUS,
    FRESH_STATUS,
    MISSING_STATUS,
    Cause,
    Freshness,
    PartitionStatus,
    upstream_cause,
    with_failure,
)
from partita.core.plan.snapshot import (
    DATA_VERSION,
    NO_ROW,
    KeyIndex,
    Snapshot,
    StateColumns,
    digests,
    fingerprint_lines,
)
from partita.storage.records import StateRow

Status = Callable[[str, str], PartitionStatus]
"""The status of a partition ``(asset, key)``, as the per-key path computes it."""


class WholeEdge(NamedTuple):
    """An upstream edge of an asset computed whole: how it maps position ``i``.

    Either to the upstream positions ``i + first <= j < i + stop`` of the same key space,
    or, when ``keywise`` holds the edge, key by key through its mapping (``first`` and
    ``stop`` are then unused).
    """

    upstream: str
    first: int
    stop: int
    keywise: Edge | None

    @property
    def same_position(self) -> bool:
        """Whether position ``i`` reads exactly position ``i`` upstream."""
        return self.keywise is None and self.first == 0 and self.stop == 1


@dataclass(frozen=True, slots=True)
class WholeAsset:
    """The statuses of every partition of an asset computed whole.

    Attributes:
        keys: the asset's keys.
        data: each key's data version ("" for none), in key order.
        not_fresh: the positions of the partitions that are not fresh, in order.
        statuses: the status of each partition that is not ``FRESH_STATUS``.
    """

    keys: KeyIndex
    data: list[str]
    not_fresh: list[int]
    statuses: dict[str, PartitionStatus]


class WholeAssets:
    """The statuses of every partition of whole assets, over one snapshot.

    Only assets with partitions, known to the graph and not self-dependent are computed
    whole; for the others (and their partitions) :meth:`status` and :meth:`statuses`
    answer ``None``, and the per-key path answers.
    """

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._done: dict[str, WholeAsset] = {}
        self._order: dict[str, int] | None = None  # each asset's place in the graph's order
        self._mapped: dict[tuple[object, ...], list[tuple[str, ...]]] = {}  # _upstream_keys

    def status(self, asset: str, key: str) -> PartitionStatus | None:
        """The status of a partition, if ``asset`` was computed whole and has ``key``."""
        done = self._done.get(asset)
        if done is None or key not in done.keys.known:
            return None
        return done.statuses.get(key, FRESH_STATUS)

    def statuses(self, asset: str, keys: Sequence[str]) -> list[PartitionStatus] | None:
        """The status of each of ``keys``, if ``asset`` was computed whole and has them all."""
        done = self._done.get(asset)
        if done is None:
            return None
        listed, known = done.keys
        if keys != listed and not known.issuperset(keys):  # the same strings: by identity
            return None
        return list(map(done.statuses.get, keys, repeat(FRESH_STATUS)))

    def compute(self, asset: str, status: Status) -> None:
        """Compute ``asset`` whole, if it can be, after its upstream through positional edges.

        Args:
            asset: the asset.
            status: the status of an upstream partition that is not computed whole.
        """
        graph = self._snapshot.graph
        needed: set[str] = set()
        todo = [asset]
        while todo:
            name = todo.pop()
            if name not in needed and name not in self._done and self._possible(name):
                needed.add(name)
                todo.extend(edge.upstream for edge in graph.upstream(name))
        if self._order is None:
            self._order = {name: i for i, name in enumerate(graph.order)}
        for name in sorted(needed, key=self._order.__getitem__):
            self._done[name] = self._asset(name, status)

    def _possible(self, asset: str) -> bool:
        snapshot = self._snapshot
        return (
            asset in snapshot.graph
            and snapshot.space(asset) is not None
            and not snapshot.self_dependent(asset)
        )

    def _edges(self, asset: str) -> list[WholeEdge]:
        # Per upstream edge, in the graph's order: the upstream and how positions map to it.
        snapshot = self._snapshot
        space = snapshot.space(asset)
        edges: list[WholeEdge] = []
        for edge in snapshot.graph.upstream(asset):
            up, mapping = edge.upstream, edge.mapping
            if snapshot.space(up) is not space or not self._possible(up):
                edges.append(WholeEdge(up, 0, 0, edge))
            elif type(mapping) is Identity:
                edges.append(WholeEdge(up, 0, 1, None))
            elif type(mapping) is Window:
                first, stop = mapping.offset - mapping.size + 1, mapping.offset + 1
                edges.append(WholeEdge(up, first, stop, None))
            elif type(mapping) is Previous:  # Window(size=1, offset=-1)
                edges.append(WholeEdge(up, -1, 0, None))
            else:
                edges.append(WholeEdge(up, 0, 0, edge))
        return edges

    def _asset(self, asset: str, status: Status) -> WholeAsset:
        index = self._snapshot.key_index(asset)
        keys = index.ordered
        count = len(keys)
        if not count:
            return WholeAsset(index, [], [], {})
        columns = self._snapshot.columns(asset, keys)
        versions, codes, failures = columns.version_id, columns.code_version, columns.failure
        statuses: dict[str, PartitionStatus] = {}
        not_fresh: list[int] = []
        code = self._snapshot.graph.get(asset).code_version
        candidates: Sequence[int]
        if None not in versions and codes.count(code) == count:
            candidates = range(count)
        else:
            candidates = []
            for i, (version, built_with) in enumerate(zip(versions, codes, strict=True)):
                if version is not None and built_with == code:
                    candidates.append(i)
                    continue
                statuses[keys[i]] = with_failure(
                    MISSING_STATUS if version is None else CODE_CHANGED_STATUS, failures[i]
                )
                not_fresh.append(i)
        edges = self._edges(asset)
        if edges and candidates:
            stale = self._check_inputs(asset, keys, columns, candidates, edges, status)
            statuses.update((keys[i], found) for i, found in stale.items())
            not_fresh.extend(stale)
        if failures.count(None) != count:
            for key, failure in zip(keys, failures, strict=True):
                if failure is not None and key not in statuses:
                    statuses[key] = PartitionStatus(Freshness.FRESH, None, failure)
        data = columns.data_version
        known = data if _all_known(data) else [v or "" for v in data]
        return WholeAsset(index, known, sorted(not_fresh), statuses)

    def _check_inputs(
        self,
        asset: str,
        keys: list[str],
        columns: StateColumns,
        candidates: Sequence[int],
        edges: list[WholeEdge],
        status: Status,
    ) -> dict[int, PartitionStatus]:
        # The fingerprint of each candidate, then its upstream: the stale ones by position.
        hashes, failures = columns.input_hash, columns.failure
        mapped = [
            None if edge.keywise is None else self._upstream_keys(edge.keywise, keys)
            for edge in edges
        ]
        texts = self._input_texts(keys, candidates, edges, mapped)
        recorded = hashes if len(candidates) == len(keys) else map(hashes.__getitem__, candidates)
        changed = set(compress(candidates, map(ne, digests(texts), recorded)))
        cause = self._snapshot.upstream_changed(asset)
        freshness = Freshness.STALE  # a local: read once per changed partition below
        stale = {i: PartitionStatus(freshness, cause, failures[i]) for i in changed}
        for i in self._may_read_not_fresh(len(keys), candidates, changed, edges, mapped):
            for edge, keywise in zip(edges, mapped, strict=True):
                if keywise is None:
                    up_keys: Sequence[str] = keys[max(0, i + edge.first) : max(0, i + edge.stop)]
                else:
                    up_keys = keywise[i]
                found = _first_not_fresh(edge.upstream, up_keys, status)
                if found is not None:
                    stale[i] = PartitionStatus(freshness, found, failures[i])
                    break
        return stale

    def _input_texts(
        self,
        keys: list[str],
        candidates: Sequence[int],
        edges: list[WholeEdge],
        mapped: list[list[tuple[str, ...]] | None],
    ) -> list[str]:
        # What input_fingerprint hashes, for each candidate position.
        everything = len(candidates) == len(keys)
        order = sorted(range(len(edges)), key=lambda e: edges[e].upstream)
        if all(edges[e].same_position for e in order):  # identity only: one join per key
            at = keys if everything else list(map(keys.__getitem__, candidates))
            pieces: list[Iterable[str]] = []
            for n, e in enumerate(order):
                up = edges[e].upstream
                data = self._done[up].data
                data = data if everything else list(map(data.__getitem__, candidates))
                pieces += [repeat(f"\n{up}|" if n else f"{up}|"), at, repeat("|"), data]
            return list(map("".join, zip(*pieces)))  # noqa: B905 - ends with the columns
        blocks = []
        for e in order:
            up, first, stop, _ = edges[e]
            keywise = mapped[e]
            if keywise is not None:
                blocks.append(self._keywise_lines(up, candidates, keywise))
                continue
            lines = fingerprint_lines(up, keys, self._done[up].data)
            if (first, stop) == (0, 1):
                blocks.append(lines if everything else list(map(lines.__getitem__, candidates)))
            else:
                blocks.append(
                    ["\n".join(lines[max(0, i + first) : max(0, i + stop)]) for i in candidates]
                )
        if len(blocks) == 1:
            return blocks[0]
        if any("" in block for block in blocks):  # an edge that maps to nothing adds no line
            return ["\n".join(filter(None, parts)) for parts in zip(*blocks, strict=True)]
        return list(map("\n".join, zip(*blocks, strict=True)))

    def _upstream_keys(self, edge: Edge, keys: list[str]) -> list[tuple[str, ...]]:
        # Each key's upstream keys. Containment of fewer, longer upstream windows (an hour
        # reading its day) is read backwards, from each upstream key's downstream keys: as
        # many calls as upstream keys, each a little dearer, instead of one per key.
        snapshot = self._snapshot
        up, down = snapshot.space(edge.upstream), snapshot.space(edge.downstream)
        same = (edge.mapping, up, down)  # edges alike map alike: once for all of them
        found = self._mapped.get(same)
        if found is not None:
            return found
        if type(edge.mapping) is not Containment or up is None or 2 * len(up) > len(keys):
            found = list(map(snapshot.mapper(edge), keys))
        else:
            backwards: dict[str, list[str]] = {key: [] for key in keys}
            for up_key in snapshot.key_index(edge.upstream).ordered:
                for key in edge.mapping.downstream(up_key, up, down):
                    backwards[key].append(up_key)
            found = [tuple(up_keys) for up_keys in backwards.values()]
        self._mapped[same] = found
        return found

    def _keywise_lines(
        self, up: str, candidates: Sequence[int], mapped: list[tuple[str, ...]]
    ) -> list[str]:
        line = _Lines(up, self._snapshot.rows(up))
        done = self._done.get(up)
        if done is not None:  # every line of a whole upstream at once
            up_keys = done.keys.ordered
            line.update(zip(up_keys, fingerprint_lines(up, up_keys, done.data), strict=True))
        return [
            "\n".join(
                map(line.__getitem__, dict.fromkeys(mapped[i]) if len(mapped[i]) > 1 else mapped[i])
            )
            for i in candidates
        ]

    def _may_read_not_fresh(
        self,
        count: int,
        candidates: Sequence[int],
        changed: set[int],
        edges: list[WholeEdge],
        mapped: list[list[tuple[str, ...]] | None],
    ) -> list[int]:
        # The unchanged candidates that may read an upstream partition that is not fresh.
        near: set[int] = set()
        for edge, keywise in zip(edges, mapped, strict=True):
            done = self._done.get(edge.upstream)
            if done is None:  # computed key by key: each may
                near.update(candidates)
                continue
            if keywise is None:
                first, stop = edge.first, edge.stop
                for j in done.not_fresh:  # i reads j when i + first <= j < i + stop
                    near.update(range(max(0, j - stop + 1), min(count, j - first + 1)))
                continue
            up_keys = done.keys.ordered
            bad = {up_keys[j] for j in done.not_fresh}
            if bad:
                near.update(i for i in candidates if not bad.isdisjoint(keywise[i]))
        if not isinstance(candidates, range):
            near.intersection_update(candidates)
        return sorted(near.difference(changed))


def _all_known(data_versions: list[str | None]) -> TypeGuard[list[str]]:
    # Whether every partition has a data version: then the list is kept as it is.
    return None not in data_versions


def _first_not_fresh(up: str, keys: Iterable[str], status: Status) -> Cause | None:
    fresh = Freshness.FRESH
    for up_key in keys:
        found = status(up, up_key).status
        if found != fresh:
            return upstream_cause(up, up_key, found)
    return None


class _Lines(dict[str, str]):
    """The fingerprint line of each partition of an upstream asset, made when first asked."""

    def __init__(self, asset: str, rows: Mapping[str, StateRow]) -> None:
        super().__init__()
        self.asset, self.rows = asset, rows

    def __missing__(self, key: str) -> str:
        line = self[key] = f"{self.asset}|{key}|{self.rows.get(key, NO_ROW)[DATA_VERSION] or ''}"
        return line
