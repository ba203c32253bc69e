"""The due windows of a time definition as a key space: keys rendered in blocks, once per
definition, so that listing and looking up keys costs a dictionary, not a timezone."""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING

from partita.assets.keys import check_safe_key
from partita.assets.partitions.base import KeySpace
from partita.assets.partitions.timekeys import parse_bound
from partita.errors import PartitionKeyError

if TYPE_CHECKING:
    from partita.assets.partitions.timed import TimePartitions


_BLOCK = 4096  # keys rendered at a time, and cached per definition


@functools.lru_cache(maxsize=512)  # at most 2M keys, about 150 MB
def _rendered_block(definition: TimePartitions, block: int) -> tuple[str, ...]:
    """The keys of ordinals ``block * _BLOCK`` up to the next block, rendered once for all
    equal definitions (a key depends on nothing else)."""
    key_of = definition.key_of
    start = block * _BLOCK
    return tuple(key_of(ordinal) for ordinal in range(start, start + _BLOCK))


class TimeSpace(KeySpace):
    """The due windows ``[first, stop)`` of a time definition, by ordinal."""

    def __init__(self, definition: TimePartitions, first: int, stop: int) -> None:
        self.definition: TimePartitions = definition
        self.first = first
        self.stop = stop
        self._listing: tuple[list[str], dict[str, int]] | None = None

    def __len__(self) -> int:
        return self.stop - self.first

    def timed(self) -> bool:
        return True

    def key_at(self, index: int) -> str:
        return self.definition.key_of(self.first + index)

    def _listed(self) -> tuple[list[str], dict[str, int]]:
        # Rendering a key is the costly part (hourly keys go through the timezone), so the
        # keys are rendered once per space, for listing and for lookups alike, from blocks
        # rendered once per definition (a long-lived process makes a new space at every
        # look, each one hour longer than the last).
        if self._listing is None:
            keys: list[str] = []
            first, stop = self.first, self.stop
            for block in range(first // _BLOCK, -(-stop // _BLOCK)):
                rendered = _rendered_block(self.definition, block)
                base = block * _BLOCK
                keys.extend(rendered[max(first - base, 0) : min(stop - base, _BLOCK)])
            self._listing = keys, {key: i for i, key in enumerate(keys)}
        return self._listing

    def index(self, key: str) -> int | None:
        found = self._listed()[1].get(key)
        if found is not None:
            return found
        try:
            return self.definition.ordinal_of(key) - self.first
        except PartitionKeyError:
            return None

    def __contains__(self, key: object) -> bool:
        return key in self._listed()[1]

    def keys(self) -> list[str]:
        return list(self._listed()[0])

    def parse(self, text: str, *, asset: str = "") -> str:
        check_safe_key(text)
        definition = self.definition
        ordinal = definition.ordinal_of(text)
        key = definition.key_of(ordinal)
        owner = f"{asset}'s" if asset else "the"
        if ordinal < self.first:
            raise PartitionKeyError(
                f"partition {key} is before {owner} first partition "
                f"{definition.key_of(self.first)} (the start of its {type(definition).__name__})"
            )
        if ordinal >= self.stop:
            end = definition._end_instant()
            if end is not None and ordinal >= definition._stop(end):
                last = definition.key_of(definition._stop(end) - 1)
                raise PartitionKeyError(f"partition {key} is past {owner} last partition {last}")
            raise PartitionKeyError(
                f"partition {key} is not complete yet: its window ends at "
                f"{definition.start_of(ordinal + 1).isoformat()}"
            )
        return key

    def select(self, first: str | None, last: str | None, *, asset: str = "") -> list[str]:
        definition = self.definition
        low, high = self.first, self.stop
        lower = parse_bound(first, definition.timezone)[0] if first is not None else None
        upper = parse_bound(last, definition.timezone)[1] if last is not None else None
        if lower is not None and upper is not None and lower >= upper:
            raise PartitionKeyError(f"--from {first} is after --to {last}")
        if lower is not None:
            low = max(low, definition.ordinal_at(lower))
        if upper is not None:
            high = min(high, definition.ordinal_at(upper - dt.timedelta(microseconds=1)) + 1)
        return [definition.key_of(ordinal) for ordinal in range(low, high)]


__all__ = ["TimeSpace"]
