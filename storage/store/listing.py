"""Fresh listings of files under any fsspec URL, for file sensors.

A sensor watches a folder it does not own (local disk, S3, ...): this module lists it
with every cache dropped first, and gives each file a signature that changes when the
file is rewritten (its ETag where the store has one, else its size and modification
time). Errors become one :class:`StorageError` line, credentials redacted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from partita._extras import needs_extra
from partita.errors import StorageError
from partita.storage.redaction import redact_credentials, redact_option_values
from partita.storage.store.root import IO_ERRORS, modified_time


@dataclass(frozen=True, slots=True)
class ListedFile:
    """A file found under a watched folder.

    Attributes:
        path: Relative to the folder, ``/``-separated.
        size: Bytes.
        signature: Changes when the file is rewritten: ``etag:<ETag>`` where the store
            gives one, else ``<size>:<mtime>``.
    """

    path: str
    size: int
    signature: str


def list_files(
    url: str, options: Mapping[str, Any] | None = None, *, under: str = ""
) -> list[ListedFile]:
    """Every file below ``url`` (or below its subfolder ``under``), listed afresh.

    Args:
        url: A local path or any fsspec URL (``s3://bucket/incoming``).
        options: fsspec storage options for ``url``.
        under: A ``/``-separated subfolder of ``url`` to list instead of all of it.

    Raises:
        StorageError: The folder does not exist or cannot be listed (one line, without
            credentials).
    """
    shown = redact_credentials(url)
    try:
        fs, root = fsspec.core.url_to_fs(url, **dict(options or {}))
    except (ImportError, ValueError, *IO_ERRORS) as exc:
        message = needs_extra(f"the folder {shown}", exc)
        raise StorageError(message or _message(f"cannot open {shown}", exc, options)) from exc
    local = isinstance(fs, LocalFileSystem)
    root = (os.path.abspath(root) if local else root).rstrip("/")
    base = f"{root}/{under.strip('/')}" if under.strip("/") else root
    try:
        fs.invalidate_cache()
        if local:
            if not os.path.isdir(root):
                raise FileNotFoundError(root)
            found = fs.find(base, detail=True, on_error="raise") if fs.isdir(base) else {}
        else:  # without maxdepth: one listing that raises its errors (a walk would omit them)
            found = fs.find(base, detail=True)
    except FileNotFoundError as exc:
        raise StorageError(
            f"cannot list {shown}: it does not exist (create it, or fix the url)"
        ) from exc
    except Exception as exc:  # any filesystem's own errors, translated here
        raise StorageError(_message(f"cannot list {shown}", exc, options)) from exc
    prefix = f"{root}/"
    result = []
    for name, info in found.items():
        if info.get("type") != "file" or info.get("islink") or not name.startswith(prefix):
            continue
        size = int(info.get("size") or 0)
        result.append(ListedFile(name[len(prefix) :], size, _signature(info, size)))
    return sorted(result, key=lambda file: file.path)


def _signature(info: Mapping[str, Any], size: int) -> str:
    etag = info.get("ETag") or info.get("etag")
    if etag:
        return f"etag:{str(etag).strip(chr(34))}"
    return f"{size}:{modified_time(info)}"


def _message(what: str, exc: BaseException, options: Mapping[str, Any] | None) -> str:
    # One line, without credentials: neither in URLs nor as option values echoed back.
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{what}: {redact_option_values(text, options)}"


__all__ = ["ListedFile", "list_files"]
