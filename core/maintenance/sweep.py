"""Before collecting garbage: tidy the partition folders writers left untidy.

A folder holds only its current version in sight once its writer is done. One that
shows more (a file in sight no current version uses, a staged file, the current version
still under a hidden name) and whose lease no live writer holds was left by a writer
that died, or that failed to finish after its commit: the sweeper takes the folder's
lease over (so that writer can commit nothing more) and tidies it
(:mod:`partita.core.run.tidy`), without waiting for the grace period.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from partita.assets import UNPARTITIONED, AssetGraph
from partita.core.run.recovery import process_owner
from partita.core.run.tidy import Tidier, Tidying
from partita.errors import PartitaError
from partita.storage.catalog.maintenance import References
from partita.storage.store.visibility import STAGED, VISIBLE, PartFile, part_file

if TYPE_CHECKING:
    from partita.storage import Catalog, DataStore
    from partita.storage.store.datastore import StoredFile


class Folders(Protocol):
    """What the sweeper asks of the collector's view of the catalog."""

    def asset_of(self, path: str) -> str | None: ...
    def leased(self, folder: str, asset: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Swept:
    """What a sweep did (or, in a dry run, would do).

    Attributes:
        removed: The files it removed, with their asset.
        changed: Whether it moved or removed anything (the store is listed again).
    """

    removed: Mapping[StoredFile, str] = field(default_factory=dict)
    changed: bool = False


class Sweeper:
    """Finds untidy partition folders in a listing and tidies them under their leases.

    Args:
        catalog: The leases and current versions.
        store: The folders.
        graph: The definitions, to tell a folder's partition.
        clock: Seconds since the epoch.
    """

    def __init__(
        self,
        catalog: Catalog,
        store: DataStore,
        graph: AssetGraph,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._catalog = catalog
        self._graph = graph
        self._tidier = Tidier(catalog, store, clock=clock)

    def sweep(
        self,
        listed: Iterable[StoredFile],
        references: References,
        folders: Folders,
        *,
        dry_run: bool = False,
    ) -> Swept:
        """Tidy the untidy folders of ``listed`` that no live writer holds."""
        by_path = {file.path: file for file in listed}
        untidy = self._untidy(by_path.values(), references, folders)
        if not untidy:
            return Swept()
        plans = self._plans(untidy) if dry_run else self._tidy(untidy)
        removed = {
            by_path[path]: untidy[(asset, key)]
            for (asset, key), plan in plans.items()
            for path in plan.remove
            if path in by_path
        }
        return Swept(removed, changed=not dry_run and any(plans.values()))

    def _untidy(
        self, files: Iterable[StoredFile], references: References, folders: Folders
    ) -> dict[tuple[str, str], str]:
        """The partitions ``(asset, key)`` whose folders need a tidy (with the asset
        again, for the report), among those a live writer does not hold."""
        found: dict[tuple[str, str], str] = {}
        for file in files:
            part = part_file(file.path)
            asset = folders.asset_of(file.path)
            if part is None or asset is None or not _untidy(part, references.files):
                continue
            folder = file.path.rpartition("/")[0]
            key = self._key(asset, folder)
            if key is not None and not folders.leased(folder, asset):
                found[(asset, key)] = asset
        return found

    def _key(self, asset: str, folder: str) -> str | None:
        """The partition key of an asset's folder, ``None`` if the definitions cannot
        tell it (an asset they lost, a folder of an old partitions definition)."""
        if asset not in self._graph:
            return None
        segments = folder[len(asset) + 1 :] if folder != asset else ""
        definition = self._graph.get(asset).partitions
        if definition is None:
            return UNPARTITIONED if not segments else None
        try:
            return definition.from_segments(segments)
        except (PartitaError, ValueError):
            return None

    def _plans(self, untidy: Mapping[tuple[str, str], str]) -> dict[tuple[str, str], Tidying]:
        """What tidying would do, for a dry run (no lease taken)."""
        current = self._current(untidy)
        return {
            (asset, key): self._tidier.plan(
                asset, self._segments(asset, key), current[(asset, key)]
            )
            for asset, key in untidy
        }

    def _tidy(self, untidy: Mapping[tuple[str, str], str]) -> dict[tuple[str, str], Tidying]:
        owner = process_owner()
        pairs = list(untidy)
        tokens = self._catalog.acquire_many(pairs, owner)
        taken = [(pair, token) for pair, token in zip(pairs, tokens, strict=True) if token]
        done: dict[tuple[str, str], Tidying] = {}
        try:
            current = self._current(pair for pair, _ in taken)
            for (asset, key), _ in taken:
                segments = self._segments(asset, key)
                done[(asset, key)] = self._tidier.tidy(asset, segments, current[(asset, key)])
        finally:
            held = [(asset, key, token) for (asset, key), token in taken]
            self._catalog.release_many(owner, held)
        return done

    def _current(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
        wanted: dict[str, set[str]] = {}
        for asset, key in pairs:
            wanted.setdefault(asset, set()).add(key)
        states = self._catalog.states_of(wanted)
        found: dict[tuple[str, str], str | None] = {}
        for asset, keys in wanted.items():
            for key in keys:
                state = states[asset].get(key)
                found[(asset, key)] = state.version_id if state else None
        return found

    def _segments(self, asset: str, key: str) -> str:
        definition = self._graph.get(asset).partitions
        return definition.segments(key) if definition else ""


def _untidy(part: PartFile, current: Collection[str]) -> bool:
    """Whether a file shows its folder needs a tidy: in sight but not current, staged
    (a writer's leftover, or a current version not yet published), or a current
    version's file under its retired name. Other retired files wait for the grace."""
    if part.role == VISIBLE:
        return part.visible not in current
    return part.role == STAGED or part.visible in current


__all__ = ["Swept", "Sweeper"]
