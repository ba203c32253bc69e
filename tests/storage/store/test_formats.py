"""Values and bytes: kinds, schemas, conform(), deterministic encoding, round trips."""

from __future__ import annotations

import datetime
import decimal
import io
import json
from collections.abc import Iterator
from typing import Annotated, Optional

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel, Field

from partita.errors import SchemaError, StorageError
from partita.storage.store import formats
from partita.storage.store.formats import (
    Encoded,
    concat_values,
    file_extension,
    kind_of,
    read_value,
    write_value,
)
from partita.storage.store.schemas import arrow_schema, conform
from tests.conftest import _require

SALES = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("amount", pa.float64())])


def encode(value: object, **options: object) -> tuple[Encoded, bytes]:
    sink = io.BytesIO()
    arguments: dict = {"ext": None, "schema": None, "asset": "clean_sales", **options}
    encoded = write_value(value, sink, **arguments)
    return encoded, sink.getvalue()


class Sale(BaseModel):
    id: int
    amount: float
    region: str
    paid: bool
    day: datetime.date
    at: datetime.datetime
    at_utc: AwareDatetime
    price: decimal.Decimal
    blob: bytes
    note: Optional[str] = None  # noqa: UP045 - both spellings of Optional are supported
    discount: float | None = None
    quantity: Annotated[int, Field(ge=0)] = 0


def test_kind_of() -> None:
    assert kind_of(pa.table({"a": [1]})) == "parquet"
    assert kind_of({"a": 1}) == kind_of([1]) == "json"
    assert kind_of("text") == "text"
    assert kind_of(b"raw") == "bytes"
    with pytest.raises(StorageError, match=r"type tuple: expected a pyarrow\.Table"):
        kind_of((1, 2))


def test_kind_of_dataframe() -> None:
    pd = _require("pandas")
    assert kind_of(pd.DataFrame({"a": [1]})) == "parquet"


def test_arrow_schema_from_pydantic_model() -> None:
    schema = arrow_schema(Sale)
    assert schema == pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("amount", pa.float64(), nullable=False),
            pa.field("region", pa.string(), nullable=False),
            pa.field("paid", pa.bool_(), nullable=False),
            pa.field("day", pa.date32(), nullable=False),
            pa.field("at", pa.timestamp("us"), nullable=False),
            pa.field("at_utc", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("price", pa.decimal128(38, 9), nullable=False),
            pa.field("blob", pa.binary(), nullable=False),
            pa.field("note", pa.string()),
            pa.field("discount", pa.float64()),
            pa.field("quantity", pa.int64(), nullable=False),
        ]
    )
    assert arrow_schema(SALES) is SALES


def test_arrow_schema_rejects_unsupported_types() -> None:
    class Tagged(BaseModel):
        tags: list[str]

    class Either(BaseModel):
        value: int | str

    with pytest.raises(SchemaError, match=r"Tagged: field 'tags' has unsupported type list\[str\]"):
        arrow_schema(Tagged)
    with pytest.raises(SchemaError, match="field 'value'"):
        arrow_schema(Either)
    with pytest.raises(SchemaError, match="not dict"):
        arrow_schema({"id": int})


def test_conform_casts_safely_and_orders_columns() -> None:
    table = pa.table({"amount": pa.array([1.5, None]), "id": pa.array([1, 2], pa.int32())})
    conformed = conform(table, SALES, "clean_sales")
    assert conformed.schema == SALES
    assert conformed.to_pydict() == {"id": [1, 2], "amount": [1.5, None]}


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (pa.array([1], pa.int32()), pa.float64()),
        (pa.array([1.5], pa.float32()), pa.float64()),
        (pa.array(["a"], pa.large_string()), pa.string()),
        (pa.array(["a"]).dictionary_encode(), pa.string()),
        (pa.array([None], pa.null()), pa.string()),
        (pa.array([1_000], pa.timestamp("ns")), pa.timestamp("us")),
        (pa.array([1], pa.timestamp("us", tz="+00:00")), pa.timestamp("us", tz="UTC")),
        (pa.array([decimal.Decimal("1.25")]), pa.decimal128(38, 9)),
    ],
)
def test_conform_accepts_safe_casts(source: pa.Array, target: pa.DataType) -> None:
    conformed = conform(pa.table({"x": source}), pa.schema([("x", target)]), "a")
    assert conformed.schema.field("x").type == target


