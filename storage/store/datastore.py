"""The data store: versioned partition files, written atomically, over any fsspec URL.

Layout: ``<root>/<asset>/<segments>/part-<version_id>.<ext>``, e.g.
``clean_sales/date=2026-04-08/part-01JRB3W7N4Q8ZK6T2M5XH9CDEF.parquet``. A write is step 2
of the commit protocol: the bytes go under a name no reader trusts (a hidden staged
name, or an object-store upload that is invisible until it completes) and are hashed on
the way. After the commit, :meth:`DataStore.publish` gives them their visible name and
retires the superseded version's (step 4; see :mod:`partita.storage.store.visibility`).
Which file is current is the catalog's business, not the store's.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pyarrow as pa

from partita.errors import StorageError
from partita.storage.records import WrittenVersion
from partita.storage.store import formats, localdisk, remote
from partita.storage.store.root import (
    IO_ERRORS,
    PINS,
    PendingUpload,
    StoredFile,
    StoreRoot,
    modified_time,
    redact_credentials,
)
from partita.storage.store.visibility import PartFile, part_file, retired_name, staged_name

_VERSION_ID = re.compile(r"[0-9A-Za-z_-]+")
_CHUNK = 1 << 20  # bytes read at a time when hashing a file


class MissingFile(StorageError):
    """A version's file is under none of its names (removed since it was resolved)."""


