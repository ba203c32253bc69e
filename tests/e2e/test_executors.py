"""The sales example's backfill with every executor, through the installed CLI."""

from __future__ import annotations

import json

from tests.conftest import _require

RANGE = ("--from", "2026-04-01", "--to", "2026-04-06")
ASSETS = ("sales_report", "warehouse_sales")


def test_the_sales_backfill_runs_with_each_executor_and_writes_the_same(
    make_example, run_cli, dask_cluster: str
) -> None:
    seen = {}
    for executor in ("inline", "threads", "processes", "dask"):
        project = make_example("sales")
        project = project.rename(project.with_name(f"sales-{executor}"))
        args = ("backfill", *ASSETS, *RANGE, "--executor", executor, "--workers", "2", "--json")
        if executor == "dask":  # a cluster that outlives the run, as a team's would
            args += ("--dask-address", dask_cluster)

        first = run_cli(project, *args, timeout=300)

        assert first.returncode == 0, (executor, first.stderr)
        result = json.loads(first.stdout)
        assert result["status"] == "succeeded", executor
        steps = result["steps"]
        assert len(steps) == 4 * 6 and {s["status"] for s in steps} == {"succeeded"}
        again = run_cli(project, *args, timeout=300)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["status"] == "fresh"
        report = run_cli(project, "read", "sales_report", "--partition", "2026-04-06")
        assert report.returncode == 0, report.stderr
        seen[executor] = (
            sorted((s["asset"], s["partition"], s["rows"], s["bytes"]) for s in steps),
            report.stdout,
        )
    assert seen["threads"] == seen["inline"]
    assert seen["processes"] == seen["inline"]
    assert seen["dask"] == seen["inline"]


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
