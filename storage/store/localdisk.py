"""Local disk: durable writes under a staged name, and the renames that publish them.

A version's file is written under its hidden staged name and synced before its commit
(the catalog must never point at bytes a power loss could take back); after the commit
it is renamed into sight (see :mod:`partita.storage.store.visibility`). Each function
takes absolute paths and raises ``OSError``; the data store translates errors.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from partita.storage.store.visibility import retired_name, staged_name

T = TypeVar("T")

# Where links cannot be made: refused (EPERM: some network and FUSE file systems), across
# devices, unsupported, or too many.
_NO_LINKS = frozenset(
    getattr(errno, name)
    for name in ("EPERM", "EXDEV", "ENOTSUP", "EOPNOTSUPP", "EMLINK")
    if hasattr(errno, name)
)


def write_staged(
    folder: str, name: str, encode: Callable[[Any], T], wrap: Callable[[Any], Any], durable: bool
) -> tuple[T, Any]:
    """Write a new file under the staged name of ``folder/name``, never under ``name``.

    ``wrap`` turns the open file into the sink ``encode`` writes to (a hashing writer);
    both are returned. With ``durable``, the file and its folder entry are synced. On
    any failure the staged file is removed.
    """
    os.makedirs(folder, exist_ok=True)
    staged = staged_name(os.path.join(folder, name))
    try:
        with open(staged, "wb") as file:
            sink = wrap(file)
            encoded = encode(sink)
            file.flush()
            if durable:
                os.fsync(file.fileno())
        if durable:
            fsync_directory(folder)  # makes the file's name itself durable
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(staged)
        raise
    return encoded, sink


def make_durable(paths: Sequence[str]) -> None:
    """Sync files (given by their visible names; their staged names are synced) and
    their folders: on Linux with one ``syncfs`` of their file system."""
    staged = [staged_name(path) for path in paths]
    folders = sorted({os.path.dirname(path) for path in staged})
    if _syncfs(folders[0]):
        return
    for path in staged:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    for folder in folders:
        fsync_directory(folder)


def publish(visible: str, superseded: str | None) -> None:
    """Rename a committed file from its staged name into sight, retiring ``superseded``
    (the visible file of the version it replaces) in the same instant where it can.

    A file already published is left as it is.
    """
    staged = staged_name(visible)
    if not os.path.exists(staged) and os.path.exists(visible):
        return
    if superseded is not None and os.path.exists(superseded) and swap(staged, visible, superseded):
        return
    os.replace(staged, visible)
    if superseded is not None:
        retire(superseded)


def swap(staged: str, visible: str, superseded: str) -> bool:
    """Publish ``staged`` as ``visible`` and retire ``superseded`` so that a reader
    listing the folder sees exactly one of the two at every instant.

    The superseded file first gets its retired name as a second (hard) link, then the
    new bytes replace it under its visible name, then that name becomes the new one:
    three atomic steps, each leaving one visible name. Between the last two, the old
    name holds the new bytes; ``visibility.interrupted_swap`` recognizes that state
    after a crash. Returns ``False`` (nothing done) where the file system has no links.
    """
    retired = retired_name(superseded)
    os.utime(superseded)  # the grace period of the retired file starts now
    with contextlib.suppress(FileNotFoundError):
        os.remove(retired)  # left by a swap interrupted after its first step
    try:
        os.link(superseded, retired)
    except OSError as exc:
        if exc.errno in _NO_LINKS:
            return False
        raise
    os.replace(staged, superseded)
    os.replace(superseded, visible)
    return True


def retire(visible: str) -> None:
    """Move a visible file out of sight, keeping its bytes for the grace period."""
    with contextlib.suppress(FileNotFoundError):  # retired already
        os.utime(visible)  # the grace period starts now, not when it was written
        os.replace(visible, retired_name(visible))


def rename(source: str, target: str) -> None:
    """Give a file another name in its folder, atomically."""
    os.replace(source, target)


@contextlib.contextmanager
def pinned(
    base: str, files: Sequence[str], link: Callable[[str, str], None]
) -> Iterator[str | None]:
    """Hard links to ``files`` in a new private folder under ``base``, made by
    ``link(relative path, target)``, removed afterwards; yields the folder, or ``None``
    where links cannot be made. Files already gone are left out."""
    import secrets
    import shutil

    folder = f"{base}/{secrets.token_hex(8)}"
    try:
        for path in files:
            target = f"{folder}/{path}"
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                link(path, target)
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        yield None
        return
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def fsync_directory(folder: str) -> None:
    """Make the entries of a folder durable (where the system can open a folder)."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _syncfs(path: str) -> bool:
    """Write back everything of the file system holding ``path`` (Linux ``syncfs``);
    false where the call does not exist."""
    call = _libc_syncfs()
    if call is None:
        return False
    descriptor = os.open(path, os.O_RDONLY)
    try:
        if call(descriptor) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error), path)
    finally:
        os.close(descriptor)
    return True


@functools.cache
def _libc_syncfs() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None


__all__ = [
    "fsync_directory",
    "make_durable",
    "pinned",
    "publish",
    "rename",
    "retire",
    "swap",
    "write_staged",
]
