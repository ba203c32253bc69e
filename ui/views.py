"""What the API and the pages show, read from a :class:`~partita.core.project.Project`.

Status comes from one catalog snapshot and one :class:`StatusResolver` per request,
over whole assets (``statuses``), and the held leases from one query: never a catalog
query per partition. Everything returned is plain JSON-ready data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from partita.assets import UNPARTITIONED, PartitionsDefinition
from partita.core.plan.status import StatusResolver
from partita.core.project import Project
from partita.errors import PlanError
from partita.storage.catalog.ticks import leased_partitions
from partita.storage.records import RunRecord
from partita.storage.redaction import redact_credentials
from partita.ui.segments import count_statuses, health, heat_statuses, segments

WHOLE = "-"
"""The partition path segment of an unpartitioned asset (whose key is empty)."""


def kind(definition: PartitionsDefinition | None) -> str:
    """A short name for a partitions definition: ``daily``, ``static``, ``multi``...."""
    if definition is None:
        return "unpartitioned"
    name = type(definition).__name__.removesuffix("Partitions").lower()
    return name or "custom"


def _resolver(project: Project, assets: Sequence[str]) -> StatusResolver:
    closure = project.graph.closure_upstream(list(assets))
    states = project.catalog.states(closure)
    return StatusResolver(project.graph, states, project.now(), project.dynamic_keys())


def _leased(project: Project, asset: str | None = None) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for a, partition in leased_partitions(project.catalog):
        if asset is None or a == asset:
            found.setdefault(a, set()).add(partition)
    return found


def assets_overview(project: Project) -> dict[str, Any]:
    """Every asset with its counts and health, and the graph's edges."""
    graph = project.graph
    resolver = _resolver(project, graph.order)
    leased = _leased(project)
    assets = []
    for key in graph.order:
        item = graph.get(key)
        keys = resolver.keys(key)
        statuses = heat_statuses(keys, resolver.statuses(key, keys), leased.get(key, ()))
        counts = count_statuses(statuses)
        assets.append(
            {
                "key": key,
                "description": item.description,
                "partitioned": item.partitions is not None,
                "kind": kind(item.partitions),
                "counts": counts,
                "health": health(counts),
            }
        )
    edges = [
        {"from": e.upstream, "to": key}
        for key in graph.order
        for e in graph.upstream(key)
        if e.upstream != key
    ]
    return {"assets": assets, "edges": edges}


def heatmap(
    project: Project, asset: str, start: str | None = None, end: str | None = None
) -> dict[str, Any]:
    """The status of every partition of ``asset`` (optionally from ``start`` to ``end``)
    as segments of consecutive partitions with the same status."""
    definition = project.graph.get(asset).partitions
    resolver = _resolver(project, [asset])
    space = resolver.space(asset)
    if space is None:
        if start or end:
            raise PlanError(f"{asset} is not partitioned: it has no range to show")
        keys = [UNPARTITIONED]
    elif start or end:
        keys = space.select(start, end, asset=asset)
    else:
        keys = resolver.keys(asset)
    leased = _leased(project, asset).get(asset, set())
    statuses = heat_statuses(keys, resolver.statuses(asset, keys), leased)
    found = []
    for segment in segments(keys, statuses):
        first = definition.window(segment.first) if definition else None
        last = definition.window(segment.last) if definition else None
        found.append(
            {
                "first": segment.first,
                "last": segment.last,
                "start": first.start.isoformat() if first else None,
                "end": last.end.isoformat() if last else None,
                "status": segment.status,
                "count": segment.count,
            }
        )
    return {
        "asset": asset,
        "total": len(keys),
        "counts": count_statuses(statuses),
        "segments": found,
    }


def partition_key(project: Project, asset: str, partition: str) -> str:
    """The canonical key of a partition named in a URL (``-`` for an unpartitioned asset).

    Raises:
        DefinitionError: a malformed or unknown key.
        PlanError: a key for an unpartitioned asset.
    """
    if project.graph.get(asset).partitions is None and partition == WHOLE:
        return UNPARTITIONED
    return project.targets([asset], partition)[0].partitions[0]


def partition_detail(project: Project, asset: str, partition: str) -> dict[str, Any]:
    """A partition's status, the chain of causes behind it, its current version,
    lineage and metrics."""
    key = partition_key(project, asset, partition)
    resolver = _resolver(project, [asset])
    result = resolver.status(asset, key)
    leased = key in _leased(project, asset).get(asset, set())
    status = heat_statuses([key], [result], {key} if leased else ())[0]
    why = project.why(asset, key or None)
    version = project.catalog.versions(asset, [key]).get(key)
    return {
        "asset": asset,
        "partition": key,
        "status": status,
        "cause": str(result.cause) if result.cause else None,
        "failure": redact(result.failure) if result.failure else None,
        "why": [plain(link) for link in why],
        "version": plain(version) if version else None,
        "lineage": _lineage(project, asset, key, version is not None),
        "metrics": _metrics(project, asset, key),
    }


def _lineage(project: Project, asset: str, key: str, built: bool) -> Any:
    return project.lineage(asset, key or None).to_dict() if built else None


def _metrics(project: Project, asset: str, key: str) -> list[Any]:
    """The partition's rows, bytes and build duration."""
    from partita.core.observe.metrics import partition_metrics

    return [plain(row) for row in partition_metrics(project, asset, None, [key])]


def recent_metrics(project: Project, asset: str, limit: int = 30) -> list[Any]:
    """Rows, bytes and build duration of the asset's newest partitions, newest first."""
    from partita.core.observe.metrics import partition_metrics

    return partition_metrics(project, asset, limit)


def run_detail(run: RunRecord) -> dict[str, Any]:
    """A run with its steps and their attempts, errors redacted."""
    data: dict[str, Any] = plain(run)
    for step in data["steps"]:
        step["detail"] = redact(step["detail"])
        for attempt in step["attempts"]:
            attempt["error"] = redact(attempt["error"])
    data["duration"] = run.duration
    return data


def run_summary(run: RunRecord) -> dict[str, Any]:
    """A run without its steps (for listings)."""
    data = run_detail(run)
    del data["steps"]
    return data


def redact(text: str | None) -> str | None:
    """``text`` without the credentials of any URL in it."""
    return None if text is None else redact_credentials(text)


def plain(value: Any) -> Any:
    """A record (dataclass or pydantic model, nested) as JSON-ready data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return plain(value.model_dump(mode="json"))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


__all__ = [
    "WHOLE",
    "assets_overview",
    "heatmap",
    "kind",
    "partition_detail",
    "partition_key",
    "plain",
    "redact",
    "run_detail",
    "run_summary",
]
