"""The sales example's backfill with every executor, through the installed CLI."""

from __future__ import annotations

import json

import pytest

from tests.conftest import _require

RANGE = ("--from", "2026-04-01", "--to", "2026-04-06")
ASSETS = ("sales_report", "warehouse_sales")


@pytest.mark.parametrize("executor", ["inline", "threads", "processes", "dask"])
def test_the_sales_backfill_runs_with_each_executor(executor: str, make_example, run_cli) -> None:
    if executor == "dask":
        _require("distributed")
    project = make_example("sales")
    args = ("backfill", *ASSETS, *RANGE, "--executor", executor, "--workers", "2", "--json")

    first = run_cli(project, *args, timeout=300)

    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["status"] == "succeeded"
    steps = {(s["asset"], s["partition"]): s["status"] for s in result["steps"]}
    assert len(steps) == 4 * 6 and set(steps.values()) == {"succeeded"}
    again = run_cli(project, *args, timeout=300)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["status"] == "fresh"


def test_each_executor_writes_the_same_bytes(make_example, run_cli) -> None:
    _require("distributed")
    versions = {}
    for executor in ("inline", "processes", "dask"):
        project = make_example("sales")
        project = project.rename(project.with_name(f"sales-{executor}"))
        out = run_cli(
            project, "backfill", "sales_report", *RANGE, "--executor", executor, timeout=300
        )
        assert out.returncode == 0, out.stderr
        shown = run_cli(project, "runs", "show", "last", "--json")
        assert shown.returncode == 0, shown.stderr
        steps = json.loads(shown.stdout)["steps"]
        report = run_cli(project, "read", "sales_report", "--partition", "2026-04-06")
        assert report.returncode == 0, report.stderr
        versions[executor] = (
            sorted((s["asset"], s["partition"], s["rows"], s["bytes"]) for s in steps),
            report.stdout,
        )
    assert versions["processes"] == versions["inline"] == versions["dask"]


def test_a_bad_executor_is_one_clear_error(make_example, run_cli) -> None:
    project = make_example("sales")
    out = run_cli(project, "backfill", "sales_report", *RANGE, "--executor", "spark")
    assert out.returncode == 2
    assert "unknown executor 'spark'" in out.stderr
    assert "inline, threads, processes, dask" in out.stderr
    assert not (project / "data").exists()


def test_an_unreachable_dask_scheduler_is_a_configuration_error(make_example, run_cli) -> None:
    _require("distributed")
    project = make_example("sales")
    out = run_cli(
        project,
        "backfill",
        "sales_report",
        *RANGE,
        "--executor",
        "dask",
        "--dask-address",
        "tcp://127.0.0.1:9",
        timeout=120,
    )
    assert out.returncode == 2, out.stderr
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in out.stderr
    runs = run_cli(project, "runs", "--json")
    assert runs.returncode == 0 and json.loads(runs.stdout) == []
