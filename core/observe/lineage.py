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
from partita.storage.interfaces import Reports, StateReader
from partita.storage.records import VersionRecord


@dataclass(frozen=True, slots=True)
class Lineage:
    """One partition version and the upstream versions it was built from.

    Attributes:
        asset: The asset key.
        partition: The partition key (``""`` if unpartitioned).
        data_version: The content hash it had (for an input: the one that was read).
        version: The recorded version, or ``None`` if no recorded version has that
            data version (an upstream partition missing when it was built).
        inputs: The upstream versions it read, in the order they were recorded;
            empty past the requested depth (see ``truncated``).
        truncated: Whether its inputs were left out because of the depth.
    """

    asset: str
    partition: str
    data_version: str
    version: VersionRecord | None = None
    inputs: tuple[Lineage, ...] = ()
    truncated: bool = False

    @property
    def version_id(self) -> str | None:
        """The version's id, if recorded."""
        return None if self.version is None else self.version.version_id

    @property
    def code_version(self) -> str | None:
        """The asset's code version it was built with, if recorded."""
        return None if self.version is None else self.version.code_version

    @property
    def run_id(self) -> str | None:
        """The run that built it, if recorded."""
        return None if self.version is None else self.version.run_id

    @property
    def created_at(self) -> dt.datetime | None:
        """When it was committed (UTC), if recorded."""
        if self.version is None:
            return None
        return dt.datetime.fromtimestamp(self.version.created_at, dt.UTC)

    @property
    def current(self) -> bool:
        """Whether it is still the partition's current version."""
        return self.version is not None and self.version.current

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


def lineage(
    catalog: StateReader, asset: str, partition: str, *, depth: int | None = None
) -> Lineage:
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
    reports = catalog.reports
    current = [v for v in reports.versions_of(asset, [partition]) if v.current]
    if not current:
        where = f" {partition}" if partition else ""
        raise PlanError(f"{asset}{where} has no committed version; materialize it first")
    return _Tracer(reports).trace(current[0], depth)


class _Tracer:
    """Follows recorded inputs; a version reached twice (a diamond) is resolved once."""

    def __init__(self, reports: Reports) -> None:
        self._reports = reports
        self._done: dict[tuple[str, int | None], Lineage] = {}

    def trace(self, version: VersionRecord, depth: int | None) -> Lineage:
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
            version=version,
            inputs=tuple(inputs),
            truncated=depth == 0 and bool(version.inputs),
        )
        self._done[memo] = node
        return node

    def _resolve(self, asset: str, keys: dict[str, str]) -> dict[tuple[str, str], VersionRecord]:
        """For each ``(partition, data version)``: the current version if it has that data
        version, else the newest version that had it."""
        found: dict[tuple[str, str], VersionRecord] = {}
        for version in self._reports.versions_of(asset, list(keys)):  # newest first
            wanted = (version.partition, version.data_version)
            if keys.get(version.partition) != version.data_version:
                continue
            if wanted not in found or (version.current and not found[wanted].current):
                found[wanted] = version
        return found


__all__ = ["Lineage", "lineage"]
