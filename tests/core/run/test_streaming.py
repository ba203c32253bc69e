"""Assets that return a stream of record batches, materialized through ``partita.Project``."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import partita as pt

NOW = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
DAY = "2026-04-08"

SOURCE = """\
from collections.abc import Iterator

import pyarrow as pa
import partita as pt

daily = pt.DailyPartitions(start="2026-04-01", timezone="UTC")
SCHEMA = pa.schema([("id", pa.int64()), ("amount", pa.float64())])


def chunk(start: int) -> pa.RecordBatch:
    ids = list(range(start, start + 100))
    return pa.record_batch({"id": ids, "amount": [i * 0.5 for i in ids]}, schema=SCHEMA)


@pt.asset(partitions=daily)
def raw_sales() -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(SCHEMA, (chunk(i * 100) for i in range(4)))


@pt.asset(partitions=daily, schema=SCHEMA)
def big_sales(raw_sales: pa.Table) -> Iterator[pa.RecordBatch]:
    for batch in raw_sales.to_batches():
        yield batch.set_column(1, "amount", pa.compute.multiply(batch.column(1), 2))


@pt.asset(partitions=daily, schema=SCHEMA, retries=2)
def broken_sales() -> Iterator[pa.RecordBatch]:
    yield chunk(0)
    yield chunk(100)
    yield pa.record_batch({"id": [1], "amount": ["1.5"]})
"""


@pytest.fixture
def project(tmp_path: Path) -> Iterator[pt.Project]:
    (tmp_path / "partita.toml").write_text('definitions = "streaming_defs.py"\n')
    (tmp_path / "streaming_defs.py").write_text(textwrap.dedent(SOURCE))
    opened = pt.Project(tmp_path, clock=lambda: NOW)
    yield opened
    opened.close()


def test_reader_and_generator_assets_are_materialized(project: pt.Project) -> None:
    result = project.materialize("big_sales", DAY)
    assert result.ok
    assert {(o.asset, o.rows) for o in result.outcomes} == {("raw_sales", 400), ("big_sales", 400)}
    raw = project.read("raw_sales", DAY)
    assert raw.column("id").to_pylist() == list(range(400))
    big = project.read("big_sales", DAY)
    assert big.column("amount").to_pylist() == [i * 1.0 for i in range(400)]
    again = project.materialize("big_sales", DAY)
    assert again.ok and not again.outcomes  # fresh: nothing to do


def test_a_stream_breaking_its_schema_fails_without_retries_or_files(project: pt.Project) -> None:
    result = project.materialize("broken_sales", DAY)
    assert not result.ok
    (outcome,) = result.outcomes
    assert outcome.attempts == 1  # a schema error is not retried
    assert outcome.detail.startswith("SchemaError: ")
    assert "column 'amount' is string" in outcome.detail
    assert "in batch 3 of the stream" in outcome.detail
    assert not list((project.root / "data" / "broken_sales").rglob("*.parquet"))
