"""The data store: versioned partition files, written atomically, over any fsspec URL.

Layout: ``<root>/<asset>/<segments>/part-<version_id>.<ext>``, e.g.
``clean_sales/date=2026-04-08/part-01JRB3W7N4Q8ZK6T2M5XH9CDEF.parquet``. A write is step 2
of the commit protocol: the bytes go under a name no reader trusts (a hidden
``.<name>.tmp``, or an object-store upload that is invisible until it completes) and
are hashed on the way. Which file is current is the catalog's business, not the store's.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import functools
import hashlib
import os
import re
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import fsspec
import pyarrow as pa
from fsspec.exceptions import BlocksizeMismatchError, FSTimeoutError
from fsspec.implementations.local import LocalFileSystem
from fsspec.spec import AbstractBufferedFile

from partita._extras import needs_extra
from partita.errors import StorageError
from partita.storage.records import WrittenVersion
from partita.storage.redaction import has_credentials, redact_credentials
from partita.storage.store import formats

# Object stores publish an upload only when it completes, so no temporary name is needed.
_OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az"})
# What filesystems raise when reading, writing or listing fails.
IO_ERRORS = (OSError, pa.ArrowException, FSTimeoutError, BlocksizeMismatchError)
_VERSION_ID = re.compile(r"[0-9A-Za-z_-]+")
_UNSAFE_CHARS = re.compile(r"[\\\x00-\x1f\x7f]")
_CHUNK = 1 << 20  # bytes read at a time when hashing a file
PINS = ".partita-pins"  # under the root: hard links that readers hold (see DataStore.pinned)


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


@dataclass(frozen=True, slots=True)
class PendingUpload:
    """An object-store upload that was started and never completed nor aborted.

    Attributes:
        path: The key it would have been published under, relative to the root.
        upload_id: The store's id of the upload.
        started: When it was initiated, in seconds since the epoch.
    """

    path: str
    upload_id: str
    started: float


class DataStore:
    """Partition files under one root, on local disk, in memory or in an object store.

    Args:
        url: A local path (relative, absolute or ``file://``), ``memory://...`` or any
            fsspec URL (``s3://bucket/prefix``).
        options: fsspec storage options (credentials, endpoint, ...).

    Raises:
        StorageError: The URL's filesystem is unknown or cannot be opened.
    """

    def __init__(self, url: str, options: Mapping[str, Any] | None = None) -> None:
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if scheme in _OBJECT_STORES and has_credentials(url):
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
        self._object_store = bool(protocols & _OBJECT_STORES)
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
        _check_relative(directory)
        return directory

    def write(
        self,
        asset: str,
        segments: str,
        version_id: str,
        value: object,
        *,
        ext: str | None = None,
        schema: pa.Schema | None = None,
        durable: bool = True,
    ) -> WrittenVersion:
        """Write a value as a new version of a partition, atomically, hashing its bytes.

        Args:
            asset: The asset key.
            segments: The partition's path segments, ``""`` if unpartitioned.
            version_id: A new id for this attempt (see ``new_version_id``).
            value: The asset's output (see :func:`~partita.storage.store.formats.kind_of`).
            ext: File extension for text and bytes values (``"md"``, ``"html"``).
            schema: The declared schema, enforced on tables.
            durable: On local disk, sync the file and its folder before returning; a
                batch of writes made with ``False`` is made durable at once with
                :meth:`make_durable`, before it is committed.

        Returns:
            What was written. Nothing is committed: the catalog does that.

        Raises:
            SchemaError: A table does not match ``schema``.
            StorageError: The value cannot be stored, or the write failed. Either way no
                file of this version is left behind.
        """
        directory = self.partition_dir(asset, segments)
        if not _VERSION_ID.fullmatch(version_id):
            raise StorageError(f"asset {asset}: invalid version id {version_id!r}")
        name = f"part-{version_id}.{formats.file_extension(formats.kind_of(value), ext)}"
        path = f"{directory}/{name}"

        def encode(sink: _HashingWriter) -> formats.Encoded:
            return formats.write_value(value, sink, ext=ext, schema=schema, asset=asset)

        try:
            if self._local:
                encoded, sink = self._write_local(directory, name, encode, durable)
            else:
                encoded, sink = self._write_remote(directory, name, encode)
        except StorageError:
            raise
        except IO_ERRORS as exc:
            raise StorageError(f"asset {asset}: cannot write {self._display(path)}: {exc}") from exc
        return WrittenVersion(
            version_id, (path,), encoded.kind, encoded.rows, sink.size, sink.hexdigest()
        )

    def read(self, files: Sequence[str], kind: str) -> object:
        """Read a version's value.

        Args:
            files: The version's files, relative to the root.
            kind: The kind they were written as.

        Returns:
            The value of one file; for several, their tables concatenated (or a list).

        Raises:
            StorageError: No files, a file is missing, or it cannot be decoded.
        """
        if not files:
            raise StorageError("nothing to read: no files given")
        values = [self._read_file(path, kind) for path in files]
        return values[0] if len(values) == 1 else formats.concat_values(values)

    def delete(self, files: Iterable[str]) -> None:
        """Delete files; those already gone are fine.

        Raises:
            StorageError: A file exists but cannot be deleted.
        """
        for path in files:
            try:
                self._fs.rm_file(self._full(path))
            except FileNotFoundError:
                continue
            except IO_ERRORS as exc:
                raise StorageError(f"cannot delete {self._display(path)}: {exc}") from exc

    def leftovers(self, asset: str, segments: str, keep: Collection[str]) -> list[str]:
        """List the files of a partition's directory that are not in ``keep``.

        Superseded versions, abandoned attempts and hidden temporaries all count;
        subdirectories (other partitions, nested asset keys) are never looked into.

        Args:
            asset: The asset key.
            segments: The partition's path segments, ``""`` if unpartitioned.
            keep: Relative paths to leave out, typically the current version's files.

        Returns:
            Relative paths, sorted.
        """
        directory = self.partition_dir(asset, segments)
        full = self._full(directory)
        try:
            self._fs.invalidate_cache(full)  # other processes may have written meanwhile
            entries = self._fs.ls(full, detail=True)
        except FileNotFoundError:
            return []
        except IO_ERRORS as exc:
            raise StorageError(f"cannot list {self._display(directory)}: {exc}") from exc
        files = (
            f"{directory}/{entry['name'].rstrip('/').rsplit('/', 1)[-1]}"
            for entry in entries
            if entry["type"] == "file"
        )
        return sorted(path for path in files if path not in keep)

    def exists(self, path: str) -> bool:
        """Whether a file exists at a relative path."""
        full = self._full(path)
        try:
            self._fs.invalidate_cache(full)  # a cached listing would answer for other writers
            return bool(self._fs.exists(full))
        except IO_ERRORS as exc:
            raise StorageError(f"cannot check {self._display(path)}: {exc}") from exc

    def size(self, path: str) -> int:
        """The size in bytes of the file at a relative path.

        Raises:
            StorageError: The file is missing or cannot be inspected.
        """
        full = self._full(path)
        try:
            self._fs.invalidate_cache(full)
            return int(self._fs.size(full))
        except IO_ERRORS as exc:
            raise StorageError(f"cannot get the size of {self._display(path)}: {exc}") from exc

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
                _check_relative(path)
                result.append(StoredFile(path, int(info.get("size") or 0), modified_time(info)))
        return sorted(result, key=lambda file: file.path)

    def stat(self, path: str) -> StoredFile | None:
        """The size and age of the file at a relative path, or ``None`` if it is missing."""
        full = self._full(path)
        try:
            self._fs.invalidate_cache(full)
            info = self._fs.info(full)
        except FileNotFoundError:
            return None
        except IO_ERRORS as exc:
            raise StorageError(f"cannot inspect {self._display(path)}: {exc}") from exc
        if info.get("type") != "file":
            return None
        return StoredFile(path, int(info.get("size") or 0), modified_time(info))

    def digest(self, files: Sequence[str]) -> tuple[int, str]:
        """The size and hex BLAKE2b-128 of files' bytes, read in order, in chunks.

        The same hash the write recorded as the version's data version.

        Raises:
            StorageError: A file is missing or cannot be read.
        """
        hashed = hashlib.blake2b(digest_size=16)
        size = 0
        for path in files:
            try:
                with self._fs.open(self._full(path), "rb") as file:
                    while chunk := file.read(_CHUNK):
                        hashed.update(chunk)
                        size += len(chunk)
            except FileNotFoundError as exc:
                raise StorageError(f"cannot read {self._display(path)}: no such file") from exc
            except IO_ERRORS as exc:
                raise StorageError(f"cannot read {self._display(path)}: {exc}") from exc
        return size, hashed.hexdigest()

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
                _check_relative("/".join(parts))
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
        bucket, _, prefix = self._root.partition("/")
        start = f"{prefix}/" if prefix else ""
        result: list[PendingUpload] = []
        markers: dict[str, str] = {}
        while True:
            try:
                page = self._fs.call_s3(
                    "list_multipart_uploads", Bucket=bucket, Prefix=start, **markers
                )
            except IO_ERRORS as exc:
                raise StorageError(f"cannot list the uploads of {self._url}: {exc}") from exc
            for upload in page.get("Uploads", []):
                key, initiated = upload["Key"], upload["Initiated"]
                if key.startswith(start):
                    path = key[len(start) :]
                    result.append(PendingUpload(path, upload["UploadId"], initiated.timestamp()))
            if not page.get("IsTruncated"):
                return result
            markers = {
                "KeyMarker": page["NextKeyMarker"],
                "UploadIdMarker": page["NextUploadIdMarker"],
            }

    def abort_upload(self, path: str, upload_id: str) -> None:
        """Abort a pending upload (see :meth:`pending_uploads`): its parts are dropped and
        nothing is published.

        Raises:
            StorageError: The store refused.
        """
        bucket, _, prefix = self._root.partition("/")
        key = f"{prefix}/{path}" if prefix else path
        _check_relative(path)
        try:
            self._fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id)
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
        folder, where each file has its relative path. Files already gone are left out
        (the reader fails on them). Elsewhere, or where links cannot be made, yields
        ``None``: nothing is pinned.
        """
        if not self._local:
            yield None
            return
        import secrets
        import shutil

        folder = f"{self._root}/{PINS}/{secrets.token_hex(8)}"
        try:
            for path in files:
                target = f"{folder}/{path}"
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with contextlib.suppress(FileNotFoundError):
                    os.link(self._full(path), target)
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)
            yield None
            return
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def rooted_filesystem(self) -> fsspec.AbstractFileSystem:
        """An fsspec filesystem over the store's root, for readers that take one (DuckDB):
        its paths are ``partita-store://<relative path>``, read with the store's options."""
        from fsspec.implementations.dirfs import DirFileSystem

        class RootedFileSystem(DirFileSystem):
            protocol = "partita-store"

        # Not the instance cache: each caller gets its own listing cache to invalidate.
        return RootedFileSystem(path=self._root, fs=self._fs, skip_instance_cache=True)

    def _full(self, path: str) -> str:
        _check_relative(path)
        return f"{self._root}/{path}"

    def _display(self, path: str) -> str:
        return f"{self._url.rstrip('/')}/{path}"

    def _read_file(self, path: str, kind: str) -> object:
        try:
            data = self._fs.cat_file(self._full(path))
        except FileNotFoundError as exc:
            raise StorageError(f"cannot read {self._display(path)}: no such file") from exc
        except IO_ERRORS as exc:
            raise StorageError(f"cannot read {self._display(path)}: {exc}") from exc
        try:
            return formats.read_value(data, kind)
        except StorageError as exc:
            raise StorageError(f"cannot read {self._display(path)}: {exc}") from exc

    def make_durable(self, files: Sequence[str]) -> None:
        """Make files written with ``durable=False`` durable, and their renames: on Linux
        with one ``syncfs`` of their file system, elsewhere file by file and folder by
        folder. Object stores are durable when a write returns.

        Raises:
            StorageError: The file system reported an error writing them back.
        """
        if not self._local or not files:
            return
        paths = [self._full(path) for path in files]
        folders = sorted({os.path.dirname(path) for path in paths})
        try:
            if _syncfs(folders[0]):
                return
            for path in paths:
                descriptor = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(descriptor)
                finally:
                    os.close(descriptor)
            for folder in folders:
                _fsync_directory(folder)
        except OSError as exc:
            raise StorageError(f"cannot make written files durable: {exc}") from exc

    def _write_local(
        self,
        directory: str,
        name: str,
        encode: Callable[[_HashingWriter], formats.Encoded],
        durable: bool = True,
    ) -> tuple[formats.Encoded, _HashingWriter]:
        folder = os.path.join(self._root, *directory.split("/"))
        os.makedirs(folder, exist_ok=True)
        temporary, final = os.path.join(folder, f".{name}.tmp"), os.path.join(folder, name)
        renamed = False
        try:
            with open(temporary, "wb") as file:
                sink = _HashingWriter(file)
                encoded = encode(sink)
                file.flush()
                if durable:
                    os.fsync(file.fileno())
            os.replace(temporary, final)
            renamed = True
            if durable:
                _fsync_directory(folder)  # makes the rename itself durable
        except BaseException:
            _quietly(os.remove, final if renamed else temporary)
            raise
        return encoded, sink

    def _write_remote(
        self, directory: str, name: str, encode: Callable[[_HashingWriter], formats.Encoded]
    ) -> tuple[formats.Encoded, _HashingWriter]:
        final = self._full(f"{directory}/{name}")
        target = final if self._object_store else self._full(f"{directory}/.{name}.tmp")
        if not self._object_store:
            self._fs.makedirs(self._full(directory), exist_ok=True)
        file = self._fs.open(target, "wb")
        moving = False
        try:
            sink = _HashingWriter(file)
            encoded = encode(sink)
            file.close()
            if target != final:
                moving = True
                self._fs.mv(target, final)
        except BaseException:
            _quietly(_abandon, file)
            for leftover in (target, final) if moving else (target,):
                _quietly(self._fs.rm_file, leftover)
            raise
        return encoded, sink


class _HashingWriter:
    """Passes bytes on to a file, hashing and counting them on the way."""

    __slots__ = ("_file", "_hash", "size")

    def __init__(self, file: Any) -> None:
        self._file = file
        self._hash = hashlib.blake2b(digest_size=16)
        self.size = 0

    def write(self, data: bytes) -> int:
        self._file.write(data)
        self._hash.update(data)
        written = memoryview(data).nbytes
        self.size += written
        return written

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


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


def _check_relative(path: str) -> None:
    parts = path.split("/")
    if _UNSAFE_CHARS.search(path) or any(part in ("", ".", "..") for part in parts):
        raise StorageError(f"unsafe relative path {path!r}: it could escape the data store")


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


def _fsync_directory(folder: str) -> None:
    if os.name != "posix":  # other systems cannot open a directory to sync it
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _abandon(file: Any) -> None:
    """Drop a file being written without publishing it.

    ``discard()`` aborts an unfinished upload, where ``close()`` would publish it.
    """
    discard = getattr(file, "discard", None)
    if discard is None:
        file.close()
        return
    try:
        discard()
    finally:
        if isinstance(file, AbstractBufferedFile):
            # Collected unclosed, it would close itself and upload what it still holds.
            file.closed = True


def _quietly(action: Callable[..., object], *args: object) -> None:
    """Best-effort cleanup: the original error matters, not this one."""
    with contextlib.suppress(Exception):
        action(*args)


__all__ = ["DataStore", "PendingUpload", "StoredFile", "WrittenVersion"]
