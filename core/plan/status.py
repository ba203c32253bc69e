"""Status of partitions: missing, stale (with a cause) or fresh. Pure functions over values.

For asset A and partition p with committed version V:

* missing — no committed version;
* stale: code changed — V was built by another code version of A;
* stale: upstream changed — a mapped upstream partition's data version differs from the
  one V was built from (or the mapped set changed);
* stale: upstream stale / upstream missing — a mapped upstream partition is itself stale
  or missing;
* fresh — otherwise.

``StatusResolver.status`` computes one partition at a time, and what it needs upstream.
``StatusResolver.statuses`` computes whole assets at once (``_WholeAssets``) with the same
checks in the same order, over lists, in a fraction of the time. Both live here, side by
side, because they must agree to the last cause.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import compress, repeat
from operator import itemgetter, ne

from partita.assets import (
    UNPARTITIONED,
    AssetGraph,
    Containment,
    DynamicKeys,
    Edge,
    Identity,
    KeySpace,
    PartitionsDefinition,
    Previous,
    Window,
)
from partita.storage.records import PartitionState, PartitionStates, StateRow

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


FRESH_STATUS = PartitionStatus(FRESH)
"""The status of every fresh partition without a failure: one shared value, so that
``status is FRESH_STATUS`` picks out the common case quickly."""

_MISSING = PartitionStatus(MISSING, Cause(MISSING))
_CODE_CHANGED = PartitionStatus(STALE, Cause(CODE_CHANGED))
_NO_STATE = PartitionState(None, None, None, None)
_NO_ROW: StateRow = ("", "", None, None, None, None, None)
_VERSION, _DATA = 2, 4  # where a StateRow has the version id and the data version
# version_id, code_version, data_version, input_hash and failure of a StateRow.
_COLUMNS = tuple(itemgetter(i) for i in range(2, 7))

_blake2b = partial(hashlib.blake2b, digest_size=12)
_hexdigest = hashlib.blake2b.hexdigest


def input_fingerprint(inputs: Mapping[str, Mapping[str, str | None]]) -> str:
    """A fingerprint of the upstream data versions a partition reads.

    ``inputs`` maps each upstream asset to its mapped partitions (in mapping order)
    and their data versions; a missing partition has ``None``. The fingerprint is a
    BLAKE2b hash (12 bytes, in hex) of one ``asset|key|data version`` line per
    partition, upstream assets in name order.
    """
    return _digest(
        "\n".join(
            f"{asset}|{key}|{version or ''}"  # the line, as _lines makes many
            for asset in sorted(inputs)
            for key, version in inputs[asset].items()
        )
    )


def _lines(asset: str, keys: Iterable[str], versions: Iterable[str]) -> list[str]:
    # input_fingerprint's line of each key, its data version given ("" for none).
    return list(map("".join, zip(repeat(f"{asset}|"), keys, repeat("|"), versions)))


def _digest(text: str) -> str:
    return _hexdigest(_blake2b(text.encode()))


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
        self.graph = graph
        self.states = states
        self.now = now
        self.dynamic = dynamic or {}
        self._memo: dict[str, dict[str, PartitionStatus]] = {}
        self._mappers: dict[int, tuple[Edge, Callable[[str], tuple[str, ...]]]] = {}
        self._plans: dict[str, _Plan] = {}
        self._spaces: dict[PartitionsDefinition, KeySpace] = {}
        self._keys: dict[PartitionsDefinition, tuple[list[str], frozenset[str]]] = {}
        self._rows: dict[str, Mapping[str, StateRow]] = {}
        self._self_dependent: dict[str, bool] = {}
        self._warmed: dict[str, int] = {}
        self._whole = _WholeAssets(self)

    def space(self, asset: str) -> KeySpace | None:
        """The partitions ``asset`` has at ``now`` (``None`` when unpartitioned)."""
        definition = self.graph.get(asset).partitions
        if definition is None:
            return None
        found = self._spaces.get(definition)
        if found is None:  # assets with equal definitions share one space (and its key index)
            found = self._spaces[definition] = definition.space(self.now, self.dynamic)
        return found

    def keys(self, asset: str) -> list[str]:
        """Every partition of ``asset`` at ``now``, oldest first (listed once per definition)."""
        return list(self._keys_of(asset)[0])

    def _keys_of(self, asset: str) -> tuple[list[str], frozenset[str]]:
        # The keys of the asset's space, in order and as a set: shared, never to be changed.
        space = self.space(asset)
        if space is None:
            return [UNPARTITIONED], frozenset((UNPARTITIONED,))
        found = self._keys.get(space.definition)
        if found is None:
            keys = space.keys()
            found = self._keys[space.definition] = (keys, frozenset(keys))
        return found

    def outside(self, asset: str) -> int:
        """How many committed partitions of ``asset`` its definition no longer has."""
        if self.space(asset) is None:
            return 0
        rows, keys = self._rows_of(asset), self._keys_of(asset)[1]
        if keys.issuperset(rows):
            return 0
        return sum(1 for key, row in rows.items() if row[_VERSION] and key not in keys)

    def state(self, asset: str, key: str) -> PartitionState:
        """The catalog state of a partition (an empty one if never recorded)."""
        row = self._rows_of(asset).get(key)
        return _NO_STATE if row is None else PartitionState(*row[2:])

    def _rows_of(self, asset: str) -> Mapping[str, StateRow]:
        found = self._rows.get(asset)
        if found is None:
            recorded = self.states.get(asset, {})
            if isinstance(recorded, PartitionStates):
                found = recorded.rows
            else:
                found = {key: _row(asset, key, state) for key, state in recorded.items()}
            self._rows[asset] = found
        return found

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
                up_key: self._rows_of(edge.upstream).get(up_key, _NO_ROW)[_DATA]
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
            if self._whole.has(asset, key):  # memoized only when not plainly fresh
                return FRESH_STATUS
            if self._is_self_dependent(asset):
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
            self._whole.compute(asset)
        memo = self._memo.setdefault(asset, {})
        if self._whole.has_all(asset, keys):
            return list(map(memo.get, keys, repeat(FRESH_STATUS)))
        return [memo.get(key) or self.status(asset, key) for key in keys]

    def _is_self_dependent(self, asset: str) -> bool:
        found = self._self_dependent.get(asset)
        if found is None:
            found = asset in self.graph and self.graph.self_dependent(asset)
            self._self_dependent[asset] = found
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
                return self._rows_of(asset), None, (), ()
            edges = tuple(
                (
                    edge.upstream,
                    self._rows_of(edge.upstream),
                    self._mapper(edge),
                    self._memo.setdefault(edge.upstream, {}),
                )
                for edge in self.graph.upstream(asset)
            )
            found = self._plans[asset] = (
                self._rows_of(asset),
                self.graph.get(asset).code_version,
                edges,
                tuple(sorted(range(len(edges)), key=lambda i: edges[i][0])),
            )
        return found

    def _compute(self, asset: str, key: str) -> PartitionStatus:
        rows, code_version, edges, by_name = self._plan(asset)
        _, _, version_id, built_with, _, input_hash, failure = rows.get(key, _NO_ROW)
        if version_id is None:
            return PartitionStatus(MISSING, Cause(MISSING), failure)
        if code_version is None:
            self.graph.get(asset)  # an unknown asset that was recorded: DefinitionError
        if built_with != code_version:
            return PartitionStatus(STALE, Cause(CODE_CHANGED), failure)
        if edges:
            mapped = [mapper(key) for _, _, mapper, _ in edges]
            # input_fingerprint(self.inputs(asset, key)), without building the dicts.
            lines = []
            for index in by_name:
                up, up_rows = edges[index][0], edges[index][1]
                keys = mapped[index]
                for up_key in dict.fromkeys(keys) if len(keys) > 1 else keys:
                    version = up_rows.get(up_key, _NO_ROW)[_DATA]
                    lines.append(f"{up}|{up_key}|{version or ''}")
            if _digest("\n".join(lines)) != input_hash:
                return PartitionStatus(STALE, self._changed(asset, key), failure)
            for (up, _, _, up_memo), keys in zip(edges, mapped, strict=True):
                cause = self._first_not_fresh(up, up_memo, keys)
                if cause is not None:
                    return PartitionStatus(STALE, cause, failure)
        if failure is not None:
            return PartitionStatus(FRESH, None, failure)
        return FRESH_STATUS

    def _first_not_fresh(
        self, up: str, up_memo: dict[str, PartitionStatus], keys: Sequence[str]
    ) -> Cause | None:
        for up_key in keys:
            up_status = (up_memo.get(up_key) or self.status(up, up_key)).status
            if up_status != FRESH:
                kind = UPSTREAM_MISSING if up_status == MISSING else UPSTREAM_STALE
                return Cause(kind, up, up_key)
        return None

    def _changed(self, asset: str, key: str) -> Cause:
        # Without the recorded inputs only the asset can be named; `why` names the partition.
        edges = self.graph.upstream(asset)
        return Cause(UPSTREAM_CHANGED, edges[0].upstream if len(edges) == 1 else None)


class _WholeAssets:
    """The statuses of every partition of whole assets, for a resolver.

    Status over every partition of many assets is mostly fresh partitions whose upstream
    partitions sit at the same position of the same key space (Identity between equal
    definitions) or a few positions around it (Window, Previous). Such an asset is
    computed whole: the checks of ``StatusResolver._compute``, in its order, over lists in
    C loops (map, compress, list.count), and key by key only where a partition is not
    fresh. Edges of other kinds are mapped key by key. Only the statuses that are not
    ``FRESH_STATUS`` go into the resolver's memo.
    """

    def __init__(self, resolver: StatusResolver) -> None:
        # A proxy: the resolver holds this object, and a reference cycle would keep its
        # snapshot (a million rows) alive until the next full garbage collection.
        self.r = weakref.proxy(resolver)
        self._not_fresh: dict[str, list[int]] = {}  # per whole asset, sorted positions
        self._data: dict[str, list[str]] = {}  # per whole asset, each key's data version
        self._order: dict[str, int] | None = None  # each asset's place in the graph's order
        self._mapped: dict[tuple[object, ...], list[tuple[str, ...]]] = {}  # see _upstream_keys

    def has(self, asset: str, key: str) -> bool:
        """Whether ``asset`` was computed whole and ``key`` is one of its partitions."""
        return asset in self._not_fresh and key in self.r._keys_of(asset)[1]

    def has_all(self, asset: str, keys: Sequence[str]) -> bool:
        """Whether ``asset`` was computed whole and has every one of ``keys``."""
        if asset not in self._not_fresh:
            return False
        listed, known = self.r._keys_of(asset)
        return keys == listed or known.issuperset(keys)  # the same strings: compared by identity

    def compute(self, asset: str) -> None:
        """Compute ``asset`` whole, if it can be, after its upstream through positional edges."""
        needed: set[str] = set()
        todo = [asset]
        while todo:
            name = todo.pop()
            if name not in needed and name not in self._not_fresh and self._possible(name):
                needed.add(name)
                todo.extend(edge.upstream for edge in self.r.graph.upstream(name))
        if self._order is None:
            self._order = {name: i for i, name in enumerate(self.r.graph.order)}
        for name in sorted(needed, key=self._order.__getitem__):
            self._asset(name)

    def _possible(self, asset: str) -> bool:
        r = self.r
        return asset in r.graph and r.space(asset) is not None and not r._is_self_dependent(asset)

    def _edges(self, asset: str) -> list[_WholeEdge]:
        # Per upstream edge, in the graph's order: the upstream and how positions map to it.
        r = self.r
        space = r.space(asset)
        edges: list[_WholeEdge] = []
        for edge in r.graph.upstream(asset):
            up, mapping = edge.upstream, edge.mapping
            if r.space(up) is not space or not self._possible(up):
                edges.append((up, 0, 0, edge))
            elif type(mapping) is Identity:
                edges.append((up, 0, 1, None))
            elif type(mapping) is Window:
                edges.append((up, mapping.offset - mapping.size + 1, mapping.offset + 1, None))
            elif type(mapping) is Previous:  # Window(size=1, offset=-1)
                edges.append((up, -1, 0, None))
            else:
                edges.append((up, 0, 0, edge))
        return edges

    def _asset(self, asset: str) -> None:
        r = self.r
        keys = r._keys_of(asset)[0]
        count = len(keys)
        if not count:
            self._data[asset], self._not_fresh[asset] = [], []
            return
        rows = list(map(r._rows_of(asset).get, keys, repeat(_NO_ROW)))
        versions, codes, data, hashes, failures = (list(map(column, rows)) for column in _COLUMNS)
        memo = r._memo.setdefault(asset, {})
        not_fresh: list[int] = []
        code = r.graph.get(asset).code_version
        candidates: Sequence[int]
        if None not in versions and codes.count(code) == count:
            candidates = range(count)
        else:
            candidates = []
            for i, (version, built_with) in enumerate(zip(versions, codes, strict=True)):
                if version is not None and built_with == code:
                    candidates.append(i)
                    continue
                memo[keys[i]] = _with_failure(
                    _MISSING if version is None else _CODE_CHANGED, failures[i]
                )
                not_fresh.append(i)
        edges = self._edges(asset)
        if edges and candidates:
            stale = self._check_inputs(asset, keys, hashes, failures, candidates, edges)
            memo.update((keys[i], status) for i, status in stale.items())
            not_fresh.extend(stale)
        if failures.count(None) != count:
            for key, failure in zip(keys, failures, strict=True):
                if failure is not None and key not in memo:
                    memo[key] = PartitionStatus(FRESH, None, failure)
        self._data[asset] = [v or "" for v in data] if None in data else data
        self._not_fresh[asset] = sorted(not_fresh)

    def _check_inputs(
        self,
        asset: str,
        keys: list[str],
        hashes: Sequence[str | None],
        failures: Sequence[str | None],
        candidates: Sequence[int],
        edges: list[_WholeEdge],
    ) -> dict[int, PartitionStatus]:
        # The fingerprint of each candidate, then its upstream: the stale ones by position.
        mapped = [None if edge[3] is None else self._upstream_keys(edge[3], keys) for edge in edges]
        texts = self._input_texts(keys, candidates, edges, mapped)
        digests = map(_hexdigest, map(_blake2b, map(str.encode, texts)))
        recorded = hashes if len(candidates) == len(keys) else map(hashes.__getitem__, candidates)
        changed = set(compress(candidates, map(ne, digests, recorded)))
        cause = self.r._changed(asset, "")
        stale = {i: PartitionStatus(STALE, cause, failures[i]) for i in changed}
        up_memos = [self.r._memo.setdefault(edge[0], {}) for edge in edges]
        for i in self._may_read_not_fresh(len(keys), candidates, changed, edges, mapped):
            for (up, first, stop, _), up_memo, keywise in zip(edges, up_memos, mapped, strict=True):
                if keywise is None:
                    up_keys: Sequence[str] = keys[max(0, i + first) : max(0, i + stop)]
                else:
                    up_keys = keywise[i]
                found = self.r._first_not_fresh(up, up_memo, up_keys)
                if found is not None:
                    stale[i] = PartitionStatus(STALE, found, failures[i])
                    break
        return stale

    def _input_texts(
        self,
        keys: list[str],
        candidates: Sequence[int],
        edges: list[_WholeEdge],
        mapped: list[list[tuple[str, ...]] | None],
    ) -> list[str]:
        # What input_fingerprint hashes, for each candidate position.
        everything = len(candidates) == len(keys)
        order = sorted(range(len(edges)), key=lambda e: edges[e][0])
        if all(edges[e][1:] == (0, 1, None) for e in order):  # identity only: one join per key
            at = keys if everything else list(map(keys.__getitem__, candidates))
            pieces: list[Iterable[str]] = []
            for n, e in enumerate(order):
                up, data = edges[e][0], self._data[edges[e][0]]
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
            lines = _lines(up, keys, self._data[up])
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
        r = self.r
        up, down = r.space(edge.upstream), r.space(edge.downstream)
        same = (edge.mapping, up, down)  # edges alike map alike: once for all of them
        found = self._mapped.get(same)
        if found is not None:
            return found
        if type(edge.mapping) is not Containment or up is None or 2 * len(up) > len(keys):
            found = list(map(r._mapper(edge), keys))
        else:
            backwards: dict[str, list[str]] = {key: [] for key in keys}
            for up_key in r._keys_of(edge.upstream)[0]:
                for key in edge.mapping.downstream(up_key, up, down):
                    backwards[key].append(up_key)
            found = [tuple(up_keys) for up_keys in backwards.values()]
        self._mapped[same] = found
        return found

    def _keywise_lines(
        self, up: str, candidates: Sequence[int], mapped: list[tuple[str, ...]]
    ) -> list[str]:
        line = _Lines(up, self.r._rows_of(up))
        if up in self._not_fresh:  # every line of a whole upstream at once
            up_keys = self.r._keys_of(up)[0]
            line.update(zip(up_keys, _lines(up, up_keys, self._data[up]), strict=True))
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
        edges: list[_WholeEdge],
        mapped: list[list[tuple[str, ...]] | None],
    ) -> list[int]:
        # The unchanged candidates that may read an upstream partition that is not fresh.
        near: set[int] = set()
        for (up, first, stop, _), keywise in zip(edges, mapped, strict=True):
            if up not in self._not_fresh:  # computed key by key: each may
                near.update(candidates)
                continue
            if keywise is None:
                for j in self._not_fresh[up]:  # i reads j when i + first <= j < i + stop
                    near.update(range(max(0, j - stop + 1), min(count, j - first + 1)))
                continue
            up_keys = self.r._keys_of(up)[0]
            bad = {up_keys[j] for j in self._not_fresh[up]}
            if bad:
                near.update(i for i in candidates if not bad.isdisjoint(keywise[i]))
        if not isinstance(candidates, range):
            near.intersection_update(candidates)
        return sorted(near.difference(changed))


class _Lines(dict[str, str]):
    """The fingerprint line of each partition of an upstream asset, made when first asked."""

    def __init__(self, asset: str, rows: Mapping[str, StateRow]) -> None:
        super().__init__()
        self.asset, self.rows = asset, rows

    def __missing__(self, key: str) -> str:
        line = self[key] = f"{self.asset}|{key}|{self.rows.get(key, _NO_ROW)[_DATA] or ''}"
        return line


def _row(asset: str, key: str, state: PartitionState) -> StateRow:
    return (
        asset,
        key,
        state.version_id,
        state.code_version,
        state.data_version,
        state.input_hash,
        state.failure,
    )


def _with_failure(status: PartitionStatus, failure: str | None) -> PartitionStatus:
    if failure is None:
        return status
    return PartitionStatus(status.status, status.cause, failure)


# Per upstream edge of a whole asset: the upstream and how it maps position i, either to
# the upstream positions i + first <= j < i + stop of the same key space, or key by key
# through the edge's mapping (then first and stop are unused).
_WholeEdge = tuple[str, int, int, Edge | None]

# Per asset: its recorded rows, its code version, per upstream edge (in the graph's
# order) the upstream asset, its recorded rows, the function mapping a key to upstream
# keys and the upstream's memo; and the edges' indexes by upstream name (fingerprint order).
_Plan = tuple[
    Mapping[str, StateRow],
    str | None,
    tuple[
        tuple[
            str,
            Mapping[str, StateRow],
            Callable[[str], tuple[str, ...]],
            dict[str, PartitionStatus],
        ],
        ...,
    ],
    tuple[int, ...],
]
