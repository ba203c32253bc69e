"""The asset graph: validated at load, in topological order."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from partita.assets.asset import Asset
from partita.assets.mappings import PartitionMapping, default_mapping
from partita.assets.partitions.keyed import DynamicPartitions
from partita.errors import DefinitionError


@dataclass(frozen=True, slots=True)
class Edge:
    """A resolved dependency: ``downstream`` reads ``upstream`` through ``mapping``."""

    upstream: str
    downstream: str
    mapping: PartitionMapping
    param: str | None


class AssetGraph:
    """A validated set of assets.

    Raises:
        DefinitionError: on duplicate keys, unknown dependencies, incompatible
            mappings, or a cycle (named).
    """

    def __init__(self, assets: Iterable[Asset]) -> None:
        self._assets: dict[str, Asset] = {}
        for item in assets:
            if item.key in self._assets and self._assets[item.key] is not item:
                raise DefinitionError(f"two assets share the key {item.key!r}; rename one")
            self._assets[item.key] = item
        self._upstream: dict[str, tuple[Edge, ...]] = {}
        self._downstream: dict[str, list[Edge]] = {key: [] for key in self._assets}
        for item in self._assets.values():
            edges = tuple(self._edge(item, dep.asset, dep.mapping, dep.param) for dep in item.deps)
            self._upstream[item.key] = edges
            for edge in edges:
                self._downstream[edge.upstream].append(edge)
        self.order: tuple[str, ...] = self._toposort()

    def _edge(
        self, item: Asset, upstream: str, mapping: PartitionMapping | None, param: str | None
    ) -> Edge:
        if upstream not in self._assets:
            hint = difflib.get_close_matches(upstream, self._assets, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            raise DefinitionError(
                f"asset {item.key!r} depends on {upstream!r}, which is not defined{suggestion}"
            )
        up = self._assets[upstream]
        resolved = mapping or default_mapping(item.partitions, up.partitions)
        resolved.check(item.partitions, up.partitions, f"{item.key} <- {upstream}")
        if upstream == item.key and not resolved.earlier_only():
            raise DefinitionError(
                f"asset {item.key!r} depends on itself: a self-dependency must read strictly "
                "earlier partitions; use Previous() or Window(size=..., offset=-1)"
            )
        return Edge(upstream=upstream, downstream=item.key, mapping=resolved, param=param)

    def _toposort(self) -> tuple[str, ...]:
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done
        order: list[str] = []
        for root in sorted(self._assets):
            stack: list[tuple[str, list[str]]] = [(root, [])]
            while stack:
                key, path = stack.pop()
                if key == "":  # a marker: the node below it is finished
                    done = path[-1]
                    state[done] = 2
                    order.append(done)
                    continue
                if state.get(key) == 2:
                    continue
                if state.get(key) == 1:
                    cycle = [*path[path.index(key) :], key]
                    raise DefinitionError("dependency cycle: " + " -> ".join(cycle))
                state[key] = 1
                here = [*path, key]
                stack.append(("", here))
                for edge in sorted(self._upstream[key], key=lambda e: e.upstream, reverse=True):
                    if edge.upstream != key and state.get(edge.upstream) != 2:
                        stack.append((edge.upstream, here))
        return tuple(order)

    def __contains__(self, key: object) -> bool:
        return key in self._assets

    def __len__(self) -> int:
        return len(self._assets)

    def get(self, key: str) -> Asset:
        """The asset ``key``, or a :class:`DefinitionError` naming the known ones."""
        try:
            return self._assets[key]
        except KeyError:
            hint = difflib.get_close_matches(key, self._assets, n=1)
            suggestion = f"did you mean {hint[0]!r}? " if hint else ""
            known = ", ".join(sorted(self._assets)) or "none"
            raise DefinitionError(
                f"unknown asset {key!r}: {suggestion}known assets: {known}"
            ) from None

    @property
    def assets(self) -> tuple[Asset, ...]:
        """All assets in topological order."""
        return tuple(self._assets[key] for key in self.order)

    def upstream(self, key: str) -> tuple[Edge, ...]:
        """The edges into ``key``."""
        return self._upstream[key]

    def dynamic_sets(self) -> list[str]:
        """The names of the dynamic partitions sets the assets use."""
        return sorted(
            {
                definition.name
                for item in self._assets.values()
                if item.partitions is not None
                for definition in item.partitions.dimensions().values()
                if isinstance(definition, DynamicPartitions)
            }
        )

    def self_dependent(self, key: str) -> bool:
        """Whether ``key`` reads its own earlier partitions."""
        return any(edge.upstream == key for edge in self._upstream[key])

    def downstream(self, key: str) -> tuple[Edge, ...]:
        """The edges out of ``key``."""
        return tuple(self._downstream[key])

    def closure_upstream(self, keys: Sequence[str]) -> set[str]:
        """``keys`` and everything they depend on, transitively."""
        return self._closure(keys, lambda key: (e.upstream for e in self._upstream[key]))

    def closure_downstream(self, keys: Sequence[str]) -> set[str]:
        """``keys`` and everything that depends on them, transitively."""
        return self._closure(keys, lambda key: (e.downstream for e in self._downstream[key]))

    @staticmethod
    def _closure(keys: Sequence[str], step: Callable[[str], Iterable[str]]) -> set[str]:
        seen: set[str] = set()
        todo = list(keys)
        while todo:
            key = todo.pop()
            if key not in seen:
                seen.add(key)
                todo.extend(step(key))
        return seen
