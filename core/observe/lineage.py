"""Lineage: the exact upstream versions a partition's current version was built from.

A version records, when it is committed, the data version of every upstream partition
it read (``{upstream asset: {partition: data version}}``). Each of those resolves to one
version row: the upstream partition's current version if its data version still
matches, else the newest older version of that partition with that data version (it may
since have been superseded, or collected). Resolved versions are followed the same way,
down to the roots or ``depth`` levels.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from partita.errors import PlanError
from partita.storage import Catalog
from partita.storage.catalog.reports import BuiltVersion, CatalogReports


@dataclass(frozen=True, slots=True)
class Lineage:
    """One partition version and the upstream versions it was built from.

    Attributes:
        asset: The asset key.
        partition: The partition key (``""`` if unpartitioned).
        data_version: The content hash it had (for an input: the one that was read).
        version_id: The version, or ``None`` if no recorded version has that data
            version (an upstream partition missing when it was built).
        code_version: The asset's code version it was built with.
        run_id: The run that built it.
        created_at: When it was committed (UTC).
        current: Whether it is still the partition's current version.
        inputs: The upstream versions it read, in the order they were recorded;
            empty past the requested depth (see ``truncated``).
        truncated: Whether its inputs were left out because of the depth.
    """

    asset: str
    partition: str
    data_version: str
    version_id: str | None = None
    code_version: str | None = None
    run_id: str | None = None
    created_at: dt.datetime | None = None
    current: bool = False
    inputs: tuple[Lineage, ...] = ()
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (times as ISO 8601 strings), inputs included."""
        return {
            "asset": self.asset,
            "partition": self.partition,
            "version_id": self.version_id,
            "data_version": self.data_version,
            "code_version": self.code_version,
            "run_id": self.run_id,
            "created_at": None if self.created_at is None else self.created_at.isoformat(),
            "current": self.current,
            "truncated": self.truncated,
            "inputs": [item.to_dict() for item in self.inputs],
        }


def lineage(catalog: Catalog, asset: str, partition: str, *, depth: int | None = None) -> Lineage:
    """The lineage of the current version of ``asset`` at ``partition``.

    Args:
        catalog: Where the versions are recorded.
        asset: The asset key.
        partition: A canonical partition key (``""`` if unpartitioned).
        depth: How many levels of inputs to follow (``None``: all, ``0``: none).

    Raises:
        PlanError: The partition has no committed version, or ``depth`` is negative.
    """
    if depth is not None and depth < 0:
        raise PlanError(f"depth must be 0 or more, not {depth}")
    current = [v for v in CatalogReports(catalog).versions_of(asset, [partition]) if v.current]
    if not current:
        where = f" {partition}" if partition else ""
        raise PlanError(f"{asset}{where} has no committed version; materialize it first")
    return _Tracer(CatalogReports(catalog)).trace(current[0], depth)


class _Tracer:
    """Follows recorded inputs; a version reached twice (a diamond) is resolved once."""

    def __init__(self, reports: CatalogReports) -> None:
        self._reports = reports
        self._done: dict[tuple[str, int | None], Lineage] = {}

    def trace(self, version: BuiltVersion, depth: int | None) -> Lineage:
        memo = (version.version_id, depth)
        if memo in self._done:
            return self._done[memo]
        inputs: list[Lineage] = []
        if depth != 0:
            below = None if depth is None else depth - 1
            for upstream, keys in version.inputs.items():
                found = self._resolve(upstream, keys)
                for key, data_version in keys.items():
                    match = found.get((key, data_version))
                    if match is None:
                        inputs.append(Lineage(upstream, key, data_version))
                    else:
                        inputs.append(self.trace(match, below))
        node = Lineage(
            asset=version.asset,
            partition=version.partition,
            data_version=version.data_version,
            version_id=version.version_id,
            code_version=version.code_version,
            run_id=version.run_id,
            created_at=dt.datetime.fromtimestamp(version.created_at, dt.UTC),
            current=version.current,
            inputs=tuple(inputs),
            truncated=depth == 0 and bool(version.inputs),
        )
        self._done[memo] = node
        return node

    def _resolve(self, asset: str, keys: dict[str, str]) -> dict[tuple[str, str], BuiltVersion]:
        """For each ``(partition, data version)``: the current version if it has that data
        version, else the newest version that had it."""
        found: dict[tuple[str, str], BuiltVersion] = {}
        for version in self._reports.versions_of(asset, list(keys)):  # newest first
            wanted = (version.partition, version.data_version)
            if keys.get(version.partition) != version.data_version:
                continue
            if wanted not in found or (version.current and not found[wanted].current):
                found[wanted] = version
        return found


__all__ = ["Lineage", "lineage"]
