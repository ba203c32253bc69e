"""Partitions definitions: which partition keys an asset has, and how they are spelled.

A definition is a declaration (a frozen pydantic model). Bound to a moment and to the
dynamic keys recorded in the catalog it becomes a :class:`KeySpace`: the ordered keys
that exist then (time partitions are due once their window has ended). Keys are
canonical strings (``2026-04-08``, ``2026-04``, ``2026-04-08T13:00``, ``2026-04-08|eu``)
rendered as hive path segments (``date=2026-04-08/region=eu``).
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pendulum
from pydantic import BaseModel, ConfigDict

from partita.assets.keys import check_safe_key
from partita.errors import PartitionKeyError

DynamicKeys = Mapping[str, Sequence[str]]
"""The keys of every dynamic partitions set, by set name, in the order they were added."""

NO_DYNAMIC_KEYS: DynamicKeys = {}


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A partition's half-open time window ``[start, end)``."""

    start: pendulum.DateTime
    end: pendulum.DateTime


class PartitionsDefinition(BaseModel, ABC):
    """The base of every partitions definition (``None`` means unpartitioned)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @abstractmethod
    def space(self, now: dt.datetime, dynamic: DynamicKeys = NO_DYNAMIC_KEYS) -> KeySpace:
        """The keys that exist at ``now`` (with ``dynamic`` keys for dynamic sets)."""

    @abstractmethod
    def dimensions(self) -> dict[str, PartitionsDefinition]:
        """The definition's dimensions by name (one for a single-dimension definition)."""

    @abstractmethod
    def shape(self) -> dict[str, Any]:
        """What the keys look like, without their range (start, end, static key list).

        Two definitions with the same shape spell the same partition the same way, so a
        change of range keeps every recorded partition; a change of shape does not.
        """

    @abstractmethod
    def describe(self) -> str:
        """A short human description, for listings."""

    def window(self, key: str) -> TimeWindow | None:
        """The partition's time window, or ``None`` for keys without time."""
        return None

    def split(self, key: str) -> dict[str, str]:
        """The key of each dimension of ``key``."""
        (name,) = self.dimensions()
        return {name: key}

    def segments(self, key: str) -> str:
        """The hive path segment(s) of ``key``: ``date=2026-04-08``."""
        return "/".join(f"{name}={part}" for name, part in self.split(key).items())

    def from_segments(self, path: str) -> str:
        """The key whose :meth:`segments` are ``path`` (the inverse of :meth:`segments`).

        Raises:
            PartitionKeyError: ``path`` is not this definition's segments.
        """
        names = list(self.dimensions())
        parts = path.split("/")
        found = dict(part.partition("=")[::2] for part in parts)
        if len(parts) != len(names) or list(found) != names:
            expected = "/".join(f"{name}=..." for name in names)
            raise PartitionKeyError(f"{path!r} is not a partition path; expected {expected}")
        return self.join(found)

    def join(self, parts: Mapping[str, str]) -> str:
        """The key made of one key per dimension (the inverse of :meth:`split`)."""
        (name,) = self.dimensions()
        return parts[name]


class KeySpace(ABC):
    """The partition keys of one definition at one moment, ordered oldest first.

    ``index`` and ``key_at`` are positions in that order. Time spaces also give
    positions outside ``[0, len)`` to well-formed keys the definition cannot supply (before
    its start, after its end, not due yet), which mappings report as out of range.
    """

    definition: PartitionsDefinition

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def key_at(self, index: int) -> str:
        """The key at position ``index``."""

    @abstractmethod
    def index(self, key: str) -> int | None:
        """The position of ``key``, or ``None`` if it is not a key of this shape."""

    @abstractmethod
    def parse(self, text: str, *, asset: str = "") -> str:
        """Validate a user-given key and return it in canonical form.

        Raises:
            PartitionKeyError: malformed, unsafe, or not an existing partition, with a
                message that says which and how to write it.
        """

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        index = self.index(key)
        return index is not None and 0 <= index < len(self)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def keys(self) -> list[str]:
        """Every key, oldest first."""
        return [self.key_at(i) for i in range(len(self))]

    def timed(self) -> bool:
        """Whether the keys have a time dimension (so :meth:`select` can take a range)."""
        return False

    def select(self, first: str | None, last: str | None, *, asset: str = "") -> list[str]:
        """The keys whose time overlaps ``first``..``last`` (dates or datetimes, inclusive).

        Raises:
            PartitionKeyError: the definition has no time dimension, or a bound is malformed.
        """
        owner = f"{asset} has" if asset else "these partitions have"
        raise PartitionKeyError(
            f"{owner} no time dimension, so --from/--to cannot select them; "
            "name partitions with --partition"
        )


class ListSpace(KeySpace):
    """A space of explicitly listed keys (static or dynamic partitions)."""

    def __init__(
        self, definition: PartitionsDefinition, keys: Sequence[str], what: str, hint: str = ""
    ) -> None:
        self.definition = definition
        self._keys = tuple(keys)
        self._index = {key: i for i, key in enumerate(self._keys)}
        self._what = what
        self._hint = hint

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def key_at(self, index: int) -> str:
        return self._keys[index]

    def index(self, key: str) -> int | None:
        return self._index.get(key)

    def keys(self) -> list[str]:
        return list(self._keys)

    def parse(self, text: str, *, asset: str = "") -> str:
        check_safe_key(text)
        if text in self._index:
            return text
        owner = f" of {asset}" if asset else ""
        known = f"the keys {key_list(self._keys)}" if self._keys else "no keys yet"
        hint = f"; {self._hint}" if self._hint else ""
        raise PartitionKeyError(
            f"{text!r} is not a partition{owner}: {self._what} has {known}{hint}"
        )


def key_list(keys: Sequence[str], limit: int = 10) -> str:
    """A short listing of keys for a message."""
    return ", ".join(keys[:limit]) + (", ..." if len(keys) > limit else "")
