"""What status reads: the asset graph and a catalog snapshot at ``now``, indexed once.

Both ways of computing status (key by key in :mod:`~partita.core.plan.status`, whole
assets in :mod:`~partita.core.plan.whole`) read through one :class:`Snapshot`, and compare
the input fingerprints :func:`input_fingerprint` makes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from itertools import repeat
from operator import itemgetter
from typing import NamedTuple

from partita.assets import (
    UNPARTITIONED,
    AssetGraph,
    DynamicKeys,
    Edge,
    Identity,
    KeySpace,
    PartitionsDefinition,
)
from partita.core.plan.causes import Cause, CauseKind
from partita.storage.records import PartitionState, PartitionStates, StateRow

States = Mapping[str, Mapping[str, PartitionState]]

# Where a StateRow (as the database returned it: naming a million rows would cost more
# than reading them) holds the version id and the data version, and the getters of its
# version id, code version, data version, input hash and failure.
VERSION_ID, DATA_VERSION = 2, 4
_COLUMNS = tuple(itemgetter(i) for i in range(2, 7))
NO_ROW: StateRow = ("", "", None, None, None, None, None)
"""The row of a partition the catalog has no record of."""

_NO_STATE = PartitionState(None, None, None, None)
_blake2b = partial(hashlib.blake2b, digest_size=12)
_hexdigest = hashlib.blake2b.hexdigest


class KeyIndex(NamedTuple):
    """The keys of a key space, oldest first and as a set. Shared: never to be changed."""

    ordered: list[str]
    known: frozenset[str]


class StateColumns(NamedTuple):
    """The recorded state of some partitions of an asset, a list per field, in key order
    (``None`` throughout for a partition never recorded)."""

    version_id: list[str | None]
    code_version: list[str | None]
    data_version: list[str | None]
    input_hash: list[str | None]
    failure: list[str | None]


def input_fingerprint(inputs: Mapping[str, Mapping[str, str | None]]) -> str:
    """A fingerprint of the upstream data versions a partition reads.

    ``inputs`` maps each upstream asset to its mapped partitions (in mapping order)
    and their data versions; a missing partition has ``None``. The fingerprint is a
    BLAKE2b hash (12 bytes, in hex) of one ``asset|key|data version`` line per
    partition, upstream assets in name order.
    """
    return digest(
        "\n".join(
            f"{asset}|{key}|{version or ''}"  # the line, as fingerprint_lines makes many
            for asset in sorted(inputs)
            for key, version in inputs[asset].items()
        )
    )


def fingerprint_lines(asset: str, keys: Iterable[str], versions: Iterable[str]) -> list[str]:
    """:func:`input_fingerprint`'s line of each key, its data version given ("" for none)."""
    return list(map("".join, zip(repeat(f"{asset}|"), keys, repeat("|"), versions)))


def digest(text: str) -> str:
    """The fingerprint of the lines ``text`` joins."""
    return _hexdigest(_blake2b(text.encode()))


def digests(texts: Iterable[str]) -> Iterator[str]:
    """:func:`digest` of each of ``texts``, in C loops."""
    return map(_hexdigest, map(_blake2b, map(str.encode, texts)))


class Snapshot:
    """An asset graph and a catalog snapshot at ``now``: each asset's key space, keys and
    recorded rows, and each edge's key mapping, made once and shared.

    Args:
        graph: the asset graph.
        states: per asset, the catalog state of each recorded partition (a snapshot:
            what is read from it is kept, so it must not change while it is used).
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
        self._spaces: dict[PartitionsDefinition, KeySpace] = {}
        self._keys: dict[PartitionsDefinition, KeyIndex] = {}
        self._rows: dict[str, Mapping[str, StateRow]] = {}
        self._mappers: dict[int, tuple[Edge, Callable[[str], tuple[str, ...]]]] = {}
        self._self_dependent: dict[str, bool] = {}

    def space(self, asset: str) -> KeySpace | None:
        """The partitions ``asset`` has at ``now`` (``None`` when unpartitioned)."""
        definition = self.graph.get(asset).partitions
        if definition is None:
            return None
        found = self._spaces.get(definition)
        if found is None:  # assets with equal definitions share one space (and its key index)
            found = self._spaces[definition] = definition.space(self.now, self.dynamic)
        return found

    def key_index(self, asset: str) -> KeyIndex:
        """The keys of ``asset``'s space (listed once per definition)."""
        space = self.space(asset)
        if space is None:
            return KeyIndex([UNPARTITIONED], frozenset((UNPARTITIONED,)))
        found = self._keys.get(space.definition)
        if found is None:
            keys = space.keys()
            found = self._keys[space.definition] = KeyIndex(keys, frozenset(keys))
        return found

    def rows(self, asset: str) -> Mapping[str, StateRow]:
        """The recorded row of each partition of ``asset``."""
        found = self._rows.get(asset)
        if found is None:
            recorded = self.states.get(asset, {})
            if isinstance(recorded, PartitionStates):
                found = recorded.rows
            else:
                found = {key: _row(asset, key, state) for key, state in recorded.items()}
            self._rows[asset] = found
        return found

    def columns(self, asset: str, keys: Iterable[str]) -> StateColumns:
        """The recorded state of ``keys`` of ``asset``, field by field."""
        rows = list(map(self.rows(asset).get, keys, repeat(NO_ROW)))
        return StateColumns(*(list(map(column, rows)) for column in _COLUMNS))

    def state(self, asset: str, key: str) -> PartitionState:
        """The catalog state of a partition (an empty one if never recorded)."""
        row = self.rows(asset).get(key)
        return _NO_STATE if row is None else PartitionState(*row[2:])

    def outside(self, asset: str) -> int:
        """How many committed partitions of ``asset`` its definition no longer has."""
        if self.space(asset) is None:
            return 0
        rows, keys = self.rows(asset), self.key_index(asset).known
        if keys.issuperset(rows):
            return 0
        return sum(1 for key, row in rows.items() if row[VERSION_ID] and key not in keys)

    def mapper(self, edge: Edge) -> Callable[[str], tuple[str, ...]]:
        """The function mapping a key of ``edge``'s downstream to its upstream keys (inside
        their definition)."""
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

    def self_dependent(self, asset: str) -> bool:
        """Whether ``asset`` (a known one) reads earlier partitions of itself."""
        found = self._self_dependent.get(asset)
        if found is None:
            found = asset in self.graph and self.graph.self_dependent(asset)
            self._self_dependent[asset] = found
        return found

    def upstream_changed(self, asset: str) -> Cause:
        """The cause of a partition of ``asset`` whose input fingerprint changed."""
        # Without the recorded inputs only the asset can be named; `why` names the partition.
        edges = self.graph.upstream(asset)
        return Cause(CauseKind.UPSTREAM_CHANGED, edges[0].upstream if len(edges) == 1 else None)


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
