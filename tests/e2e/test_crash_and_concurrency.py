"""Real processes: a backfill killed with SIGKILL resumes cleanly, and two processes
materializing the same partitions build each one once."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from tests.conftest import catalog_query, cli_env, data_files, partita_executable

pytestmark = pytest.mark.slow

APRIL = ("--from", "2026-04-01", "--to", "2026-04-30")
ASSETS = ("raw_sales", "clean_sales", "sales_report")


def committed(project: Path) -> int:
    if not (project / ".partita" / "catalog.db").exists():
        return 0
    try:
        rows = catalog_query(
            project, "select count(*) from partitions where version_id is not null"
        )
    except Exception:  # the catalog is being created
        return 0
    return int(rows[0][0])


def start_backfill(
    project: Path, *extra: str, env: dict[str, str] | None = None, output: bool = True
) -> subprocess.Popen[str]:
    pipe = subprocess.PIPE if output else subprocess.DEVNULL
    return subprocess.Popen(
        [partita_executable(), "backfill", "sales_report", *APRIL, *extra],
        cwd=project,
        env=cli_env(env),
        stdout=pipe,
        stderr=pipe,
        text=True,
    )


def assert_clean_layout(project: Path) -> None:
    for asset in ASSETS:
        folders = data_files(project, asset)
        assert len(folders) == 30, asset
        for folder, files in folders.items():
            assert len(files) == 1 and files[0].startswith("part-"), (asset, folder, files)
    table = ds.dataset(project / ".partita/data/clean_sales", partitioning="hive").to_table()
    ids = table.column("order_id").to_pylist()
    assert len(ids) == len(set(ids))
    versions = catalog_query(
        project,
        "select asset, partition, count(*) from versions where status = 'committed' "
        "group by asset, partition having count(*) != 1",
    )
    assert versions == []


def test_sigkill_midway_then_rerun_finishes_only_the_rest(sales: Path, run_cli) -> None:
    process = start_backfill(
        sales, "--workers", "4", env={"SALES_API_LATENCY": "0.05"}, output=False
    )
    deadline = time.monotonic() + 60
    while committed(sales) < 20 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)  # waiting for another process to make progress, not for time
    assert process.poll() is None, "the backfill finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    done_before = committed(sales)
    assert 20 <= done_before < 90

    rerun = run_cli(sales, "backfill", "sales_report", *APRIL, "--workers", "4", "--json")
    assert rerun.returncode == 0, rerun.stderr
    steps = json.loads(rerun.stdout)["steps"]
    built = [s for s in steps if s["status"] == "succeeded"]
    assert len(built) == 90 - done_before
    assert_clean_layout(sales)
    runs = run_cli(sales, "runs", "--json")
    assert [r["status"] for r in json.loads(runs.stdout)] == ["succeeded", "crashed"]


def test_two_processes_build_each_partition_once(sales: Path) -> None:
    env = {"SALES_API_LATENCY": "0.02"}
    first = start_backfill(sales, "--workers", "2", "--json", env=env)
    second = start_backfill(sales, "--workers", "2", "--json", env=env)
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    assert first.returncode == 0, outputs[0][1]
    assert second.returncode == 0, outputs[1][1]
    built: list[tuple[str, str]] = []
    for stdout, _ in outputs:
        steps = json.loads(stdout)["steps"]
        built += [(s["asset"], s["partition"]) for s in steps if s["status"] == "succeeded"]
    assert len(built) == len(set(built)) == 90
    attempts = catalog_query(sales, "select count(*) from attempts")
    assert attempts == [(90,)]
    assert_clean_layout(sales)
    leases = catalog_query(sales, "select count(*) from partitions where lease_owner is not null")
    assert leases == [(0,)]
