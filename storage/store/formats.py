"""Values and bytes: how an asset's output is encoded on disk and decoded again.

Tables (pyarrow or pandas) become Parquet, dicts and lists JSON, ``str`` UTF-8 text
and ``bytes`` stay as they are. A stream of record batches (a ``pyarrow.RecordBatchReader``
or an iterator of batches or tables, such as a generator) becomes Parquet too, written
batch by batch so that it never has to fit in memory. Encoding is deterministic: the same
value always gives the same bytes, so a content hash of the bytes is a data version.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import json
import re
import sys
import types
import typing
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from partita.errors import SchemaError, StorageError

KINDS = ("parquet", "json", "text", "bytes")
_DEFAULT_EXT = {"parquet": "parquet", "json": "json", "text": "txt", "bytes": "bin"}
_EXT_PATTERN = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*")
_ACCEPTED = (
    "a pyarrow.Table, a pandas.DataFrame, a pyarrow.RecordBatchReader or an iterator of "
    "record batches, a dict or list (JSON), a str or bytes"
)

_SCALAR_TYPES: dict[type, pa.DataType] = {
    bool: pa.bool_(),
    int: pa.int64(),
    float: pa.float64(),
    str: pa.string(),
    bytes: pa.binary(),
    datetime.date: pa.date32(),
    datetime.datetime: pa.timestamp("us"),
    decimal.Decimal: pa.decimal128(38, 9),
}
_TEXT_IDS = frozenset(t.id for t in (pa.string(), pa.large_string(), pa.string_view()))
_BINARY_IDS = frozenset(t.id for t in (pa.binary(), pa.large_binary(), pa.binary_view()))
_SUPPORTED = "int, float, str, bool, bytes, date, datetime, AwareDatetime, Decimal, Optional[...]"


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
    raise StorageError(f"cannot store a value of type {_type_name(value)}: expected {_ACCEPTED}")


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


def arrow_schema(schema: object) -> pa.Schema:
    """Return the Arrow schema of a declared schema.

    Args:
        schema: A ``pyarrow.Schema`` (returned as is) or a pydantic model class whose
            field annotations are mapped: ``int`` to int64, ``float`` to float64, ``str``
            to string, ``bool`` to bool, ``bytes`` to binary, ``date`` to date32,
            ``datetime`` to timestamp[us], ``AwareDatetime`` to timestamp[us, UTC],
            ``Decimal`` to decimal128(38, 9); ``Optional[X]`` makes the field nullable.

    Raises:
        SchemaError: Not a schema, or a field type that has no mapping.
    """
    if isinstance(schema, pa.Schema):
        return schema
    if not _is_model_class(schema):
        given = f"class {schema.__qualname__}" if isinstance(schema, type) else _type_name(schema)
        raise SchemaError(f"a schema is a pyarrow.Schema or a pydantic model class, not {given}")
    fields = []
    model = typing.cast(Any, schema)
    for name, info in model.model_fields.items():
        mapped = _arrow_field_type(info.annotation)
        if mapped is None:
            raise SchemaError(
                f"schema {model.__name__}: field {name!r} has unsupported type "
                f"{_annotation_name(info.annotation)}; supported: {_SUPPORTED}"
            )
        fields.append(pa.field(name, mapped[0], nullable=mapped[1]))
    return pa.schema(fields)


def conform(table: pa.Table, schema: pa.Schema, asset: str) -> pa.Table:
    """Enforce a schema on a table about to be written.

    Columns must match by name; each column's type must equal the schema's or be
    safely castable to it (int32 to int64, float32 to float64, string to large_string,
    timestamp[ns] to timestamp[us] without loss, ...); non-nullable fields must hold
    no nulls.

    Returns:
        The table with its columns in schema order, cast to the schema's types.

    Raises:
        SchemaError: Naming the asset and the offending columns.
    """
    names = table.column_names
    present, wanted = set(names), set(schema.names)
    problems = []
    if duplicated := sorted(name for name, n in Counter(names).items() if n > 1):
        problems.append(f"duplicate {_quoted(duplicated)}")
    if missing := [name for name in schema.names if name not in present]:
        problems.append(f"missing {_quoted(missing)}")
    if extra := [name for name in names if name not in wanted]:
        problems.append(f"extra {_quoted(extra)}")
    if problems:
        raise SchemaError(f"asset {asset}: columns do not match the schema: {'; '.join(problems)}")
    columns = [_conform_column(table.column(field.name), field, asset) for field in schema]
    return pa.Table.from_arrays(columns, schema=schema)


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
        pq.write_table(table, _Sink(fileobj))
        return Encoded(kind, extension, table.num_rows)
    if schema is not None:
        raise SchemaError(f"asset {asset}: a schema applies to tables, not to {_type_name(value)}")
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
                writer = pq.ParquetWriter(sink, known)
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
            writer = pq.ParquetWriter(sink, known)
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
        f"asset {asset}: item {number} of the stream is a {_type_name(chunk)}; a stream "
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


def _conform_column(column: pa.ChunkedArray, field: pa.Field, asset: str) -> pa.ChunkedArray:
    if column.type != field.type:
        if not _castable(column.type, field.type):
            raise SchemaError(
                f"asset {asset}: column {field.name!r} is {column.type}, schema wants {field.type}"
            )
        try:
            column = column.cast(field.type, safe=True)
        except pa.ArrowException as exc:
            raise SchemaError(
                f"asset {asset}: column {field.name!r} is {column.type} and does not fit "
                f"{field.type}: {exc}"
            ) from exc
    if not field.nullable and column.null_count:
        raise SchemaError(
            f"asset {asset}: column {field.name!r} has {column.null_count} null value(s), "
            "but the schema does not allow nulls"
        )
    return column


def _castable(source: pa.DataType, target: pa.DataType) -> bool:
    """Whether a column may be cast at write: the same family of types, never a reinterpretation.

    Within a family the cast itself (``safe=True``) rejects values that do not fit.
    """
    is_ = pa.types
    if is_.is_null(source):
        return True
    if is_.is_dictionary(source):
        target_values = target.value_type if is_.is_dictionary(target) else target
        return _castable(source.value_type, target_values)
    if is_.is_integer(source):
        return is_.is_integer(target) or is_.is_floating(target) or is_.is_decimal(target)
    if is_.is_floating(source):
        return is_.is_floating(target) and target.bit_width >= source.bit_width
    if is_.is_timestamp(source):
        # An aware timestamp is an instant whatever its zone; naive ones are not instants.
        return is_.is_timestamp(target) and (source.tz is None) == (target.tz is None)
    for ids in (_TEXT_IDS, _BINARY_IDS):
        if source.id in ids:
            return target.id in ids
    for family in (is_.is_decimal, is_.is_date, is_.is_time, is_.is_duration):
        if family(source):
            return family(target)
    return source.id == target.id  # nested types of one kind: the cast decides


def _arrow_field_type(annotation: object) -> tuple[pa.DataType, bool] | None:
    """The Arrow type and nullability of a model field's annotation, or None if unsupported."""
    annotation = _unannotated(annotation)
    nullable = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        present = [arg for arg in args if arg is not type(None)]
        if len(present) != 1 or len(present) == len(args):
            return None
        annotation, nullable = _unannotated(present[0]), True
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and annotation is pydantic.AwareDatetime:
        return pa.timestamp("us", tz="UTC"), nullable
    if pydantic is not None and annotation is pydantic.NaiveDatetime:
        return pa.timestamp("us"), nullable
    for python_type, arrow_type in _SCALAR_TYPES.items():
        if annotation is python_type:
            return arrow_type, nullable
    return None


def _unannotated(annotation: object) -> object:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


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


def _is_model_class(schema: object) -> bool:
    pydantic = sys.modules.get("pydantic")
    return (
        pydantic is not None and isinstance(schema, type) and issubclass(schema, pydantic.BaseModel)
    )


def _type_name(value: object) -> str:
    cls = type(value)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _annotation_name(annotation: object) -> str:
    return annotation.__name__ if isinstance(annotation, type) else repr(annotation)


def _quoted(names: list[str]) -> str:
    return ", ".join(repr(name) for name in names)


__all__ = [
    "KINDS",
    "Encoded",
    "Writable",
    "arrow_schema",
    "concat_values",
    "conform",
    "file_extension",
    "is_stream",
    "kind_of",
    "read_value",
    "write_value",
]
