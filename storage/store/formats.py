"""Values and bytes: how an asset's output is encoded on disk and decoded again.

Tables (pyarrow or pandas) become Parquet, dicts and lists JSON, ``str`` UTF-8 text
and ``bytes`` stay as they are. A stream of record batches (a ``pyarrow.RecordBatchReader``
or an iterator of batches or tables, such as a generator) becomes Parquet too, written
batch by batch so that it never has to fit in memory. Encoding is deterministic: the same
value always gives the same bytes, so a content hash of the bytes is a data version.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from partita.errors import SchemaError, StorageError
from partita.storage.store.schemas import conform, type_name

KINDS = ("parquet", "json", "text", "bytes")
_DEFAULT_EXT = {"parquet": "parquet", "json": "json", "text": "txt", "bytes": "bin"}
_EXT_PATTERN = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*")
_ACCEPTED = (
    "a pyarrow.Table, a pandas.DataFrame, a pyarrow.RecordBatchReader or an iterator of "
    "record batches, a dict or list (JSON), a str or bytes"
)


class Writable(Protocol):
    """A binary file-like object: only ``write`` is used."""

    def write(self, data: bytes, /) -> Any: ...


@dataclass(frozen=True, slots=True)
class Encoded:
    """What a value became on disk.

    Attributes:
        kind: ``"parquet"``, ``"json"``, ``"text"`` or ``"bytes"``.
        ext: The file extension, without the dot (``"parquet"``, ``"md"``, ...).
        rows: Rows of a table, length of a list, else ``None``.
    """

    kind: str
    ext: str
    rows: int | None


def kind_of(value: object) -> str:
    """Return the kind a value is stored as.

    Raises:
        StorageError: The value's type cannot be stored.
    """
    if isinstance(value, pa.Table) or _is_dataframe(value) or is_stream(value):
        return "parquet"
    if isinstance(value, dict | list):
        return "json"
    if isinstance(value, str):
        return "text"
    if isinstance(value, bytes):
        return "bytes"
    raise StorageError(f"cannot store a value of type {type_name(value)}: expected {_ACCEPTED}")


def is_stream(value: object) -> bool:
    """Whether a value is a stream of record batches, written without being materialized.

    A ``pyarrow.RecordBatchReader``, or any iterator (a generator, ``iter(...)``), whose
    items must then be ``pyarrow.RecordBatch``, ``pyarrow.Table`` or ``pandas.DataFrame``.
    """
    return isinstance(value, pa.RecordBatchReader | Iterator)


def file_extension(kind: str, ext: str | None) -> str:
    """Return the extension (without dot) a value of ``kind`` is written with.

    Args:
        kind: One of :data:`KINDS`.
        ext: The asset's requested extension; only text and bytes may choose one
            (``"md"``, ``"html"``, ...). ``None`` means the kind's default.

    Raises:
        StorageError: Unknown kind, or an extension that is invalid or does not fit the kind.
    """
    default = _DEFAULT_EXT.get(kind)
    if default is None:
        raise StorageError(f"unknown value kind {kind!r}: expected one of {', '.join(KINDS)}")
    if ext is None or ext == default:
        return default
    if kind in ("parquet", "json"):
        raise StorageError(f"a {kind} value is written as .{default}, not .{ext}")
    if not _EXT_PATTERN.fullmatch(ext) or ext.lower().endswith("tmp"):
        raise StorageError(f"invalid file extension {ext!r}: letters and digits, no leading dot")
    return ext


def write_value(
    value: object, fileobj: Writable, *, ext: str | None, schema: pa.Schema | None, asset: str
) -> Encoded:
    """Encode a value and write its bytes to ``fileobj``.

    Tables are written as Parquet (pandas via ``Table.from_pandas(preserve_index=False)``,
    checked against ``schema`` when given); streams (see :func:`is_stream`) as Parquet
    too, one chunk at a time, each chunk checked against ``schema`` or, without one,
    against the first chunk's schema; dicts and lists as sorted-key JSON;
    ``str`` as UTF-8; ``bytes`` as they are. Identical values give identical bytes.

    Args:
        value: The asset's output.
        fileobj: Where the bytes go; only ``write`` is called, and it is not closed.
        ext: Extension for text and bytes values (default ``txt`` / ``bin``).
        schema: The declared schema, for tables only.
        asset: The asset key, for error messages.

    Raises:
        StorageError: The value cannot be encoded.
        SchemaError: A table does not match ``schema``, or a schema was given for a
            value that is not a table.
    """
    kind = kind_of(value)
    extension = file_extension(kind, ext)
    if kind == "parquet" and is_stream(value):
        rows = _write_stream(typing.cast(Any, value), fileobj, schema, asset)
        return Encoded(kind, extension, rows)
    if kind == "parquet":
        table = _to_table(value, asset)
        if schema is not None:
            table = conform(table, schema, asset)
        pq.write_table(table, _Sink(fileobj).as_file())
        return Encoded(kind, extension, table.num_rows)
    if schema is not None:
        raise SchemaError(f"asset {asset}: a schema applies to tables, not to {type_name(value)}")
    try:
        if kind == "json":
            data = json.dumps(value, sort_keys=True, default=str).encode("utf-8")
        elif kind == "text":
            data = typing.cast(str, value).encode("utf-8")
        else:
            data = typing.cast(bytes, value)
    except (TypeError, ValueError) as exc:
        raise StorageError(f"asset {asset}: cannot encode the value as {kind}: {exc}") from exc
    fileobj.write(data)
    return Encoded(kind, extension, len(value) if isinstance(value, list) else None)


def read_value(source: bytes | BinaryIO, kind: str) -> object:
    """Decode a value written by :func:`write_value`.

    Args:
        source: The bytes, or a binary file object to read them from.
        kind: The kind the value was written as.

    Returns:
        A ``pyarrow.Table`` (parquet), the JSON object, a ``str`` or ``bytes``.

    Raises:
        StorageError: Unknown kind, or bytes that do not decode as ``kind``.
    """
    if kind not in KINDS:
        raise StorageError(f"unknown value kind {kind!r}: expected one of {', '.join(KINDS)}")
    data = source if isinstance(source, bytes | bytearray | memoryview) else source.read()
    try:
        if kind == "parquet":
            return pq.read_table(pa.BufferReader(data))
        if kind == "json":
            return json.loads(bytes(data))
        if kind == "text":
            return bytes(data).decode("utf-8")
        return bytes(data)
    except (pa.ArrowException, ValueError) as exc:  # JSON and Unicode errors are ValueErrors
        raise StorageError(f"cannot decode a {kind} value: {exc}") from exc


def concat_values(values: list[object]) -> object:
    """Combine the values of several partitions into one input.

    Tables are concatenated (schemas promoted: a column missing in one becomes
    null); any other values are returned as the list itself.

    Raises:
        StorageError: The tables' schemas cannot be combined.
    """
    if not values or not all(isinstance(value, pa.Table) for value in values):
        return values
    try:
        return pa.concat_tables(typing.cast(list[pa.Table], values), promote_options="default")
    except pa.ArrowException as exc:
        raise StorageError(f"cannot combine tables: {exc}") from exc


# A stream's small chunks are gathered into row groups of up to this many rows or bytes
# (in memory, before they are written): one row group per chunk made files larger and
# slower to read. The bytes bound keeps the memory a stream needs bounded.
ROW_GROUP_ROWS = 1 << 20
ROW_GROUP_BYTES = 64 << 20


def _write_stream(
    stream: pa.RecordBatchReader | Iterator[object],
    fileobj: Writable,
    schema: pa.Schema | None,
    asset: str,
) -> int:
    """Write a stream's chunks as one Parquet file, gathered into row groups.

    Returns:
        The rows written.
    """
    known = schema
    if known is None and isinstance(stream, pa.RecordBatchReader):
        known = stream.schema
    sink = _Sink(fileobj)
    writer: pq.ParquetWriter | None = None
    rows = 0
    pending: list[pa.Table] = []  # chunks gathered into one row group
    pending_bytes = pending_rows = 0
    try:
        for number, chunk in enumerate(stream, start=1):
            table = _chunk_table(chunk, number, asset)
            if known is None:
                known = table.schema
            table = _conform_chunk(table, known, number, asset)
            if writer is None:
                writer = pq.ParquetWriter(sink.as_file(), known)
            pending.append(table)
            pending_bytes += table.nbytes
            pending_rows += table.num_rows
            rows += table.num_rows
            if pending_bytes >= ROW_GROUP_BYTES or pending_rows >= ROW_GROUP_ROWS:
                writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS)
                pending, pending_bytes, pending_rows = [], 0, 0
        if pending and writer is not None:
            writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS)
            pending = []
        if writer is None:
            if known is None:
                raise StorageError(
                    f"asset {asset}: the stream yielded no batches and its schema is unknown; "
                    "declare the asset's schema, or return a pyarrow.RecordBatchReader, "
                    "which carries one"
                )
            writer = pq.ParquetWriter(sink.as_file(), known)
        writer.close()
    except BaseException:
        # Closing would write a footer into a file that is being abandoned.
        sink.detach()
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        raise
    finally:
        close = getattr(stream, "close", None)  # a generator runs its cleanup now
        if close is not None:
            with contextlib.suppress(Exception):
                close()
    return rows


def _chunk_table(chunk: object, number: int, asset: str) -> pa.Table:
    if isinstance(chunk, pa.RecordBatch):
        return pa.Table.from_batches([chunk])
    if isinstance(chunk, pa.Table) or _is_dataframe(chunk):
        return _to_table(chunk, asset)
    raise StorageError(
        f"asset {asset}: item {number} of the stream is a {type_name(chunk)}; a stream "
        "yields pyarrow.RecordBatch, pyarrow.Table or pandas.DataFrame chunks"
    )


def _conform_chunk(table: pa.Table, schema: pa.Schema, number: int, asset: str) -> pa.Table:
    if table.schema.equals(schema, check_metadata=False):
        return table
    try:
        return conform(table, schema, asset)
    except SchemaError as exc:
        raise SchemaError(f"{exc} (in batch {number} of the stream)") from exc


class _Sink:
    """A write-only view of a file for pyarrow, which then never closes the file itself."""

    __slots__ = ("_fileobj",)
    closed = False

    def __init__(self, fileobj: Writable) -> None:
        self._fileobj: Writable | None = fileobj

    def write(self, data: bytes) -> Any:
        if self._fileobj is None:
            return len(data)
        return self._fileobj.write(data)

    def detach(self) -> None:
        """Drop whatever is written from now on: the file is being abandoned."""
        self._fileobj = None

    def flush(self) -> None:
        """Flushing is the owner's business."""

    def as_file(self) -> BinaryIO:
        """This sink, typed as the file that pyarrow's stubs ask for (pyarrow takes any
        object with ``write``)."""
        return typing.cast(BinaryIO, self)


def _to_table(value: object, asset: str) -> pa.Table:
    if isinstance(value, pa.Table):
        return value
    try:
        return pa.Table.from_pandas(value, preserve_index=False)
    except pa.ArrowException as exc:
        raise StorageError(f"asset {asset}: cannot convert the DataFrame to Arrow: {exc}") from exc


def _is_dataframe(value: object) -> bool:
    # A DataFrame can only exist if pandas was imported: no need to import it here.
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


__all__ = [
    "KINDS",
    "Encoded",
    "Writable",
    "concat_values",
    "file_extension",
    "is_stream",
    "kind_of",
    "read_value",
    "write_value",
]
