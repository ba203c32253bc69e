"""Garbage collection: remove the files no current committed version references.

Superseded versions (retired out of sight when they were superseded), abandoned
attempts, and the files of folders a changed partitions definition left behind all end
up unreferenced. The collector lists the store first and reads the catalog's references
after, so a commit that lands in between keeps its file.

A partition folder that holds what a writer left behind (a file in sight that is not
the current version's, a staged file, the current version still under a hidden name)
and whose lease no live writer holds is tidied first, under its lease
(:mod:`partita.core.run.tidy`): what was never committed goes at once, a superseded
version goes out of sight. The rest waits for the grace period (by the file's
modification time: when it was written or retired) and is left alone while a writer
holds the folder's lease.

Only files laid out as partita writes them are managed: ``part-<id>.<ext>`` and the
hidden ``.part-<id>.<ext>.tmp`` and ``.part-<id>.<ext>.old`` under the folder of an asset
that the catalog or the definitions know. Anything else under the root is left as it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from partita.assets import AssetGraph
from partita.core.maintenance.sweep import Sweeper
from partita.core.run.tidy import GRACE_S
from partita.errors import PartitaError, StorageError
from partita.storage import Catalog, DataStore
from partita.storage.catalog.maintenance import HeldLease, References
from partita.storage.store.datastore import PINS
from partita.storage.store.visibility import part_file

if TYPE_CHECKING:
    from partita.storage.store.datastore import PendingUpload, StoredFile

DEFAULT_GRACE_S = GRACE_S
REMOVED = "removed"
YOUNG = "young"
LEASED = "leased"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Garbage:
    """An unreferenced file, and what the collector did with it.

    Attributes:
        path: Relative to the store root.
        asset: The asset whose folder holds it.
        bytes: Its size.
        age: Seconds since it was last written, ``None`` if the store does not say.
        fate: ``removed`` (or to be, in a dry run), ``young`` or ``leased`` (kept), or
            ``failed`` (it could not be removed).
        upload_id: Set for an incomplete upload (S3) rather than a file.
    """

    path: str
    asset: str
    bytes: int
    age: float | None
    fate: str
    upload_id: str | None = None
    swept: bool = False  # removed already, by the tidy of its folder


@dataclass(frozen=True, slots=True)
class AssetGarbage:
    """One asset's share of a collection: counts and bytes per fate."""

    asset: str
    removed: int
    removed_bytes: int
    young: int
    leased: int
    failed: int


@dataclass(frozen=True, slots=True)
class GcResult:
    """What a garbage collection found and did.

    Attributes:
        dry_run: Nothing was removed; ``removed`` means "would be removed".
        grace: The grace period, in seconds.
        garbage: Every unreferenced managed file and incomplete upload, with its fate.
        collected: Superseded versions marked ``collected`` (all their files gone).
        directories: Empty local directories removed.
        unmanaged: Files under the root that are not partita's, left alone.
    """

    dry_run: bool
    grace: float
    garbage: tuple[Garbage, ...]
    collected: int = 0
    directories: int = 0
    unmanaged: int = 0

    def count(self, fate: str) -> int:
        """How many files (and uploads) met ``fate``."""
        return sum(1 for item in self.garbage if item.fate == fate)

    def bytes(self, fate: str = REMOVED) -> int:
        """How many bytes of files met ``fate``."""
        return sum(item.bytes for item in self.garbage if item.fate == fate)

    def by_asset(self) -> list[AssetGarbage]:
        """Counts and bytes per asset, in asset order."""
        assets = sorted({item.asset for item in self.garbage})
        return [_summary(asset, [g for g in self.garbage if g.asset == asset]) for asset in assets]


