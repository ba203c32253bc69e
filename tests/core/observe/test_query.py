"""``Project.query``: SQL over the current committed tables, on local disk and S3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import partita as pt
from partita.core.observe.query import Querier
from partita.errors import QueryError
from partita.storage.catalog.reports import CatalogReports, TableFiles
from partita.storage.store.visibility import retired_name
from tests.projects import ProjectFactory

SOURCE = """\
from pathlib import Path

import pyarrow as pa

import partita as pt

daily = pt.DailyPartitions(start="2026-04-01", timezone="UTC")
HERE = Path(__file__).parent


def _scale() -> int:
    path = HERE / "scale"
    return int(path.read_text()) if path.exists() else 1


@pt.asset(partitions=daily)
def orders(ctx: pt.Context) -> pa.Table:
    day = int(ctx.partition_key[-2:])
    return pa.table({"amount": [day * _scale(), 1], "region": ["eu", "us"]})


@pt.asset(key="sales/raw", partitions=daily)
def sales_raw(ctx: pt.Context) -> pa.Table:
    return pa.table({"date": ["not the key"], "n": [1]})


@pt.asset
def totals(orders: pa.Table) -> pa.Table:
    return pa.table({"total": [sum(orders["amount"].to_pylist())]})


@pt.asset
def notes() -> dict:
    return {"text": "not a table"}
"""


def inline_table(values: dict[str, Any]) -> str:
    """A TOML inline table of strings and nested tables."""
    items = (
        f"{k} = {inline_table(v) if isinstance(v, dict) else json.dumps(v)}"
        for k, v in values.items()
    )
    return "{ " + ", ".join(items) + " }"


@pytest.fixture
def project(make_project: ProjectFactory) -> pt.Project:
    return make_project(SOURCE, name="p")


def test_partitioned_asset_is_a_view_with_its_partition_column(project: pt.Project) -> None:
    project.backfill("orders", "2026-04-01", "2026-04-03")
    table = project.query("select date, sum(amount) as s from orders group by 1 order by 1")
    assert table.column("s").to_pylist() == [1 + 1, 2 + 1, 3 + 1]
    assert [str(d) for d in table.column("date").to_pylist()] == [
        "2026-04-01",
        "2026-04-02",
        "2026-04-03",
    ]


def test_unpartitioned_and_namespaced_assets(project: pt.Project) -> None:
    project.backfill(["orders", "sales/raw"], "2026-04-01", "2026-04-02")
    project.materialize("totals")  # reads every April day of orders
    april = sum(day + 1 for day in range(1, 31))
    assert project.query("select total from totals").to_pylist() == [{"total": april}]
    # a key with '/' is quoted; its own 'date' column wins over the folder's date=...
    rows = project.query('select date, n from "sales/raw"').to_pylist()
    assert rows == [{"date": "not the key", "n": 1}] * 2


def test_only_current_versions_are_read(project: pt.Project) -> None:
    project.materialize("orders", "2026-04-02")
    (project.root / "scale").write_text("10")
    project.materialize("orders", "2026-04-02", force=True)
    rows = project.query("select amount from orders order by amount").column(0).to_pylist()
    assert rows == [1, 20]
    expected = project.read("orders", "2026-04-02")
    assert sorted(expected.column("amount").to_pylist()) == rows


def test_a_leftover_file_in_a_partition_folder_is_not_read(project: pt.Project) -> None:
    project.materialize("orders", "2026-04-02")
    folder = Path(project.store.url) / "orders" / "date=2026-04-02"
    (folder / "part-0LEFTOVER.parquet").write_bytes(next(folder.glob("*.parquet")).read_bytes())
    assert project.query("select count(*) as n from orders").to_pylist() == [{"n": 2}]


def test_unknown_table_names_the_tables_there_are(project: pt.Project) -> None:
    project.materialize("orders", "2026-04-02")
    project.materialize("notes")
    with pytest.raises(QueryError, match=r"no table totals: .*tables: orders$"):
        project.query("select * from totals")  # never built; notes is JSON, not a table


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("selec 1", "syntax error"),
        ("select nope from orders", 'column "nope" not found'),
        ("   ", "the query is empty"),
    ],
)
def test_bad_sql_is_one_clear_error(project: pt.Project, sql: str, message: str) -> None:
    project.materialize("orders", "2026-04-02")
    with pytest.raises(QueryError, match=message) as raised:
        project.query(sql)
    assert "\n" not in str(raised.value)


def test_a_file_removed_by_a_rebuild_makes_the_query_read_the_catalog_again(
    project: pt.Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.backfill("orders", "2026-04-01", "2026-04-02")
    stale = CatalogReports(project.catalog).table_files()
    (project.root / "scale").write_text("10")
    project.materialize("orders", "2026-04-02", force=True)  # retires the old file
    # Past the grace period, the retired file is gone too.
    old = [f for table in stale for f in table.files if "2026-04-02" in f]
    project.store.delete(retired_name(path) for path in old)
    reads: list[list[TableFiles]] = []
    real = CatalogReports.table_files

    def first_stale(self: CatalogReports) -> list[TableFiles]:
        reads.append(stale if not reads else real(self))
        return reads[-1]

    monkeypatch.setattr(CatalogReports, "table_files", first_stale)
    waits: list[float] = []
    result = Querier(project.catalog, project.store, sleep=waits.append).query(
        "select sum(amount) as s from orders"
    )
    assert result.attempts == 2
    assert result.table.to_pylist() == [{"s": 1 + 1 + 20 + 1}]
    assert waits == []  # the first runs again at once


def test_a_file_that_stays_missing_fails_after_the_attempts(project: pt.Project) -> None:
    project.materialize("orders", "2026-04-02")
    for path in Path(project.store.url).glob("orders/*/*.parquet"):
        path.unlink()
    waits: list[float] = []
    querier = Querier(project.catalog, project.store, attempts=6, sleep=waits.append)
    with pytest.raises(QueryError, match="kept disappearing after 6 tries"):
        querier.query("select * from orders")
    # the first runs follow at once, then each waits longer: after the 3rd, 4th and 5th
    assert len(waits) == 3
    assert waits[0] < waits[1] < waits[2]


def test_pinned_links_are_removed_after_the_query(project: pt.Project) -> None:
    project.materialize("orders", "2026-04-02")
    project.query("select * from orders")
    assert not list(Path(project.store.url).glob(".partita-pins/*"))


def test_query_on_s3(make_project: ProjectFactory, s3_bucket: tuple[str, dict[str, Any]]) -> None:
    bucket, options = s3_bucket
    settings = f'storage = "s3://{bucket}/query-test"\nstorage_options = {inline_table(options)}\n'
    with make_project(SOURCE, settings, name="s3") as project:
        project.backfill(["orders", "sales/raw"], "2026-04-01", "2026-04-02")
        table = project.query("select date, sum(amount) as s from orders group by 1 order by 1")
        assert table.column("s").to_pylist() == [2, 3]
        assert project.query('select count(*) as n from "sales/raw"').to_pylist() == [{"n": 2}]
        with pytest.raises(QueryError) as raised:
            project.query("select nope from orders")
        assert options["secret"] not in str(raised.value)


def test_query_result_is_an_arrow_table(project: pt.Project) -> None:
    project.materialize("orders", "2026-04-02")
    assert isinstance(project.query("select 1 as one"), pa.Table)
