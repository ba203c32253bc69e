"""A layered layout of the asset graph for the overview page (pure).

Each asset sits in the column of its depth (the longest path from a root); within a
column, assets keep the graph's topological order. Edges run from the right side of
the upstream box to the left side of the downstream one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from partita.assets import AssetGraph
from partita.core.plan.causes import Freshness

NODE_WIDTH, NODE_HEIGHT = 180, 44
COLUMN_GAP, ROW_GAP, MARGIN = 80, 24, 16


@dataclass(frozen=True, slots=True)
class NodeBox:
    """Where an asset's box is drawn."""

    key: str
    x: int
    y: int
    health: str


@dataclass(frozen=True, slots=True)
class EdgePath:
    """An edge drawn as an SVG cubic curve (``d`` is the path data)."""

    upstream: str
    downstream: str
    d: str


@dataclass(frozen=True, slots=True)
class GraphLayout:
    """The boxes, edges and size of the drawing."""

    nodes: tuple[NodeBox, ...]
    edges: tuple[EdgePath, ...]
    width: int
    height: int


def depths(graph: AssetGraph) -> dict[str, int]:
    """Each asset's longest distance from a root (an asset with no upstream but itself)."""
    found: dict[str, int] = {}
    for key in graph.order:  # upstream first, so every upstream depth is known
        ups = [e.upstream for e in graph.upstream(key) if e.upstream != key]
        found[key] = 1 + max((found[u] for u in ups), default=-1)
    return found


def layout(graph: AssetGraph, health: Mapping[str, str]) -> GraphLayout:
    """Place every asset of ``graph`` (colored by ``health``) and route its edges."""
    columns: dict[int, list[str]] = {}
    for key, depth in depths(graph).items():
        columns.setdefault(depth, []).append(key)
    boxes: dict[str, NodeBox] = {}
    for depth, keys in columns.items():
        for row, key in enumerate(keys):
            x = MARGIN + depth * (NODE_WIDTH + COLUMN_GAP)
            y = MARGIN + row * (NODE_HEIGHT + ROW_GAP)
            boxes[key] = NodeBox(key, x, y, health.get(key, Freshness.MISSING))
    edges = []
    for key in graph.order:
        for edge in graph.upstream(key):
            if edge.upstream != key:
                edges.append(_path(boxes[edge.upstream], boxes[key]))
    rows = max((len(keys) for keys in columns.values()), default=0)
    width = 2 * MARGIN + len(columns) * NODE_WIDTH + max(len(columns) - 1, 0) * COLUMN_GAP
    height = 2 * MARGIN + rows * NODE_HEIGHT + max(rows - 1, 0) * ROW_GAP
    ordered = tuple(boxes[key] for key in graph.order)
    return GraphLayout(ordered, tuple(edges), width, height)


def _path(up: NodeBox, down: NodeBox) -> EdgePath:
    x1, y1 = up.x + NODE_WIDTH, up.y + NODE_HEIGHT // 2
    x2, y2 = down.x, down.y + NODE_HEIGHT // 2
    bend = (x2 - x1) // 2
    d = f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}"
    return EdgePath(up.key, down.key, d)


__all__ = ["EdgePath", "GraphLayout", "NodeBox", "depths", "layout"]