class GarbageCollector:
    """Removes the store's unreferenced files once they are older than a grace period.

    Args:
        catalog: Where the current versions and the leases are recorded.
        store: The files.
        graph: The definitions, to find the folder of a leased partition.
        protected: Relative paths never touched (a SQLite catalog inside the root).
        clock: Seconds since the epoch, to age files by (injectable for tests).
    """

    def __init__(
        self,
        catalog: Catalog,
        store: DataStore,
        graph: AssetGraph,
        *,
        protected: Collection[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._maintenance = catalog.maintenance
        self._store = store
        self._graph = graph
        self._protected = frozenset(protected)
        self._clock = clock
        self._sweeper = Sweeper(catalog, store, graph, clock=clock)

    def collect(
        self,
        grace: float = DEFAULT_GRACE_S,
        *,
        dry_run: bool = False,
        assets: Collection[str] | None = None,
    ) -> GcResult:
        """Find the unreferenced files and, unless ``dry_run``, remove the old enough ones.

        Args:
            grace: Seconds a file must be old before it is removed.
            dry_run: Only say what would be removed.
            assets: Only these assets' folders (default: all).
        """
        before = self._maintenance.now()
        listed = self._store.files()
        references = self._maintenance.references()  # after listing: see the module doc
        sorter = _Sorter(self._graph, references, grace, self._clock(), assets)
        swept = self._sweeper.sweep(listed, references, sorter, dry_run=dry_run)
        if swept.changed:
            listed = self._store.files()
            references = self._maintenance.references()
            sorter = _Sorter(self._graph, references, grace, self._clock(), assets)
        garbage = [sorter.removed(file, asset) for file, asset in swept.removed.items()]
        unmanaged = self._sort(listed, sorter, garbage)
        for upload in self._store.pending_uploads():
            asset = sorter.asset_of(upload.path)
            if asset is not None:
                garbage.append(sorter.upload(upload, asset))
        if dry_run:
            return GcResult(True, grace, tuple(garbage), unmanaged=unmanaged)
        done = [self._remove(item) for item in garbage]
        gone = {item.path for item in done if item.fate == REMOVED and item.upload_id is None}
        present = {file.path for file in listed} - gone
        collected = self._maintenance.collect(before, present | _visible_names(present))
        directories = self._store.prune(path.rpartition("/")[0] for path in gone if "/" in path)
        return GcResult(False, grace, tuple(done), collected, directories, unmanaged)

    def _sort(self, listed: Iterable[StoredFile], sorter: _Sorter, garbage: list[Garbage]) -> int:
        """Add the unreferenced managed files of ``listed`` to ``garbage`` with their fates
        (skipping those already there); returns how many files are not partita's."""
        gone = {item.path for item in garbage}
        unmanaged = 0
        for file in listed:
            asset = sorter.asset_of(file.path)
            if file.path in gone:
                continue
            if asset is None and file.path.startswith(f"{PINS}/"):
                # Links a query held; left behind only when its process was killed.
                garbage.append(sorter.file(file, PINS))
            elif asset is None or file.path in self._protected:
                unmanaged += 1
            elif not sorter.referenced(file.path):
                garbage.append(sorter.file(file, asset))
        return unmanaged

    def _remove(self, item: Garbage) -> Garbage:
        if item.fate != REMOVED or item.swept:
            return item
        try:
            if item.upload_id is not None:
                self._store.abort_upload(item.path, item.upload_id)
            else:
                self._store.delete([item.path])
        except StorageError:
            return Garbage(item.path, item.asset, item.bytes, item.age, FAILED, item.upload_id)
        return item


class _Sorter:
    """Decides the fate of each listed file against one reading of the catalog."""

    def __init__(
        self,
        graph: AssetGraph,
        references: References,
        grace: float,
        now: float,
        only: Collection[str] | None,
    ) -> None:
        self._grace = grace
        self._now = now
        self._assets = references.assets | set(graph.order)
        self._only = None if only is None else frozenset(only)
        self._files = references.files
        self._leased, self._leased_assets = _leased_folders(graph, references.leases)

    def referenced(self, path: str) -> bool:
        """Whether a managed file holds a current version's bytes, under any name."""
        found = part_file(path)
        return found is not None and found.visible in self._files

    def leased(self, folder: str, asset: str) -> bool:
        """Whether a live writer holds the lease of the partition in ``folder``."""
        return folder in self._leased or asset in self._leased_assets

    def removed(self, file: StoredFile, asset: str) -> Garbage:
        """A file the tidy of its folder removed (or would), whatever its age."""
        age = None if file.modified is None else self._now - file.modified
        return Garbage(file.path, asset, file.size, age, REMOVED, swept=True)

    def file(self, file: StoredFile, asset: str) -> Garbage:
        """An unreferenced file of ``asset``, with its fate."""
        age = None if file.modified is None else self._now - file.modified
        return Garbage(file.path, asset, file.size, age, self._fate(file.path, asset, age))

    def upload(self, upload: PendingUpload, asset: str) -> Garbage:
        """An incomplete upload into ``asset``'s folder, with its fate."""
        age = self._now - upload.started
        fate = self._fate(upload.path, asset, age)
        return Garbage(upload.path, asset, 0, age, fate, upload.upload_id)

    def _fate(self, path: str, asset: str, age: float | None) -> str:
        if self.leased(path.rpartition("/")[0], asset):
            return LEASED
        if age is None or age < self._grace:
            return YOUNG
        return REMOVED

    def asset_of(self, path: str) -> str | None:
        """The asset whose folder holds a managed file, ``None`` if the file is not ours."""
        folder = path.rpartition("/")[0]
        if part_file(path) is None:
            return None
        parts = folder.split("/") if folder else []
        for end in range(len(parts), 0, -1):  # the longest key: "sales/raw" before "sales"
            asset = "/".join(parts[:end])
            if asset in self._assets:
                return asset if self._only is None or asset in self._only else None
        return None


def _leased_folders(
    graph: AssetGraph, leases: Iterable[HeldLease]
) -> tuple[frozenset[str], frozenset[str]]:
    """The folders of partitions leased now, and the assets whose folders cannot be told
    (not in the definitions any more): all of theirs count as leased."""
    folders: set[str] = set()
    whole: set[str] = set()
    for lease in leases:
        if not lease.live or lease.orphaned:  # a writer that is gone commits nothing
            continue
        try:
            definition = graph.get(lease.asset).partitions
            segments = definition.segments(lease.partition) if definition else ""
        except (PartitaError, ValueError, KeyError):
            whole.add(lease.asset)
            continue
        folders.add(f"{lease.asset}/{segments}" if segments else lease.asset)
    return frozenset(folders), frozenset(whole)


def _visible_names(paths: Iterable[str]) -> set[str]:
    """The visible names of files kept under hidden ones (a retired version is still
    there, so not collected)."""
    return {part.visible for path in paths if (part := part_file(path)) is not None}


def _summary(asset: str, items: list[Garbage]) -> AssetGarbage:
    def count(fate: str) -> int:
        return sum(1 for item in items if item.fate == fate)

    removed = sum(item.bytes for item in items if item.fate == REMOVED)
    return AssetGarbage(asset, count(REMOVED), removed, count(YOUNG), count(LEASED), count(FAILED))


__all__ = [
    "DEFAULT_GRACE_S",
    "AssetGarbage",
    "GarbageCollector",
    "Garbage",
    "GcResult",
]
