"""Partitions named by key: a fixed list (static) or keys added at run time (dynamic)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from pydantic import field_validator

from partita.assets.keys import check_key_part
from partita.assets.partitions.base import (
    NO_DYNAMIC_KEYS,
    DynamicKeys,
    KeySpace,
    ListSpace,
    PartitionsDefinition,
    key_list,
)

_NAME = re.compile(r"[a-z_][a-z0-9_]*")


class StaticPartitions(PartitionsDefinition):
    """A fixed list of keys, e.g. ``StaticPartitions(["eu", "us", "apac"])``.

    Adding or removing keys later keeps the state of the others.
    """

    keys: tuple[str, ...]
    dimension: str = "key"

    def __init__(self, keys: Sequence[str] | None = None, /, **data: Any) -> None:
        if keys is not None:
            data["keys"] = keys
        super().__init__(**data)

    @field_validator("keys")
    @classmethod
    def _valid_keys(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        if not keys:
            raise ValueError("StaticPartitions needs at least one key")
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"duplicate keys {duplicates}")
        for key in keys:
            check_key_part(key)
        return keys

    def space(self, now: dt.datetime, dynamic: DynamicKeys = NO_DYNAMIC_KEYS) -> KeySpace:
        return ListSpace(self, self.keys, f"StaticPartitions([{key_list(self.keys)}])")

    def dimensions(self) -> dict[str, PartitionsDefinition]:
        return {self.dimension: self}

    def shape(self) -> dict[str, Any]:
        return {"kind": "static", "dimension": self.dimension}

    def describe(self) -> str:
        return f"static [{key_list(self.keys)}]"


class DynamicPartitions(PartitionsDefinition):
    """Keys added at run time (``partita partitions add ASSET KEY...``), e.g. one per file.

    Assets that name the same set share its keys. The keys live in the catalog, in the
    order they were added; a removed key hides its partition's state, never deletes it.
    """

    name: str
    dimension: str = ""

    def __init__(self, name: str | None = None, /, **data: Any) -> None:
        if name is not None:
            data["name"] = name
        super().__init__(**data)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if not _NAME.fullmatch(name):
            raise ValueError(
                f"invalid dynamic partitions name {name!r}: use lowercase letters, digits and '_'"
            )
        return name

    @property
    def dimension_name(self) -> str:
        """The key's name in paths: ``dimension``, or the set's name."""
        return self.dimension or self.name

    def space(self, now: dt.datetime, dynamic: DynamicKeys = NO_DYNAMIC_KEYS) -> KeySpace:
        return ListSpace(
            self,
            dynamic.get(self.name, ()),
            f"the dynamic partitions set {self.name!r}",
            "add keys with `partita partitions add ASSET KEY...`",
        )

    def dimensions(self) -> dict[str, PartitionsDefinition]:
        return {self.dimension_name: self}

    def shape(self) -> dict[str, Any]:
        return {"kind": "dynamic", "name": self.name, "dimension": self.dimension_name}

    def describe(self) -> str:
        return f"dynamic {self.name!r}"

    def check_new_key(self, key: str) -> str:
        """Validate a key before it is added to the set."""
        return check_key_part(key)