def test_conform_rejects_mismatched_columns() -> None:
    with pytest.raises(SchemaError, match=r"asset clean_sales: .*missing 'amount'"):
        conform(pa.table({"id": [1]}), SALES, "clean_sales")
    with pytest.raises(SchemaError, match=r"asset clean_sales: .*extra 'note'"):
        conform(pa.table({"id": [1], "amount": [1.0], "note": ["x"]}), SALES, "clean_sales")


def test_conform_rejects_wrong_types() -> None:
    table = pa.table({"id": [1], "amount": ["1.5"]})
    with pytest.raises(SchemaError) as caught:
        conform(table, SALES, "clean_sales")
    assert str(caught.value) == "asset clean_sales: column 'amount' is string, schema wants double"
    naive = pa.table({"at": pa.array([1], pa.timestamp("us"))})
    with pytest.raises(SchemaError, match="column 'at' is timestamp"):
        conform(naive, pa.schema([("at", pa.timestamp("us", tz="UTC"))]), "events")
    with pytest.raises(SchemaError, match="column 'n' is double, schema wants float"):
        conform(pa.table({"n": [1.5]}), pa.schema([("n", pa.float32())]), "a")


def test_conform_rejects_values_that_do_not_fit() -> None:
    table = pa.table({"id": pa.array([2**40]), "amount": [1.0]})
    narrow = pa.schema([("id", pa.int32()), ("amount", pa.float64())])
    with pytest.raises(SchemaError, match="clean_sales: column 'id' is int64 and does not fit"):
        conform(table, narrow, "clean_sales")


def test_conform_rejects_nulls_in_non_nullable_field() -> None:
    table = pa.table({"id": pa.array([1, None]), "amount": [1.0, 2.0]})
    with pytest.raises(SchemaError, match="asset clean_sales: column 'id' has 1 null value"):
        conform(table, SALES, "clean_sales")


def test_parquet_bytes_are_deterministic() -> None:
    table = pa.table({"id": list(range(1000)), "name": [str(i) for i in range(1000)]})
    rechunked = pa.concat_tables([table.slice(0, 10), table.slice(10)])
    encoded, data = encode(table)
    assert encoded == Encoded("parquet", "parquet", 1000)
    assert encode(table)[1] == data == encode(rechunked)[1]
    assert read_value(data, "parquet").equals(table)


def test_dataframe_is_written_without_index_and_with_schema() -> None:
    pd = _require("pandas")
    frame = pd.DataFrame({"amount": [1.5, 2.5], "id": [1, 2]}, index=[10, 20])
    encoded, data = encode(frame, schema=SALES)
    assert encoded.rows == 2
    table = read_value(data, "parquet")
    assert table.schema.names == ["id", "amount"]
    assert table.to_pydict() == {"id": [1, 2], "amount": [1.5, 2.5]}


def test_json_is_sorted_and_counts_list_rows() -> None:
    encoded, data = encode({"b": 1, "a": datetime.date(2026, 4, 8)})
    assert encoded == Encoded("json", "json", None)
    assert data == b'{"a": "2026-04-08", "b": 1}'
    assert encode([1, 2, 3])[0].rows == 3
    with pytest.raises(StorageError, match="asset clean_sales: cannot encode the value as json"):
        encode({1: "a", "b": 2})


def test_extensions() -> None:
    assert encode("# Report", ext="md") == (Encoded("text", "md", None), b"# Report")
    assert encode(b"\x00", ext="html")[0].ext == "html"
    assert encode("x")[0].ext == "txt"
    assert encode(b"x")[0].ext == "bin"
    assert file_extension("parquet", "parquet") == "parquet"
    for kind, ext in [("parquet", "csv"), ("json", "txt"), ("text", ".md"), ("text", "a/b")]:
        with pytest.raises(StorageError):
            file_extension(kind, ext)
    with pytest.raises(StorageError, match="unknown value kind"):
        file_extension("pickle", None)


def test_schema_applies_to_tables_only() -> None:
    with pytest.raises(SchemaError, match="asset clean_sales: a schema applies to tables"):
        encode({"id": 1}, schema=SALES)


def test_read_value_errors_and_file_objects() -> None:
    assert read_value(io.BytesIO(b'{"a": 1}'), "json") == {"a": 1}
    assert read_value(memoryview(b"text"), "text") == "text"
    with pytest.raises(StorageError, match="cannot decode a parquet value"):
        read_value(b"not parquet", "parquet")
    with pytest.raises(StorageError, match="cannot decode a json value"):
        read_value(b"{", "json")
    with pytest.raises(StorageError, match="unknown value kind"):
        read_value(b"", "pickle")


