"""Partition mappings: which upstream partitions a downstream partition reads.

Every mapping answers both ways (``upstream`` and ``downstream``) and separates the
upstream partitions that exist in the upstream definition from those it cannot supply
(for example the days of a lookback window before the upstream's start), so status can
say precisely what is missing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from partita.assets.keys import UNPARTITIONED
from partita.assets.partitions import DailyPartitions, check_compatible
from partita.errors import DefinitionError

Partitions = DailyPartitions | None


@dataclass(frozen=True, slots=True)
class UpstreamPartitions:
    """The upstream side of a mapping for one downstream partition.

    Attributes:
        keys: upstream keys that exist in the upstream definition, oldest first.
        out_of_range: keys the mapping asks for that the definition cannot supply.
    """

    keys: tuple[str, ...]
    out_of_range: tuple[str, ...] = ()


class _Mapping(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def check(self, down: Partitions, up: Partitions, what: str) -> None:
        """Raise :class:`DefinitionError` when the mapping cannot join these definitions."""

    def upstream(
        self, key: str, down: Partitions, up: Partitions, now: dt.datetime
    ) -> UpstreamPartitions:  # pragma: no cover - every mapping overrides it
        raise NotImplementedError

    def downstream(
        self, key: str, up: Partitions, down: Partitions, now: dt.datetime
    ) -> tuple[str, ...]:  # pragma: no cover - every mapping overrides it
        raise NotImplementedError


class Identity(_Mapping):
    """The same partition key upstream (the default between same-partitioned assets).

    An unpartitioned side maps to the other side's single partition.
    """

    kind: Literal["identity"] = "identity"

    def check(self, down: Partitions, up: Partitions, what: str) -> None:
        if down is not None and up is not None:
            check_compatible(down, up, what)
        elif down is None and up is not None:
            raise DefinitionError(
                f"{what}: an unpartitioned asset cannot read one partition of a partitioned "
                "one by identity; use AllPartitions() or LastPartition()"
            )

    def upstream(
        self, key: str, down: Partitions, up: Partitions, now: dt.datetime
    ) -> UpstreamPartitions:
        if up is None:
            return UpstreamPartitions((UNPARTITIONED,))
        if up.contains(key, now):
            return UpstreamPartitions((key,))
        return UpstreamPartitions((), (key,))

    def downstream(
        self, key: str, up: Partitions, down: Partitions, now: dt.datetime
    ) -> tuple[str, ...]:
        if down is None:
            return (UNPARTITIONED,)
        if up is None:
            return tuple(down.keys(now))
        return (key,) if down.contains(key, now) else ()


class Window(_Mapping):
    """A lookback window: the ``days`` daily partitions ending at the downstream's own.

    The step receives them as one table (oldest first). Days before the upstream's
    start are clipped: they are reported as out of range, not as missing.
    """

    kind: Literal["window"] = "window"
    days: int = Field(ge=1)

    def check(self, down: Partitions, up: Partitions, what: str) -> None:
        if down is None or up is None:
            raise DefinitionError(f"{what}: Window(days=...) needs daily partitions on both sides")
        check_compatible(down, up, what)

    def upstream(
        self, key: str, down: Partitions, up: Partitions, now: dt.datetime
    ) -> UpstreamPartitions:
        assert up is not None
        last = up.index(key)
        first = last - self.days + 1
        count = up.count(now)
        inside = tuple(up.key_at(i) for i in range(max(first, 0), min(last, count - 1) + 1))
        outside = tuple(up.key_at(i) for i in range(first, last + 1) if i < 0 or i >= count)
        return UpstreamPartitions(inside, outside)

    def downstream(
        self, key: str, up: Partitions, down: Partitions, now: dt.datetime
    ) -> tuple[str, ...]:
        assert down is not None
        first = down.index(key)
        count = down.count(now)
        return tuple(down.key_at(i) for i in range(max(first, 0), min(first + self.days, count)))


class AllPartitions(_Mapping):
    """Every due partition upstream: an unpartitioned summary over a partitioned asset."""

    kind: Literal["all"] = "all"

    def upstream(
        self, key: str, down: Partitions, up: Partitions, now: dt.datetime
    ) -> UpstreamPartitions:
        return UpstreamPartitions(tuple(up.keys(now)) if up is not None else (UNPARTITIONED,))

    def downstream(
        self, key: str, up: Partitions, down: Partitions, now: dt.datetime
    ) -> tuple[str, ...]:
        return tuple(down.keys(now)) if down is not None else (UNPARTITIONED,)


class LastPartition(_Mapping):
    """Only the latest due partition upstream."""

    kind: Literal["last"] = "last"

    def upstream(
        self, key: str, down: Partitions, up: Partitions, now: dt.datetime
    ) -> UpstreamPartitions:
        if up is None:
            return UpstreamPartitions((UNPARTITIONED,))
        count = up.count(now)
        return UpstreamPartitions((up.key_at(count - 1),) if count else ())

    def downstream(
        self, key: str, up: Partitions, down: Partitions, now: dt.datetime
    ) -> tuple[str, ...]:
        if up is not None:
            count = up.count(now)
            if not count or up.key_at(count - 1) != key:
                return ()
        return tuple(down.keys(now)) if down is not None else (UNPARTITIONED,)


PartitionMapping = Identity | Window | AllPartitions | LastPartition


def default_mapping(down: Partitions, up: Partitions) -> PartitionMapping:
    """The mapping used when a dependency declares none."""
    if down is None and up is not None:
        return AllPartitions()
    return Identity()
