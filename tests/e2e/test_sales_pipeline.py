"""The daily sales example, end to end through the installed ``partita`` command."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest

from tests.conftest import catalog_query, data_files

DAY = "2026-04-08"
WINDOW_DAYS = [f"2026-04-0{d}" for d in range(1, 9)]  # 14-day window clipped at the start


def built(result) -> set[tuple[str, str]]:
    payload = json.loads(result.stdout)
    return {(s["asset"], s["partition"]) for s in payload["steps"] if s["status"] == "succeeded"}


def assert_one_file_per_partition(project: Path, asset: str) -> None:
    """One file in sight per folder; out of sight only superseded versions, retired for
    the grace period (no staged file is left)."""
    for folder, files in data_files(project, asset).items():
        shown = [name for name in files if not name.startswith(".")]
        assert len(shown) == 1, f"{asset}/{folder} holds {files}"
        hidden = [name for name in files if name.startswith(".")]
        assert all(name.endswith(".old") for name in hidden), f"{asset}/{folder} holds {files}"
        assert shown[0].startswith("part-"), files


def assert_no_duplicate_orders(project: Path) -> int:
    root = project / ".partita" / "data" / "clean_sales"
    table = ds.dataset(root, format="parquet", partitioning="hive").to_table()
    ids = table.column("order_id").to_pylist()
    assert len(ids) == len(set(ids))
    pattern = str(root / "*" / "*.parquet")
    total, distinct = (
        duckdb.connect()
        .execute(
            f"select count(*), count(distinct order_id) from read_parquet('{pattern}', "
            "hive_partitioning = true)"
        )
        .fetchone()
    )
    assert total == distinct == len(ids)
    return total


def test_materialize_builds_exactly_what_it_needs_once(sales: Path, run_cli) -> None:
    first = run_cli(sales, "materialize", "sales_report", "--partition", DAY, "--json")
    assert first.returncode == 0, first.stderr
    expected = {(a, d) for a in ("raw_sales", "clean_sales") for d in WINDOW_DAYS}
    assert built(first) == expected | {("sales_report", DAY)}

    again = run_cli(sales, "materialize", "sales_report", "--partition", DAY)
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout

    forced = run_cli(sales, "materialize", "sales_report", "--partition", DAY, "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    assert built(forced) == {("sales_report", DAY)}

    for asset in ("raw_sales", "clean_sales", "sales_report"):
        assert_one_file_per_partition(sales, asset)
    rows_before = assert_no_duplicate_orders(sales)

    for day in ("2026-04-03", DAY):
        rebuilt = run_cli(sales, "materialize", "clean_sales", "--partition", day, "--force")
        assert rebuilt.returncode == 0, rebuilt.stderr
    assert_one_file_per_partition(sales, "clean_sales")
    assert assert_no_duplicate_orders(sales) == rows_before

    report = run_cli(sales, "read", "sales_report", "--partition", DAY)
    assert report.returncode == 0, report.stderr
    assert f"# Sales report {DAY}" in report.stdout
    assert "not enough history" in report.stdout  # the window was clipped at the start


def test_status_shows_what_was_built(sales: Path, run_cli) -> None:
    assert run_cli(sales, "materialize", "sales_report", "--partition", DAY).returncode == 0
    result = run_cli(sales, "status", "--from", "2026-04-01", "--to", "2026-04-10", "--json")
    assert result.returncode == 0, result.stderr
    reports = {r["asset"]: r for r in json.loads(result.stdout)}
    assert reports["clean_sales"]["counts"] == {"fresh": 8, "stale": 0, "missing": 2}
    assert reports["clean_sales"]["ranges"]["fresh"] == ["2026-04-01..2026-04-08"]
    assert reports["sales_report"]["counts"] == {"fresh": 1, "stale": 0, "missing": 9}
    assert reports["sales_summary"]["counts"] == {"fresh": 0, "stale": 0, "missing": 1}


EDITED_BODY = ('(pc.field("amount") > 0)', '(pc.field("amount") > 5)')


def edit_assets(project: Path, old: str, new: str) -> None:
    path = project / "assets.py"
    source = path.read_text()
    assert old in source
    path.write_text(source.replace(old, new, 1))


def stale_set(result) -> dict[tuple[str, str], str]:
    return {
        (r["asset"], key): cause for r in json.loads(result.stdout) for key, cause in r["stale"]
    }


def test_editing_a_body_makes_it_and_its_downstream_stale(sales: Path, run_cli) -> None:
    assert run_cli(sales, "materialize", "sales_report", "--partition", DAY).returncode == 0
    assert run_cli(sales, "materialize", "warehouse_sales", "--partition", DAY).returncode == 0

    edit_assets(
        sales,
        '"""Real orders with a valid amount',
        '"""Real orders (docs only) with a valid amount',
    )
    edit_assets(
        sales,
        "    kept = raw_sales.filter(valid)",
        "    kept = raw_sales.filter(valid)  # a comment",
    )
    unchanged = run_cli(sales, "status", "--stale", "--json", "--from", "2026-04-01", "--to", DAY)
    assert stale_set(unchanged) == {}

    edit_assets(sales, *EDITED_BODY)
    result = run_cli(sales, "status", "--stale", "--json", "--from", "2026-04-01", "--to", DAY)
    assert result.returncode == 0, result.stderr
    stale = stale_set(result)
    expected = {("clean_sales", d): "code changed" for d in WINDOW_DAYS}
    expected[("sales_report", DAY)] = f"upstream stale: clean_sales {WINDOW_DAYS[0]}"
    expected[("warehouse_sales", DAY)] = f"upstream stale: clean_sales {DAY}"
    assert stale == expected

    text = run_cli(sales, "status", "--stale")
    assert "clean_sales 2026-04-03: code changed" in text.stdout

    why = run_cli(sales, "why", "sales_report", DAY)
    assert why.returncode == 0, why.stderr
    assert "root cause: code changed in clean_sales" in why.stdout
    assert "the code of clean_sales changed" in why.stdout

    rebuilt = run_cli(sales, "materialize", "sales_report", "--partition", DAY, "--json")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert built(rebuilt) == {("clean_sales", d) for d in WINDOW_DAYS} | {("sales_report", DAY)}
    after = run_cli(sales, "status", "--stale", "--json", "--from", "2026-04-01", "--to", DAY)
    assert stale_set(after) == {("warehouse_sales", DAY): "upstream changed: clean_sales"}
    why_wh = run_cli(sales, "why", "warehouse_sales", DAY)
    assert f"clean_sales {DAY} was rebuilt with different data" in why_wh.stdout


