"""Object stores and other fsspec file systems: uploads that publish when they complete.

An S3 upload of a large file goes up in parts and only becomes an object when it is
completed; an exception while writing aborts it, so nothing is published. Uploads that a
killed writer left unfinished are listed and aborted by garbage collection. Each function
raises the file system's own errors; the data store translates them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import fsspec
from fsspec.spec import AbstractBufferedFile

T = TypeVar("T")


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


def write(
    fs: fsspec.AbstractFileSystem,
    target: str,
    encode: Callable[[Any], T],
    wrap: Callable[[Any], Any],
) -> tuple[T, Any]:
    """Write a new file at ``target`` through ``wrap(file)``; on any failure, the upload
    is aborted (never completed, so never published) or the file removed."""
    file = fs.open(target, "wb")
    try:
        sink = wrap(file)
        encoded = encode(sink)
        file.close()
    except BaseException:
        _quietly(_abandon, file)
        _quietly(fs.rm_file, target)
        raise
    return encoded, sink


def pending_uploads(fs: Any, root: str) -> list[PendingUpload]:
    """The unfinished multipart uploads under ``root`` (``bucket/prefix``) of S3."""
    bucket, _, prefix = root.partition("/")
    start = f"{prefix}/" if prefix else ""
    result: list[PendingUpload] = []
    markers: dict[str, str] = {}
    while True:
        page = fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=start, **markers)
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


def abort_upload(fs: Any, root: str, path: str, upload_id: str) -> None:
    """Abort an unfinished upload of ``path`` (relative to ``root``): nothing is published."""
    bucket, _, prefix = root.partition("/")
    key = f"{prefix}/{path}" if prefix else path
    fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id)


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


__all__ = ["PendingUpload", "abort_upload", "pending_uploads", "write"]
