"""Declared schemas: a pydantic model or a pyarrow schema as Arrow types, and tables
checked and cast to them as they are written (never a reinterpretation of values)."""

from __future__ import annotations

import datetime
import decimal
import sys
import types
import typing
from collections import Counter
from typing import Any

import pyarrow as pa

from partita.errors import SchemaError

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
        given = f"class {schema.__qualname__}" if isinstance(schema, type) else type_name(schema)
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


def _conform_column(
    column: pa.ChunkedArray[Any], field: pa.Field[Any], asset: str
) -> pa.ChunkedArray[Any]:
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


def _is_model_class(schema: object) -> bool:
    pydantic = sys.modules.get("pydantic")
    return (
        pydantic is not None and isinstance(schema, type) and issubclass(schema, pydantic.BaseModel)
    )


def _annotation_name(annotation: object) -> str:
    return annotation.__name__ if isinstance(annotation, type) else repr(annotation)


def type_name(value: object) -> str:
    """The qualified name of a value's type, as messages show it."""
    cls = type(value)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _quoted(names: list[str]) -> str:
    return ", ".join(repr(name) for name in names)


__all__ = ["arrow_schema", "conform", "type_name"]
