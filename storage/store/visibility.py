"""The names of a version's file over its life, and what direct readers of the layout see.

A reader that goes through partita asks the catalog which file is current. A reader that
does not (DuckDB, pyarrow, polars or Spark over ``<asset>/date=.../*.parquet``) trusts
every visible name in a partition's folder, so a version's file only carries a visible
name while it is the partition's committed current version:

- **staged** ``.part-<id>.<ext>.tmp``: written (or being written), not committed yet,
  or committed a moment ago and not yet published; hidden;
- **visible** ``part-<id>.<ext>``: the name the catalog records, given right after the
  commit (publishing);
- **retired** ``.part-<id>.<ext>.old``: superseded, out of sight but kept for a grace
  period, for readers that resolved it a moment before (retiring).

Every move is a rename within the folder. Publishing a version that supersedes another
swaps them (on local disk, :func:`partita.storage.store.localdisk.swap`): readers
listing the folder see exactly one visible file at every instant. A hidden name starts
with a dot and ends in neither ``.parquet`` nor ``.json``, so no reader's discovery or
``*.parquet`` glob picks it up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STAGED = "staged"
VISIBLE = "visible"
RETIRED = "retired"
_STAGED_SUFFIX = ".tmp"
_RETIRED_SUFFIX = ".old"
_NAME = re.compile(
    r"(?P<hidden>\.)?part-(?P<id>[0-9A-Za-z_-]+)(?P<ext>\.[^/]+?)?"
    r"(?P<suffix>\.tmp|\.old)?"
)


@dataclass(frozen=True, slots=True)
class PartFile:
    """A file in a partition's folder with a name partita gives.

    Attributes:
        path: Where it is, relative to the store root.
        visible: The visible name of its version's file (what the catalog records).
        version_id: The version it belongs to.
        role: ``staged``, ``visible`` or ``retired``.
        modified: When it was last written or retired (seconds since the epoch), if known.
        inode: Its inode on local disk (tells an interrupted swap apart), else ``None``.
    """

    path: str
    visible: str
    version_id: str
    role: str
    modified: float | None = None
    inode: int | None = None


def staged_name(path: str) -> str:
    """The hidden name a file is written under, before its version is published."""
    folder, _, name = path.rpartition("/")
    return f"{folder}/.{name}{_STAGED_SUFFIX}" if folder else f".{name}{_STAGED_SUFFIX}"


def retired_name(path: str) -> str:
    """The hidden name a superseded version's file keeps during the grace period."""
    folder, _, name = path.rpartition("/")
    return f"{folder}/.{name}{_RETIRED_SUFFIX}" if folder else f".{name}{_RETIRED_SUFFIX}"


def places(path: str) -> tuple[str, ...]:
    """Where a version's file may be found, in the order a reader looks.

    Names only move forward (staged, visible, retired), one atomic rename at a time, so
    looking in this order finds a file that still exists; the last look at the visible
    name covers a swap that completed meanwhile.
    """
    return (path, staged_name(path), path, retired_name(path), path)


def part_file(
    path: str, modified: float | None = None, inode: int | None = None
) -> PartFile | None:
    """What a listed file is, or ``None`` if partita does not name files so."""
    folder, _, name = path.rpartition("/")
    found = _NAME.fullmatch(name)
    if found is None or bool(found["hidden"]) != bool(found["suffix"]):
        return None
    visible_name = f"part-{found['id']}{found['ext'] or ''}"
    visible = f"{folder}/{visible_name}" if folder else visible_name
    suffix = found["suffix"]
    role = VISIBLE if suffix is None else STAGED if suffix == _STAGED_SUFFIX else RETIRED
    return PartFile(path, visible, found["id"], role, modified, inode)


def interrupted_swap(files: list[PartFile], current: str) -> PartFile | None:
    """The visible file holding the bytes of version ``current`` under an old name, left
    by a swap interrupted between its last two steps, if ``files`` show one.

    That state alone has a visible file and a retired file of the same superseded
    version on two different inodes, and no file of the current version.
    """
    if any(f.version_id == current for f in files):
        return None
    retired = {f.version_id: f.inode for f in files if f.role == RETIRED}
    for file in files:
        old = retired.get(file.version_id)
        if file.role == VISIBLE and file.inode is not None and old not in (None, file.inode):
            return file
    return None


__all__ = [
    "RETIRED",
    "STAGED",
    "VISIBLE",
    "PartFile",
    "interrupted_swap",
    "part_file",
    "places",
    "retired_name",
    "staged_name",
]