def test_transient_failures_are_retried(sales: Path, run_cli) -> None:
    env = {"SALES_API_FAIL_TRANSIENT": "2"}
    result = run_cli(sales, "materialize", "raw_sales", "--partition", DAY, env=env)
    assert result.returncode == 0, result.stderr
    shown = run_cli(sales, "runs", "show", "last", "--json")
    steps = json.loads(shown.stdout)["steps"]
    assert [(s["asset"], s["status"]) for s in steps] == [("raw_sales", "succeeded")]
    attempts = steps[0]["attempts"]
    assert [a["status"] for a in attempts] == ["failed", "failed", "succeeded"]
    assert "sales API timed out" in attempts[0]["error"]
    text = run_cli(sales, "runs", "show", "last")
    assert "attempt 1 failed: ConnectionError: sales API timed out" in text.stdout
    logs = run_cli(sales, "logs", "last", "--asset", "raw_sales")
    assert "fetched" in logs.stdout and "attempt 1 failed" in logs.stdout


def test_permanent_failure_skips_downstream_and_rerun_picks_up(sales: Path, run_cli) -> None:
    env = {"SALES_API_FAIL_DAYS": "2026-04-05"}
    failed = run_cli(
        sales, "backfill", "sales_report", "--from", "2026-04-01", "--to", DAY, "--json", env=env
    )
    assert failed.returncode == 1
    steps = {(s["asset"], s["partition"]): s for s in json.loads(failed.stdout)["steps"]}
    assert steps[("raw_sales", "2026-04-05")]["status"] == "failed"
    assert steps[("raw_sales", "2026-04-05")]["attempts"] == 4  # retries=3
    assert steps[("clean_sales", "2026-04-05")]["detail"] == "upstream failed"
    for day in ("2026-04-05", "2026-04-06", "2026-04-07", DAY):  # their windows hold 04-05
        assert steps[("sales_report", day)]["detail"] == "upstream failed"
    for day in ("2026-04-01", "2026-04-02", "2026-04-03", "2026-04-04"):
        assert steps[("sales_report", day)]["status"] == "succeeded"
    assert steps[("raw_sales", "2026-04-06")]["status"] == "succeeded"
    shown = run_cli(sales, "runs", "show", "last")
    assert "upstream failed" in shown.stdout
    status = run_cli(sales, "status", "raw_sales", "--from", "2026-04-05", "--to", "2026-04-05")
    assert "last attempt failed" in status.stdout

    rerun = run_cli(
        sales, "backfill", "sales_report", "--from", "2026-04-01", "--to", DAY, "--json"
    )
    assert rerun.returncode == 0, rerun.stderr
    assert built(rerun) == {("raw_sales", "2026-04-05"), ("clean_sales", "2026-04-05")} | {
        ("sales_report", d) for d in ("2026-04-05", "2026-04-06", "2026-04-07", DAY)
    }


def test_summary_over_all_days_is_unpartitioned(sales: Path, run_cli) -> None:
    bad = run_cli(sales, "materialize", "sales_summary", "--partition", DAY)
    assert bad.returncode == 2
    assert "not partitioned" in bad.stderr
    needs = run_cli(sales, "materialize", "sales_report")
    assert needs.returncode == 2
    assert "--partition" in needs.stderr
    plan = run_cli(sales, "materialize", "sales_summary", "--dry-run", "--json")
    assert plan.returncode == 0, plan.stderr
    steps = json.loads(plan.stdout)["steps"]
    assert steps[-1]["asset"] == "sales_summary"
    assert {s["asset"] for s in steps[:-1]} == {"raw_sales", "clean_sales"}


def catalog_snapshot(project: Path) -> list[object]:
    tables = ("runs", "steps", "attempts", "versions", "partitions", "logs")
    return [catalog_query(project, f"select * from {t} order by 1") for t in tables]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["materialize", "sales_report", "--partition", "2026-13-45"], "not a valid date"),
        (
            ["materialize", "sales_report", "--partition", "2026-03-01"],
            "before sales_report's first partition 2026-04-01",
        ),
        (["materialize", "sales_report", "--partition", "../etc"], "unsafe partition key"),
        (
            ["materialize", "sales_reprot", "--partition", DAY],
            "unknown asset 'sales_reprot': did you mean 'sales_report'?",
        ),
        (
            ["backfill", "sales_report", "--from", "2026-04-09", "--to", "2026-04-01"],
            "is after --to",
        ),
        (["status", "--from", "yesterday"], "'yesterday' is not a date"),
        (["why", "clean_sales", "2026-02-30"], "not a valid date"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    sales: Path, run_cli, args: list[str], message: str
) -> None:
    assert run_cli(sales, "materialize", "raw_sales", "--partition", DAY).returncode == 0
    before = catalog_snapshot(sales)
    result = run_cli(sales, *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert catalog_snapshot(sales) == before