def test_concat_values() -> None:
    first, second = pa.table({"id": [1]}), pa.table({"id": [2], "note": ["x"]})
    combined = concat_values([first, second])
    assert combined.to_pydict() == {"id": [1, 2], "note": [None, "x"]}
    assert concat_values([{"a": 1}, {"a": 2}]) == [{"a": 1}, {"a": 2}]
    assert concat_values([]) == []
    with pytest.raises(StorageError, match="cannot combine tables"):
        concat_values([first, pa.table({"id": ["one"]})])


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), json_values))
def test_json_round_trip(value: dict) -> None:
    encoded, data = encode(value)
    assert read_value(data, encoded.kind) == value
    assert json.loads(data) == value


@given(st.text())
def test_text_round_trip(value: str) -> None:
    encoded, data = encode(value)
    assert encoded == Encoded("text", "txt", None)
    assert read_value(data, encoded.kind) == value


def batches(*chunks: list[int]) -> list[pa.RecordBatch]:
    return [pa.record_batch({"id": ids, "amount": [i * 1.5 for i in ids]}) for ids in chunks]


def test_kind_of_streams() -> None:
    reader = pa.RecordBatchReader.from_batches(batches([1])[0].schema, batches([1]))
    generator = (batch for batch in batches([1]))
    assert kind_of(reader) == kind_of(generator) == kind_of(iter([])) == "parquet"
    assert next(generator).num_rows == 1  # kind_of consumed nothing


@pytest.mark.parametrize("wrap", ["reader", "generator", "tables"])
def test_stream_chunks_are_gathered_into_row_groups(
    wrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(formats, "ROW_GROUP_ROWS", 3)
    chunks = batches([1, 2], [3], [4, 5, 6])
    expected = pa.Table.from_batches(chunks)
    if wrap == "reader":
        value: object = pa.RecordBatchReader.from_batches(expected.schema, chunks)
    elif wrap == "generator":
        value = (batch for batch in chunks)
    else:
        value = iter(pa.Table.from_batches([batch]) for batch in chunks)
    encoded, data = encode(value)
    assert encoded == Encoded("parquet", "parquet", 6)
    assert read_value(data, "parquet").equals(expected)
    groups = pq.ParquetFile(pa.BufferReader(data)).metadata
    assert [groups.row_group(i).num_rows for i in range(groups.num_row_groups)] == [3, 3]


def test_stream_bytes_are_deterministic() -> None:
    first = encode(iter(batches([1, 2], [3])))[1]
    assert encode(iter(batches([1, 2], [3])))[1] == first
    assert encode(iter(batches([1, 2], [4])))[1] != first


def test_stream_is_conformed_to_the_declared_schema() -> None:
    chunks = [pa.record_batch({"amount": [0.5], "id": pa.array([i], pa.int32())}) for i in (1, 2)]
    encoded, data = encode(iter(chunks), schema=SALES)
    table = read_value(data, "parquet")
    assert encoded.rows == 2
    assert table.schema == SALES
    assert table.column("id").to_pylist() == [1, 2]


def test_stream_schema_mismatch_names_the_batch() -> None:
    bad = pa.record_batch({"id": [3], "amount": ["1.5"]})
    with pytest.raises(SchemaError, match=r"column 'amount' is string.*\(in batch 3 of"):
        encode(iter([*batches([1], [2]), bad]), schema=SALES)
    with pytest.raises(SchemaError, match=r"column 'amount' is string.*\(in batch 3 of"):
        encode(iter([*batches([1], [2]), bad]))  # the first batch's schema is the schema
    nulls = pa.record_batch({"id": pa.array([None], pa.int64()), "amount": [1.0]})
    with pytest.raises(SchemaError, match=r"'id' has 1 null value\(s\).*in batch 2"):
        encode(iter([*batches([1]), nulls]), schema=SALES)


def test_stream_closes_the_generator_on_failure() -> None:
    closed = []

    def chunks() -> Iterator[object]:
        try:
            yield from batches([1])
            yield "not a batch"
            yield from batches([2])
        finally:
            closed.append(True)

    with pytest.raises(StorageError, match="item 2 of the stream is a str"):
        encode(chunks())
    assert closed == [True]


def test_empty_stream_needs_a_known_schema() -> None:
    reader = pa.RecordBatchReader.from_batches(SALES, [])
    for value, schema in ((reader, None), (iter([]), SALES)):
        encoded, data = encode(value, schema=schema)
        assert encoded.rows == 0
        table = read_value(data, "parquet")
        assert table.num_rows == 0
        assert table.schema == SALES
    with pytest.raises(StorageError, match="yielded no batches and its schema is unknown"):
        encode(iter([]))
