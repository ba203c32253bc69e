"""The data store's root: one fsspec URL opened, safe paths under it, and views of the
whole root that maintenance and queries need (every file, empty folders, unfinished
uploads, pinned links, a rooted file system for DuckDB).

:class:`~partita.storage.store.datastore.DataStore` builds the versions of partitions on
top of it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import fsspec
import pyarrow as pa
from fsspec.exceptions import BlocksizeMismatchError, FSTimeoutError
from fsspec.implementations.local import LocalFileSystem

from partita._extras import needs_extra
from partita.errors import StorageError
from partita.storage.redaction import has_credentials, redact_credentials
from partita.storage.store import localdisk, remote
from partita.storage.store.remote import PendingUpload
from partita.storage.store.visibility import places

# Object stores publish an upload only when it completes, so no temporary name is needed.
OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az"})
# What filesystems raise when reading, writing or listing fails.
IO_ERRORS = (OSError, pa.ArrowException, FSTimeoutError, BlocksizeMismatchError)
_UNSAFE_CHARS = re.compile(r"[\\\x00-\x1f\x7f]")
PINS = ".partita-pins"  # under the root: hard links that readers hold (see StoreRoot.pinned)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file found under the store root.

    Attributes:
        path: Relative to the store root, ``/``-separated.
        size: Bytes.
        modified: When it was last written (local mtime, S3 ``LastModified``), in
            seconds since the epoch; ``None`` if the store does not say.
    """

    path: str
    size: int
    modified: float | None


