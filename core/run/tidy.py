"""Bring a partition's folder to what the catalog says, under the partition's lease.

What a direct reader of the layout sees must be the committed current version only.
A writer that dies, or a step that fails, can leave a folder otherwise: a partial or
uncommitted write under its staged name, a committed version not yet published, a
superseded version still visible, or a swap cut between its renames (see
:mod:`partita.storage.store.visibility`). Whoever holds the lease next (the next writer
of the partition, or the recovery that runs before commands) tidies the folder:

- the current version's file gets its visible name (from its staged or retired name,
  or from under the old name an interrupted swap left it);
- other visible files are retired (a superseded version: readers that resolved it a
  moment ago may still read it) or removed (a version never committed);
- staged files of other versions are removed: their writer cannot commit any more;
- retired files are removed once older than the grace period.

Holding the lease is what makes this safe: taking it over bumps the fencing token, so
the writer that left the files commits nothing afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from partita.storage import Catalog, DataStore
from partita.storage.catalog.leftovers import CatalogLeftovers
from partita.storage.store.visibility import (
    RETIRED,
    STAGED,
    VISIBLE,
    PartFile,
    interrupted_swap,
)

GRACE_S = 3600.0  # how long a superseded version stays readable under its retired name


@dataclass(frozen=True, slots=True)
class Tidying:
    """What to do in a partition's folder.

    Attributes:
        publish: Visible names of the current version whose staged files get them.
        rename: ``(hidden or old path, visible path)`` of the current version's file.
        retire: Visible files of superseded versions, to move out of sight.
        remove: Files no committed version will use, and retired files past the grace.
        shown: The current version's visible files once done.
    """

    publish: tuple[str, ...] = ()
    rename: tuple[tuple[str, str], ...] = ()
    retire: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    shown: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.publish or self.rename or self.retire or self.remove)


def tidying(
    files: Sequence[PartFile],
    current: str | None,
    committed: Collection[str],
    *,
    grace: float = GRACE_S,
    now: float,
) -> Tidying:
    """What it takes to leave only the current version in sight (a pure function).

    Args:
        files: The folder's files (see ``DataStore.folder``).
        current: The partition's committed current version, if any.
        committed: The ids of the folder's visible versions that were ever committed.
        grace: Seconds a retired file is kept.
        now: The time, to age retired files by.
    """
    publish, rename, shown = _current(files, current)
    moved = {source for source, _ in rename}
    retire: list[str] = []
    remove: list[str] = []
    for file in files:
        if file.path in moved:
            continue
        if file.version_id == current:
            if file.role != VISIBLE and file.visible not in publish:
                remove.append(file.path)  # a leftover copy of a file in sight
        elif file.role == VISIBLE:
            (retire if file.version_id in committed else remove).append(file.path)
        elif file.role == STAGED or _expired(file, grace, now):
            remove.append(file.path)
    return Tidying(tuple(publish), tuple(rename), tuple(retire), tuple(remove), tuple(shown))


def _expired(file: PartFile, grace: float, now: float) -> bool:
    """Whether a retired file has been kept for the grace period."""
    return file.role == RETIRED and file.modified is not None and now - file.modified > grace


def _current(
    files: Sequence[PartFile], current: str | None
) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """How the current version's files get into sight: published from their staged
    names, or renamed; and their visible names."""
    if current is None:
        return [], [], []
    mine = [file for file in files if file.version_id == current]
    shown = sorted({file.visible for file in mine})
    visible = {file.visible for file in mine if file.role == VISIBLE}
    staged = {file.visible for file in mine if file.role == STAGED} - visible
    renamed = [
        (file.path, file.visible)
        for file in mine
        if file.role == RETIRED and file.visible not in visible | staged
    ]
    swapped = interrupted_swap(list(files), current)
    if swapped is not None:
        target = swapped.visible.replace(f"part-{swapped.version_id}", f"part-{current}", 1)
        renamed.append((swapped.path, target))
        shown = [target]
    return sorted(staged), renamed, shown


class Tidier:
    """Tidies leased partition folders: applies :func:`tidying` to what it lists.

    Args:
        catalog: Asked which visible versions were ever committed.
        store: The folders.
        grace: Seconds a retired file is kept.
        clock: Seconds since the epoch (file times are the file system's).
    """

    def __init__(
        self,
        catalog: Catalog,
        store: DataStore,
        *,
        grace: float = GRACE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._leftovers = CatalogLeftovers(catalog)
        self._store = store
        self._grace = grace
        self._clock = clock

    def plan(self, asset: str, segments: str, current: str | None) -> Tidying:
        """What tidying the folder of a partition whose current version is ``current``
        takes, as it is now.

        Raises:
            StorageError: The folder cannot be listed.
        """
        files = self._store.folder(asset, segments)
        others = {f.version_id for f in files if f.role == VISIBLE and f.version_id != current}
        committed = self._leftovers.committed(others) if others else set()
        return tidying(files, current, committed, grace=self._grace, now=self._clock())

    def apply(self, tidy: Tidying) -> None:
        """Do it: the current version into sight first, superseded files out with it.

        Raises:
            StorageError: A file could not be moved or removed.
        """
        retire = list(tidy.retire)
        if tidy.publish:
            self._store.publish(tidy.publish, retire)
            retire = []
        for source, target in tidy.rename:
            self._store.rename(source, target)
        self._store.retire(retire)
        self._store.delete(tidy.remove)

    def tidy(self, asset: str, segments: str, current: str | None) -> Tidying:
        """List, plan and apply; returns what was done."""
        tidy = self.plan(asset, segments, current)
        if tidy:
            self.apply(tidy)
        return tidy


__all__ = ["GRACE_S", "Tidier", "Tidying", "tidying"]