class DataStore(StoreRoot):
    """Versions of partitions: files under one root, on local disk, in memory or in an
    object store.

    Args:
        url: A local path (relative, absolute or ``file://``), ``memory://...`` or any
            fsspec URL (``s3://bucket/prefix``).
        options: fsspec storage options (credentials, endpoint, ...).

    Raises:
        StorageError: The URL's filesystem is unknown or cannot be opened.
    """

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
        """Write a value as a new version of a partition, hashing its bytes, out of
        sight (object stores: invisible until the upload completes, then visible).
        :meth:`publish` gives it its visible name once the catalog has committed it.

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
            What was written, under the names its files will have once published.
            Nothing is committed: the catalog does that.

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
            encoded, sink = self._write_file(directory, name, encode, durable)
        except StorageError:
            raise
        except IO_ERRORS as exc:
            raise StorageError(f"asset {asset}: cannot write {self._display(path)}: {exc}") from exc
        return WrittenVersion(
            version_id, (path,), encoded.kind, encoded.rows, sink.size, sink.hexdigest()
        )

    def _write_file(
        self,
        directory: str,
        name: str,
        encode: Callable[[_HashingWriter], formats.Encoded],
        durable: bool,
    ) -> tuple[formats.Encoded, _HashingWriter]:
        """Write ``directory/name`` out of sight: under its staged name, or (object
        stores) as an upload that publishes when it completes."""
        if self._local:
            folder = os.path.join(self._root, *directory.split("/"))
            return localdisk.write_staged(folder, name, encode, _HashingWriter, durable)
        final = f"{directory}/{name}"
        target = final if self._object_store else staged_name(final)
        if not self._object_store:
            self._fs.makedirs(self._full(directory), exist_ok=True)
        return remote.write(self._fs, self._full(target), encode, _HashingWriter)

    def read(self, files: Sequence[str], kind: str) -> object:
        """Read a version's value, following its files through their names (a version
        committed a moment ago may still be staged; one superseded a moment ago, retired).

        Args:
            files: The version's files, relative to the root.
            kind: The kind they were written as.

        Returns:
            The value of one file; for several, their tables concatenated (or a list).

        Raises:
            MissingFile: A file is under none of its names.
            StorageError: No files, or a file cannot be decoded.
        """
        if not files:
            raise StorageError("nothing to read: no files given")
        values = [self._read_file(path, kind) for path in files]
        return values[0] if len(values) == 1 else formats.concat_values(values)

    def publish(self, files: Sequence[str], superseded: Sequence[str] = ()) -> None:
        """Give a committed version's files their visible names, and move the files of
        the version it superseded out of sight, in the same instant where the file
        system allows (local disk with hard links): a reader listing the folder sees one
        version at every moment. Object stores published the upload when it completed:
        there the superseded files are deleted.

        Raises:
            StorageError: A file could not be moved (a later tidy of the folder finishes).
        """
        old = list(superseded)
        try:
            if self._object_store:
                self.delete(old)
            elif self._local:
                for index, path in enumerate(files):
                    replaced = self._full(old.pop(0)) if index == 0 and old else None
                    localdisk.publish(self._full(path), replaced)
                self.retire(old)
            else:
                for path in files:
                    self._move(staged_name(path), path)
                self.retire(old)
        except IO_ERRORS as exc:
            shown = self._display(files[0]) if files else "nothing"
            raise StorageError(f"cannot publish {shown}: {exc}") from exc

    def retire(self, files: Iterable[str]) -> None:
        """Move visible files out of sight, keeping their bytes under their retired
        names for the grace period (object stores: delete them).

        Raises:
            StorageError: A file exists but could not be moved.
        """
        if self._object_store:
            self.delete(files)
            return
        for path in files:
            try:
                if self._local:
                    localdisk.retire(self._full(path))
                else:
                    self._move(path, retired_name(path))
            except IO_ERRORS as exc:
                raise StorageError(f"cannot retire {self._display(path)}: {exc}") from exc

    def _move(self, source: str, target: str) -> None:
        """Rename with fsspec (no atomic rename there); a file moved already is fine."""
        full = self._full(source)
        self._fs.invalidate_cache(full)
        if self._fs.exists(full):
            self._fs.mv(full, self._full(target))

    def rename(self, source: str, target: str) -> None:
        """Give a file another name in its folder (a tidy publishing a hidden file).

        Raises:
            StorageError: It could not be renamed.
        """
        try:
            if self._local:
                localdisk.rename(self._full(source), self._full(target))
            else:
                self._fs.mv(self._full(source), self._full(target))
        except IO_ERRORS as exc:
            raise StorageError(f"cannot rename {self._display(source)}: {exc}") from exc

    def discard(self, files: Iterable[str]) -> None:
        """Delete a written version that will never be committed, under every name it
        can have before publishing.

        Raises:
            StorageError: A file exists but cannot be deleted.
        """
        self.delete(name for path in files for name in (staged_name(path), path))

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

    def folder(self, asset: str, segments: str) -> list[PartFile]:
        """The files of a partition's folder that partita names, in every role (staged,
        visible, retired); subdirectories (other partitions, nested asset keys) and
        other files are left out.

        Raises:
            StorageError: The folder cannot be listed.
        """
        directory = self.partition_dir(asset, segments)
        full = self._full(directory)
        try:
            self._fs.invalidate_cache(full)  # other processes may have written meanwhile
            entries = self._fs.ls(full, detail=True)
        except FileNotFoundError:
            return []
        except Exception as exc:  # any file system's own errors (an endpoint unreachable)
            raise StorageError(f"cannot list {self._display(directory)}: {exc}") from exc
        found = []
        for entry in entries:
            name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
            file = part_file(f"{directory}/{name}", modified_time(entry), entry.get("ino"))
            if entry["type"] == "file" and file is not None:
                found.append(file)
        return sorted(found, key=lambda file: file.path)

    def exists(self, path: str) -> bool:
        """Whether a version's file exists, under any of its names."""
        return self.stat(path) is not None

    def size(self, path: str) -> int:
        """The size in bytes of a version's file, under whichever name it has now.

        Raises:
            StorageError: The file is missing or cannot be inspected.
        """
        stored = self.stat(path)
        if stored is None:
            raise StorageError(f"cannot get the size of {self._display(path)}: no such file")
        return stored.size

    def stat(self, path: str) -> StoredFile | None:
        """The size and age of a version's file, under whichever name it has now, or
        ``None`` if it is under none."""
        try:
            info = self._first(path, self._info)
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
                with self._first(path, lambda full: self._fs.open(full, "rb")) as file:
                    while chunk := file.read(_CHUNK):
                        hashed.update(chunk)
                        size += len(chunk)
            except FileNotFoundError as exc:
                raise StorageError(f"cannot read {self._display(path)}: no such file") from exc
            except IO_ERRORS as exc:
                raise StorageError(f"cannot read {self._display(path)}: {exc}") from exc
        return size, hashed.hexdigest()

    def _read_file(self, path: str, kind: str) -> object:
        try:
            data = self._first(path, self._fs.cat_file)
        except FileNotFoundError as exc:
            raise MissingFile(f"cannot read {self._display(path)}: no such file") from exc
        except IO_ERRORS as exc:
            raise StorageError(f"cannot read {self._display(path)}: {exc}") from exc
        try:
            return formats.read_value(data, kind)
        except StorageError as exc:
            raise StorageError(f"cannot read {self._display(path)}: {exc}") from exc

    def make_durable(self, files: Sequence[str]) -> None:
        """Make files written with ``durable=False`` durable, with their staged names: on
        Linux with one ``syncfs`` of their file system, elsewhere file by file and folder
        by folder. Object stores are durable when a write returns.

        Raises:
            StorageError: The file system reported an error writing them back.
        """
        if not self._local or not files:
            return
        try:
            localdisk.make_durable([self._full(path) for path in files])
        except OSError as exc:
            raise StorageError(f"cannot make written files durable: {exc}") from exc


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


# Imported from here by callers that knew the store as one module.
__all__ = [
    "IO_ERRORS",
    "PINS",
    "DataStore",
    "MissingFile",
    "PendingUpload",
    "StoredFile",
    "WrittenVersion",
    "modified_time",
    "redact_credentials",
]