class StoreRoot:
    """Files under one root, on local disk, in memory or in an object store.

    Args:
        url: A local path (relative, absolute or ``file://``), ``memory://...`` or any
            fsspec URL (``s3://bucket/prefix``).
        options: fsspec storage options (credentials, endpoint, ...).

    Raises:
        StorageError: The URL's filesystem is unknown or cannot be opened.
    """

    def __init__(self, url: str, options: Mapping[str, Any] | None = None) -> None:
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if scheme in OBJECT_STORES and has_credentials(url):
            # The authority of an object-store URL is the bucket: credentials written
            # there would be taken for part of the bucket's name, and shown in errors.
            raise StorageError(
                f"the data store URL {redact_credentials(url)} has credentials in it; remove "
                "them and give them in storage_options or the environment (e.g. "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
            )
        try:
            fs, root = fsspec.core.url_to_fs(url, **dict(options or {}))
            if isinstance(fs, LocalFileSystem):
                root = os.path.abspath(root)
                os.makedirs(root, exist_ok=True)
        except (ImportError, ValueError, *IO_ERRORS) as exc:
            shown = redact_credentials(url)
            message = needs_extra(f"the data store {shown}", exc)
            raise StorageError(message or f"cannot open the data store {shown}: {exc}") from exc
        protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
        self._fs: fsspec.AbstractFileSystem = fs
        self._local = isinstance(fs, LocalFileSystem)
        self._object_store = bool(protocols & OBJECT_STORES)
        self._s3 = bool(protocols & {"s3", "s3a"}) and hasattr(fs, "call_s3")
        self._root: str = root.rstrip("/")
        self._url = root if self._local else redact_credentials(url)

    @property
    def url(self) -> str:
        """The root URL (an absolute path for local disk), credentials redacted as ``***``."""
        return self._url

    def partition_dir(self, asset: str, segments: str) -> str:
        """Return the relative directory of a partition.

        Args:
            asset: The asset key; may contain ``/`` (``"sales/raw"``).
            segments: Hive path segments (``"date=2026-04-08"``), ``""`` if unpartitioned.

        Raises:
            StorageError: The key or segments could escape their directory.
        """
        directory = f"{asset}/{segments}" if segments else asset
        check_relative(directory)
        return directory

    def files(self) -> list[StoredFile]:
        """Every file under the root, hidden ones included, with its size and age.

        Symbolic links are left out: nothing outside the root is ever listed.

        Raises:
            StorageError: The root cannot be listed.
        """
        try:
            self._fs.invalidate_cache(self._root)
            found = self._fs.find(self._root, detail=True)
        except FileNotFoundError:
            return []
        except IO_ERRORS as exc:
            raise StorageError(f"cannot list {self._url}: {exc}") from exc
        prefix = f"{self._root}/"
        result = []
        for name, info in found.items():
            if info.get("type") != "file" or info.get("islink") or not name.startswith(prefix):
                continue
            path = name[len(prefix) :]
            with contextlib.suppress(StorageError):  # a name that could escape is not ours
                check_relative(path)
                result.append(StoredFile(path, int(info.get("size") or 0), modified_time(info)))
        return sorted(result, key=lambda file: file.path)

    def _info(self, full: str) -> dict[str, Any]:
        self._fs.invalidate_cache(full)
        return dict(self._fs.info(full))

    def _first(self, path: str, action: Callable[[str], T]) -> T:
        """``action`` on the first of a version file's names that exists, looked at in
        the order the names are given (see ``visibility.places``).

        Raises:
            FileNotFoundError: under none of its names.
        """
        for place in places(path):
            try:
                return action(self._full(place))
            except FileNotFoundError:
                continue
        raise FileNotFoundError(path)

    def prune(self, directories: Iterable[str]) -> int:
        """Remove empty local directories, and their parents up to the root once empty.

        Object stores have no directories; there this does nothing.

        Returns:
            How many directories were removed.
        """
        if not self._local:
            return 0
        removed = 0
        for directory in sorted(set(directories), key=lambda d: -d.count("/")):
            parts = directory.split("/")
            while parts:
                check_relative("/".join(parts))
                try:
                    os.rmdir(os.path.join(self._root, *parts))
                except OSError:
                    break  # not empty (or already gone): its parents are not empty either
                removed += 1
                parts.pop()
        return removed

    def pending_uploads(self) -> list[PendingUpload]:
        """Uploads under the root that were started but never completed (S3 only).

        Raises:
            StorageError: The uploads cannot be listed.
        """
        if not self._s3:
            return []
        try:
            return remote.pending_uploads(self._fs, self._root)
        except IO_ERRORS as exc:
            raise StorageError(f"cannot list the uploads of {self._url}: {exc}") from exc

    def abort_upload(self, path: str, upload_id: str) -> None:
        """Abort a pending upload (see :meth:`pending_uploads`): its parts are dropped and
        nothing is published.

        Raises:
            StorageError: The store refused.
        """
        check_relative(path)
        try:
            remote.abort_upload(self._fs, self._root, path, upload_id)
        except IO_ERRORS as exc:
            what = self._display(path)
            raise StorageError(f"cannot abort the upload of {what}: {exc}") from exc

    def absolute(self, path: str) -> str:
        """The full path or URL of a relative path, for readers such as DuckDB or pyarrow."""
        full = self._full(path)
        return full if self._local else self._fs.unstrip_protocol(full)

    @contextlib.contextmanager
    def pinned(self, files: Sequence[str]) -> Iterator[str | None]:
        """Keep ``files`` readable while a reader uses them, though a writer deletes them.

        On local disk: hard links under a private hidden folder of the root (no asset's
        folder, so garbage collection leaves it alone), removed afterwards; yields that
        folder, where each file has its relative path (linked under whichever name it
        has now). Files already gone are left out (the reader fails on them). Elsewhere,
        or where links cannot be made, yields ``None``: nothing is pinned.
        """
        if not self._local:
            yield None
            return

        def link(path: str, target: str) -> None:
            self._first(path, lambda full: os.link(full, target))

        with localdisk.pinned(f"{self._root}/{PINS}", files, link) as folder:
            yield folder

    def rooted_filesystem(self) -> fsspec.AbstractFileSystem:
        """An fsspec filesystem over the store's root, for readers that take one (DuckDB):
        its paths are ``partita-store://<relative path>``, read with the store's options."""
        from fsspec.implementations.dirfs import DirFileSystem

        class RootedFileSystem(DirFileSystem):  # type: ignore[misc]  # fsspec has no types
            protocol = "partita-store"

        # Not the instance cache: each caller gets its own listing cache to invalidate.
        return RootedFileSystem(path=self._root, fs=self._fs, skip_instance_cache=True)

    def _full(self, path: str) -> str:
        check_relative(path)
        return f"{self._root}/{path}"

    def _display(self, path: str) -> str:
        return f"{self._url.rstrip('/')}/{path}"


def modified_time(info: Mapping[str, Any]) -> float | None:
    """A listing entry's modification time: ``mtime`` locally, ``LastModified`` on S3."""
    for key in ("mtime", "LastModified", "last_modified", "modified", "updated", "created"):
        value = info.get(key)
        if isinstance(value, dt.datetime):
            return value.timestamp()
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str) and value:
            with contextlib.suppress(ValueError):
                return dt.datetime.fromisoformat(value).timestamp()
    return None


def check_relative(path: str) -> None:
    parts = path.split("/")
    if _UNSAFE_CHARS.search(path) or any(part in ("", ".", "..") for part in parts):
        raise StorageError(f"unsafe relative path {path!r}: it could escape the data store")


__all__ = [
    "IO_ERRORS",
    "PINS",
    "PendingUpload",
    "StoreRoot",
    "StoredFile",
    "check_relative",
    "modified_time",
    "redact_credentials",
]
