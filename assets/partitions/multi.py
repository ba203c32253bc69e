"""Multi-dimensional partitions: the product of several definitions (date, region, ...).

A key names one key per dimension, joined by ``|`` in declaration order
(``2026-04-08|eu``); its path is ``date=2026-04-08/region=eu``. On the command line a key
may also be written ``date=2026-04-08,region=eu`` (any order) or in its path form.
Keys are ordered oldest first: time dimensions vary slowest.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Mapping
from typing import Any

from pydantic import field_validator

from partita.assets.keys import check_safe_key
from partita.assets.partitions.base import (
    NO_DYNAMIC_KEYS,
    DynamicKeys,
    KeySpace,
    PartitionsDefinition,
    TimeWindow,
)
from partita.assets.partitions.timed import TimePartitions
from partita.errors import PartitionKeyError

SEPARATOR = "|"
_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_NEXT_ITEM = re.compile(r"[,/](?=[a-z_][a-z0-9_]*=)")


class MultiPartitions(PartitionsDefinition):
    """The product of named dimensions: ``MultiPartitions(date=daily, region=regions)``.

    Any number of dimensions (at least two); each is any single-dimension definition.
    The argument names are the dimension names used in keys and paths.
    """

    dims: tuple[tuple[str, PartitionsDefinition], ...]

    def __init__(self, **dimensions: Any) -> None:
        if not ("dims" in dimensions and len(dimensions) == 1):
            dimensions = {"dims": tuple(dimensions.items())}
        super().__init__(**dimensions)

    @field_validator("dims")
    @classmethod
    def _valid_dims(
        cls, dims: tuple[tuple[str, PartitionsDefinition], ...]
    ) -> tuple[tuple[str, PartitionsDefinition], ...]:
        if len(dims) < 2:
            raise ValueError(
                "MultiPartitions needs at least two dimensions, e.g. date=..., region=..."
            )
        for name, definition in dims:
            if not _NAME.fullmatch(name):
                raise ValueError(
                    f"invalid dimension name {name!r}: use lowercase letters, digits and '_'"
                )
            if isinstance(definition, MultiPartitions):
                raise ValueError(
                    f"dimension {name!r} is itself multi-dimensional; list its dimensions instead"
                )
        return dims

    def dimensions(self) -> dict[str, PartitionsDefinition]:
        return dict(self.dims)

    @property
    def time_dimension(self) -> str | None:
        """The name of the single time dimension, if there is exactly one."""
        names = [name for name, d in self.dims if isinstance(d, TimePartitions)]
        return names[0] if len(names) == 1 else None

    def order(self) -> list[str]:
        """Dimension names in key order: time dimensions first (they vary slowest)."""
        times = [name for name, d in self.dims if isinstance(d, TimePartitions)]
        return times + [name for name, _ in self.dims if name not in times]

    def space(self, now: dt.datetime, dynamic: DynamicKeys = NO_DYNAMIC_KEYS) -> ProductSpace:
        return ProductSpace(self, {name: d.space(now, dynamic) for name, d in self.dims})

    def shape(self) -> dict[str, Any]:
        # A list, not a dict: the declaration order is the order of the parts of a key.
        return {"kind": "multi", "dimensions": [[name, d.shape()] for name, d in self.dims]}

    def describe(self) -> str:
        return " x ".join(f"{name} ({d.describe()})" for name, d in self.dims)

    def split(self, key: str) -> dict[str, str]:
        parts = key.split(SEPARATOR)
        if len(parts) != len(self.dims):
            names = SEPARATOR.join(name for name, _ in self.dims)
            raise PartitionKeyError(f"{key!r} is not a key of {names}: give one key per dimension")
        return {name: part for (name, _), part in zip(self.dims, parts, strict=True)}

    def join(self, parts: Mapping[str, str]) -> str:
        return SEPARATOR.join(parts[name] for name, _ in self.dims)

    def window(self, key: str) -> TimeWindow | None:
        name = self.time_dimension
        return None if name is None else self.dimensions()[name].window(self.split(key)[name])

    def read_parts(self, text: str) -> dict[str, str]:
        """The per-dimension keys of any accepted spelling of a key (not validated)."""
        names = [name for name, _ in self.dims]
        if "=" not in text:
            return self.split(text)
        parts: dict[str, str] = {}
        for item in re.split(r"[,/]", text):
            name, sep, value = item.partition("=")
            if not sep or name not in names:
                raise PartitionKeyError(
                    f"{item!r} in {text!r} does not name a dimension; "
                    f"write {_spelling(names)} (dimensions: {', '.join(names)})"
                )
            if name in parts:
                raise PartitionKeyError(f"dimension {name!r} is given twice in {text!r}")
            parts[name] = value
        missing = [name for name in names if name not in parts]
        if missing:
            raise PartitionKeyError(
                f"{text!r} gives no key for {', '.join(missing)}; write {_spelling(names)}"
            )
        return parts


def _values(text: str) -> list[str]:
    # The per-dimension values of a spelling, for the safety check: `name=value` items
    # end only where the next `name=` starts, so a value keeps its own '/' and '..'.
    if "=" not in text:
        return text.split(SEPARATOR)
    return [item.partition("=")[2] for item in _NEXT_ITEM.split(text)]


def _spelling(names: list[str]) -> str:
    return ",".join(f"{name}=..." for name in names) + " or " + SEPARATOR.join("..." for _ in names)


class ProductSpace(KeySpace):
    """The keys of a multi-dimensional definition: the product of its dimensions' keys."""

    def __init__(self, definition: MultiPartitions, spaces: dict[str, KeySpace]) -> None:
        self.definition: MultiPartitions = definition
        self.spaces = spaces
        self._order = definition.order()
        self._sizes = [len(spaces[name]) for name in self._order]

    def timed(self) -> bool:
        return self.definition.time_dimension is not None

    def dimension_spaces(self) -> dict[str, KeySpace]:
        """Each dimension's space, by name."""
        return self.spaces

    def __len__(self) -> int:
        return math.prod(self._sizes)

    def key_at(self, index: int) -> str:
        parts: dict[str, str] = {}
        for name, size in zip(reversed(self._order), reversed(self._sizes), strict=True):
            index, position = divmod(index, size)
            parts[name] = self.spaces[name].key_at(position)
        return self.definition.join(parts)

    def index(self, key: str) -> int | None:
        try:
            parts = self.definition.split(key)
        except PartitionKeyError:
            return None
        index = 0
        for place, (name, size) in enumerate(zip(self._order, self._sizes, strict=True)):
            position = self.spaces[name].index(parts[name])
            if position is None or (place > 0 and not 0 <= position < size):
                return None
            index = index * size + position
        return index

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        parts = key.split(SEPARATOR)
        if len(parts) != len(self.spaces):
            return False
        return all(
            part in self.spaces[name]
            for (name, _), part in zip(self.definition.dims, parts, strict=True)
        )

    def keys(self) -> list[str]:
        return self.combine({name: self.spaces[name].keys() for name in self._order})

    def combine(self, keys: Mapping[str, list[str]]) -> list[str]:
        """Every key made of one of ``keys[dimension]`` per dimension, in key order."""
        join = self.definition.join
        return [
            join(dict(zip(self._order, combo, strict=True)))
            for combo in itertools.product(*(keys[name] for name in self._order))
        ]

    def parse(self, text: str, *, asset: str = "") -> str:
        for value in _values(text):
            check_safe_key(value)  # before splitting on '/', so '../..' is named whole
        parts = self.definition.read_parts(text)
        return self.definition.join(
            {name: self.spaces[name].parse(part, asset=asset) for name, part in parts.items()}
        )

    def select(self, first: str | None, last: str | None, *, asset: str = "") -> list[str]:
        time = self.definition.time_dimension
        if time is None:
            return super().select(first, last, asset=asset)
        keys = {name: space.keys() for name, space in self.spaces.items()}
        keys[time] = self.spaces[time].select(first, last, asset=asset)
        return self.combine(keys)
