"""Partition mappings: which upstream partitions a downstream partition reads.

Every mapping answers both ways (``upstream`` and ``downstream``) over the key spaces of
both sides at one moment, and separates the upstream partitions that exist from those
the upstream definition cannot supply (for example the days of a lookback window before
the upstream's start), so status can say precisely what is missing. ``None`` stands for
an unpartitioned side.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from partita.assets.keys import UNPARTITIONED
from partita.assets.partitions.base import KeySpace, PartitionsDefinition
from partita.assets.partitions.multi import MultiPartitions, ProductSpace
from partita.assets.partitions.timed import TimePartitions
from partita.assets.partitions.timespace import TimeSpace
from partita.errors import DefinitionError

Definition = PartitionsDefinition | None
Space = KeySpace | None
_TICK = dt.timedelta(microseconds=1)


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

    def check(self, down: Definition, up: Definition, what: str) -> None:
        """Raise :class:`DefinitionError` when the mapping cannot join these definitions."""

    def earlier_only(self) -> bool:
        """Whether every upstream key is strictly earlier (what a self-dependency needs)."""
        return False

    def upstream(
        self, key: str, down: Space, up: Space
    ) -> UpstreamPartitions:  # pragma: no cover - every mapping overrides it
        raise NotImplementedError

    def downstream(
        self, key: str, up: Space, down: Space
    ) -> tuple[str, ...]:  # pragma: no cover - every mapping overrides it
        raise NotImplementedError


def _identity_shape(definition: PartitionsDefinition) -> Any:
    # What must agree for the same key to mean the same partition on both sides.
    if isinstance(definition, MultiPartitions):  # in order: it is the order of a key's parts
        return [(name, _identity_shape(d)) for name, d in definition.dims]
    if isinstance(definition, TimePartitions):
        return {k: v for k, v in definition.shape().items() if k != "dimension"}
    return "keys"


def _need_time(definition: Definition, mapping: str, what: str) -> TimePartitions:
    if not isinstance(definition, TimePartitions):
        kind = "unpartitioned" if definition is None else definition.describe()
        raise DefinitionError(f"{what}: {mapping} needs time partitions on both sides, not {kind}")
    return definition


def _ordinals(space: TimeSpace, low: int, high: int) -> UpstreamPartitions:
    # Ordinals low..high (inclusive) split into the space's keys and the others.
    key_of = space.definition.key_of
    inside = range(max(low, space.first), min(high, space.stop - 1) + 1)
    outside = [o for o in range(low, high + 1) if not space.first <= o < space.stop]
    return UpstreamPartitions(tuple(map(key_of, inside)), tuple(map(key_of, outside)))


class Identity(_Mapping):
    """The same partition key upstream (the default between same-partitioned assets).

    An unpartitioned side maps to the other side's single partition.
    """

    kind: Literal["identity"] = "identity"

    def check(self, down: Definition, up: Definition, what: str) -> None:
        if down is not None and up is not None:
            if _identity_shape(down) != _identity_shape(up):
                raise DefinitionError(
                    f"{what}: Identity() maps a key to the same key, but the partitions differ "
                    f"({down.describe()} and {up.describe()}); use Containment() between time "
                    "granularities, or Dimensions(...) for multi-dimensional partitions"
                )
        elif down is None and up is not None:
            raise DefinitionError(
                f"{what}: an unpartitioned asset cannot read one partition of a partitioned "
                "one by identity; use AllPartitions() or LastPartition()"
            )

    def upstream(self, key: str, down: Space, up: Space) -> UpstreamPartitions:
        if up is None:
            return UpstreamPartitions((UNPARTITIONED,))
        return UpstreamPartitions((key,)) if key in up else UpstreamPartitions((), (key,))

    def downstream(self, key: str, up: Space, down: Space) -> tuple[str, ...]:
        if down is None:
            return (UNPARTITIONED,)
        if up is None:
            return tuple(down.keys())
        return (key,) if key in down else ()


class Containment(_Mapping):
    """The upstream time windows that overlap the downstream's window.

    The default between time partitions of different granularities: a weekly partition
    reads its seven days, an hourly partition reads the day that contains it.
    """

    kind: Literal["containment"] = "containment"

    def check(self, down: Definition, up: Definition, what: str) -> None:
        _need_time(down, "Containment()", what)
        _need_time(up, "Containment()", what)

    def upstream(self, key: str, down: Space, up: Space) -> UpstreamPartitions:
        assert isinstance(down, TimeSpace) and isinstance(up, TimeSpace)
        return _ordinals(up, *_overlapping(down.definition, key, up.definition))

    def downstream(self, key: str, up: Space, down: Space) -> tuple[str, ...]:
        assert isinstance(down, TimeSpace) and isinstance(up, TimeSpace)
        return _ordinals(down, *_overlapping(up.definition, key, down.definition)).keys


def _overlapping(source: TimePartitions, key: str, target: TimePartitions) -> tuple[int, int]:
    # The first and last ordinals of `target` whose windows overlap `source`'s window `key`.
    window = source.window(key)
    return target.ordinal_at(window.start), target.ordinal_at(window.end - _TICK)


class Window(_Mapping):
    """A window of ``size`` upstream partitions ending ``offset`` partitions from the key.

    ``Window(size=7)`` reads the last seven partitions up to and including the
    downstream's own (the step receives them as one table, oldest first);
    ``Window(size=2, offset=1)`` looks ahead one; ``offset=-1`` ends at the previous one.
    Both sides have the same granularity. Partitions the upstream cannot supply (before
    its start, not due yet) are reported as out of range, not as missing.
    """

    kind: Literal["window"] = "window"
    size: int = Field(ge=1, validation_alias=AliasChoices("size", "days"))
    offset: int = 0

    def check(self, down: Definition, up: Definition, what: str) -> None:
        _check_one_granularity(down, up, "Window(...)", what)

    def earlier_only(self) -> bool:
        return self.offset < 0

    def upstream(self, key: str, down: Space, up: Space) -> UpstreamPartitions:
        assert isinstance(up, TimeSpace)
        last = up.definition.ordinal_of(key) + self.offset
        return _ordinals(up, last - self.size + 1, last)

    def downstream(self, key: str, up: Space, down: Space) -> tuple[str, ...]:
        assert isinstance(down, TimeSpace)
        first = down.definition.ordinal_of(key) - self.offset
        return _ordinals(down, first, first + self.size - 1).keys


def _check_one_granularity(down: Definition, up: Definition, mapping: str, what: str) -> None:
    down_time = _need_time(down, mapping, what)
    up_time = _need_time(up, mapping, what)
    if _identity_shape(down_time) != _identity_shape(up_time):
        raise DefinitionError(
            f"{what}: {mapping} counts partitions of one granularity, but the sides "
            f"differ ({down_time.describe()} and {up_time.describe()}); use Containment()"
        )


class Previous(_Mapping):
    """The previous partition of the same granularity: how a cumulative asset reads itself.

    ``deps=[Dep(asset="balance", mapping=Previous())]`` on ``balance`` builds its
    partitions strictly in time order; the first partition reads nothing.
    """

    kind: Literal["previous"] = "previous"

    def _window(self) -> Window:
        return Window(size=1, offset=-1)

    def check(self, down: Definition, up: Definition, what: str) -> None:
        _check_one_granularity(down, up, "Previous()", what)

    def earlier_only(self) -> bool:
        return True

    def upstream(self, key: str, down: Space, up: Space) -> UpstreamPartitions:
        return self._window().upstream(key, down, up)

    def downstream(self, key: str, up: Space, down: Space) -> tuple[str, ...]:
        return self._window().downstream(key, up, down)


class AllPartitions(_Mapping):
    """Every partition upstream: an unpartitioned summary over a partitioned asset."""

    kind: Literal["all"] = "all"

    def upstream(self, key: str, down: Space, up: Space) -> UpstreamPartitions:
        return UpstreamPartitions(tuple(up.keys()) if up is not None else (UNPARTITIONED,))

    def downstream(self, key: str, up: Space, down: Space) -> tuple[str, ...]:
        if up is not None and key not in up:
            return ()
        return tuple(down.keys()) if down is not None else (UNPARTITIONED,)


class LastPartition(_Mapping):
    """Only the latest partition upstream."""

    kind: Literal["last"] = "last"

    def upstream(self, key: str, down: Space, up: Space) -> UpstreamPartitions:
        if up is None:
            return UpstreamPartitions((UNPARTITIONED,))
        return UpstreamPartitions((up.key_at(len(up) - 1),) if len(up) else ())

    def downstream(self, key: str, up: Space, down: Space) -> tuple[str, ...]:
        if up is not None and (not len(up) or up.key_at(len(up) - 1) != key):
            return ()
        return tuple(down.keys()) if down is not None else (UNPARTITIONED,)


class Dimensions(_Mapping):
    """Per-dimension mappings for multi-dimensional partitions.

    Each upstream dimension reads from the downstream dimension of the same name (or the
    downstream's only time dimension, for a time dimension); one with no counterpart
    downstream reads all its keys. ``Dimensions(date=Window(size=7))`` overrides the
    mapping of one dimension; the default for the others is Identity (Containment across
    time granularities). Daily x region -> daily, summing regions, is ``Dimensions()``.
    """

    kind: Literal["dimensions"] = "dimensions"
    per_dimension: tuple[tuple[str, PartitionMapping], ...] = ()

    def __init__(self, **mappings: Any) -> None:
        if not set(mappings) <= {"per_dimension", "kind"}:
            mappings = {"per_dimension": tuple(mappings.items())}
        super().__init__(**mappings)

    @field_validator("per_dimension")
    @classmethod
    def _no_nesting(cls, value: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
        for name, mapping in value:
            if isinstance(mapping, Dimensions):
                raise ValueError(f"dimension {name!r}: Dimensions(...) cannot be nested")
        return value

    def _routes(self, down: Definition, up: Definition) -> list[tuple[str, str | None, Any]]:
        # Per upstream dimension: its name, the downstream dimension it reads from, the mapping.
        down_dims = down.dimensions() if down is not None else {}
        up_dims = up.dimensions() if up is not None else {}
        down_times = [n for n, d in down_dims.items() if isinstance(d, TimePartitions)]
        explicit = dict(self.per_dimension)
        routes = []
        for name, up_dim in up_dims.items():
            source: str | None = name if name in down_dims else None
            if source is None and isinstance(up_dim, TimePartitions) and len(down_times) == 1:
                source = down_times[0]
            mapping = explicit.get(name) or (
                default_mapping(down_dims[source], up_dim) if source else AllPartitions()
            )
            routes.append((name, source, mapping))
        return routes

    def check(self, down: Definition, up: Definition, what: str) -> None:
        up_dims = up.dimensions() if up is not None else {}
        unknown = [name for name, _ in self.per_dimension if name not in up_dims]
        if unknown:
            raise DefinitionError(
                f"{what}: Dimensions(...) names {', '.join(unknown)}, which the upstream does "
                f"not have (its dimensions: {', '.join(up_dims) or 'none'})"
            )
        down_dims = down.dimensions() if down is not None else {}
        for name, source, mapping in self._routes(down, up):
            if source is None and not isinstance(mapping, AllPartitions | LastPartition):
                raise DefinitionError(
                    f"{what}: upstream dimension {name!r} has no counterpart downstream, so it "
                    "can only be read with AllPartitions() or LastPartition()"
                )
            mapping.check(down_dims.get(source) if source else None, up_dims[name], what)

    def earlier_only(self) -> bool:
        # Only time mappings can be earlier-only: one such dimension makes every upstream
        # key strictly earlier in time, whatever the other dimensions read.
        return any(m.earlier_only() for _, m in self.per_dimension)

    def upstream(self, key: str, down: Space, up: Space) -> UpstreamPartitions:
        if up is None:
            return UpstreamPartitions((UNPARTITIONED,))
        down_parts, down_spaces = _parts(key, down)
        up_spaces = _dimension_spaces(up)
        inside: dict[str, list[str]] = {}
        every: dict[str, list[str]] = {}
        for name, source, mapping in self._routes(_definition(down), up.definition):
            found = mapping.upstream(
                down_parts[source] if source else UNPARTITIONED,
                down_spaces[source] if source else None,
                up_spaces[name],
            )
            inside[name], every[name] = list(found.keys), [*found.keys, *found.out_of_range]
        keys = _combine(up, inside)
        known = set(keys)
        return UpstreamPartitions(
            tuple(keys), tuple(k for k in _combine(up, every) if k not in known)
        )

    def downstream(self, key: str, up: Space, down: Space) -> tuple[str, ...]:
        if up is None:
            return tuple(down.keys()) if down is not None else (UNPARTITIONED,)
        up_parts, up_spaces = _parts(key, up)
        down_spaces = _dimension_spaces(down) if down is not None else {}
        chosen: dict[str, list[str]] = {n: s.keys() for n, s in down_spaces.items()}
        for name, source, mapping in self._routes(_definition(down), up.definition):
            if source is None:
                if not mapping.downstream(up_parts[name], up_spaces[name], None):
                    return ()
                continue
            found = set(mapping.downstream(up_parts[name], up_spaces[name], down_spaces[source]))
            chosen[source] = [k for k in chosen[source] if k in found]
        if down is None:
            return (UNPARTITIONED,)
        return tuple(_combine(down, chosen))


def _definition(space: Space) -> Definition:
    return None if space is None else space.definition


def _dimension_spaces(space: KeySpace) -> dict[str, KeySpace]:
    if isinstance(space, ProductSpace):
        return space.dimension_spaces()
    (name,) = space.definition.dimensions()
    return {name: space}


def _parts(key: str, space: Space) -> tuple[dict[str, str], dict[str, KeySpace]]:
    if space is None:
        return {}, {}
    return space.definition.split(key), _dimension_spaces(space)


def _combine(space: KeySpace, keys: dict[str, list[str]]) -> list[str]:
    if isinstance(space, ProductSpace):
        return space.combine(keys)
    ((_, only),) = keys.items()
    return only


PartitionMapping = Annotated[
    Identity | Containment | Window | Previous | AllPartitions | LastPartition | Dimensions,
    Field(discriminator="kind"),
]

Dimensions.model_rebuild()


def default_mapping(down: Definition, up: Definition) -> Any:
    """The mapping used when a dependency declares none."""
    if down is None and up is not None:
        return AllPartitions()
    if down is None or up is None:
        return Identity()
    if isinstance(down, MultiPartitions) or isinstance(up, MultiPartitions):
        return Dimensions()
    if isinstance(down, TimePartitions) and isinstance(up, TimePartitions):
        return Identity() if _identity_shape(down) == _identity_shape(up) else Containment()
    return Identity()


__all__ = [
    "AllPartitions",
    "Containment",
    "Dimensions",
    "Identity",
    "LastPartition",
    "PartitionMapping",
    "Previous",
    "UpstreamPartitions",
    "Window",
    "default_mapping",
]
