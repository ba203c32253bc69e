"""Real processes: a backfill killed with SIGKILL resumes cleanly, two processes
backfilling overlapping ranges build each partition once, and a writer paused past its
lease (a zombie) commits nothing, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from tests.conftest import (
    catalog_query,
    cli_env,
    data_files,
    partita_executable,
    postgres_execute,
)

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
    project: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    output: bool = True,
    days: tuple[str, str] = (APRIL[1], APRIL[3]),
) -> subprocess.Popen[str]:
    pipe = subprocess.PIPE if output else subprocess.DEVNULL
    return subprocess.Popen(
        [
            partita_executable(),
            "backfill",
            "sales_report",
            "--from",
            days[0],
            "--to",
            days[1],
            *extra,
        ],
        cwd=project,
        env=cli_env(env),
        stdout=pipe,
        stderr=pipe,
        text=True,
    )


def assert_clean_layout(
    project: Path, query: Callable[..., list[tuple[Any, ...]]] | None = None
) -> None:
    for asset in ASSETS:
        folders = data_files(project, asset)
        assert len(folders) == 30, asset
        for folder, files in folders.items():
            assert len(files) == 1 and files[0].startswith("part-"), (asset, folder, files)
    table = ds.dataset(project / ".partita/data/clean_sales", partitioning="hive").to_table()
    ids = table.column("order_id").to_pylist()
    assert len(ids) == len(set(ids))
    versions = (query or (lambda sql: catalog_query(project, sql)))(
        "select asset, partition, count(*) from versions where status = 'committed' "
        "group by asset, partition having count(*) != 1",
    )
    assert versions == []


# Appended to the project's copy of sales_api.py: a call for a day in SALES_API_HOLD
# never answers, so the backfill is still running when the test kills it.
HOLD = """

_answer = fetch


def fetch(day: dt.date, attempt: int) -> pa.Table:
    if day.isoformat() in os.environ.get("SALES_API_HOLD", "").split(","):
        time.sleep(600)  # killed long before
    return _answer(day, attempt)
"""


def test_sigkill_midway_then_rerun_finishes_only_the_rest(sales: Path, run_cli) -> None:
    api = sales / "sales_api.py"
    api.write_text(api.read_text() + HOLD)
    env = {"SALES_API_LATENCY": "0.05", "SALES_API_HOLD": "2026-04-30"}
    process = start_backfill(sales, "--workers", "4", env=env, output=False)
    deadline = time.monotonic() + 60
    while committed(sales) < 20 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)  # waiting for another process to make progress, not for time
    assert process.poll() is None, "the backfill finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
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


class Catalog:
    """The catalog of a test project, on SQLite (its file) or PostgreSQL (a fresh database)."""

    def __init__(self, project: Path, backend: str, request: pytest.FixtureRequest) -> None:
        self.project = project
        self.url: str | None = None
        if backend == "postgres":
            self.url = request.getfixturevalue("make_postgres_database")()

    @property
    def env(self) -> dict[str, str]:
        return {"PARTITA_CATALOG": self.url} if self.url else {}

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        if self.url:
            return postgres_execute(self.url, sql, params)
        return catalog_query(self.project, sql, *params)

    def now(self) -> str:
        """SQL for the database's clock, in epoch seconds, as leases are written."""
        if self.url:
            return "extract(epoch from clock_timestamp())"
        return "(julianday('now') - 2440587.5) * 86400.0"

    def writer_in_transaction(self) -> bool:
        """Whether some connection is inside a transaction that takes locks."""
        if self.url:
            busy = self.query(
                "select count(*) from pg_stat_activity where datname = current_database() "
                "and pid <> pg_backend_pid() "
                "and state in ('idle in transaction', 'idle in transaction (aborted)')"
            )
            return bool(busy[0][0])
        try:
            with sqlite3.connect(self.project / ".partita" / "catalog.db", timeout=0.05) as conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.rollback()
        except sqlite3.OperationalError:
            return True
        return False


BACKENDS = ("sqlite", "postgres")


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_overlapping_backfills_build_each_partition_once(
    sales: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    catalog = Catalog(sales, backend, request)
    env = {"SALES_API_LATENCY": "0.02", **catalog.env}
    first = start_backfill(
        sales, "--workers", "2", "--json", env=env, days=("2026-04-01", "2026-04-20")
    )
    second = start_backfill(
        sales, "--workers", "3", "--json", env=env, days=("2026-04-10", "2026-04-30")
    )
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    assert first.returncode == 0, outputs[0][1]
    assert second.returncode == 0, outputs[1][1]
    runs = [json.loads(stdout)["steps"] for stdout, _ in outputs]
    built = [
        (s["asset"], s["partition"]) for steps in runs for s in steps if s["status"] == "succeeded"
    ]
    assert len(built) == len(set(built)) == 90
    # Where the ranges overlap, the run that did not build a partition found it fresh.
    for mine, theirs in ((runs[0], runs[1]), (runs[1], runs[0])):
        built_by_them = {(s["asset"], s["partition"]) for s in theirs if s["status"] == "succeeded"}
        for step in mine:
            if step["status"] != "succeeded":
                assert step["status"] == "skipped" and step["detail"] == "fresh", step
                assert (step["asset"], step["partition"]) in built_by_them, step
    assert catalog.query("select count(*) from attempts") == [(90,)]
    assert_clean_layout(sales, catalog.query)
    leases = catalog.query("select count(*) from partitions where lease_owner is not null")
    assert leases == [(0,)]


ZOMBIE_ASSETS = '''\
"""One asset; with ZOMBIE_FLAGS set, its writer says it started, then waits for release."""

import os
import time
from pathlib import Path

import pyarrow as pa

import partita as pt

daily = pt.DailyPartitions(start="2026-04-01", timezone="UTC")


@pt.asset(partitions=daily)
def orders(ctx: pt.Context) -> pa.Table:
    """The day's orders, tagged with the writer that built them."""
    flags = os.environ.get("ZOMBIE_FLAGS")
    if flags:
        Path(flags, "started").touch()
        while not Path(flags, "release").exists():
            time.sleep(0.01)
    ids = [f"{ctx.partition_key}-{i}" for i in range(100)]
    return pa.table({"order_id": ids, "writer": ["zombie" if flags else "successor"] * 100})
'''


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Poll until ``condition`` holds: waiting for other processes, not for time."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_zombie_writer_commits_nothing(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest, run_cli
) -> None:
    project = tmp_path / "zombie"
    project.mkdir()
    (project / "assets.py").write_text(ZOMBIE_ASSETS)
    (project / "partita.toml").write_text('definitions = "assets.py"\nlease_seconds = 2\n')
    catalog = Catalog(project, backend, request)
    flags = tmp_path / "flags"
    flags.mkdir()
    materialize = ("materialize", "orders", "--partition", "2026-04-01")
    zombie = subprocess.Popen(
        [partita_executable(), *materialize],
        cwd=project,
        env=cli_env({"ZOMBIE_FLAGS": str(flags), **catalog.env}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: (flags / "started").exists() or zombie.poll() is not None, "the zombie")
        assert zombie.poll() is None, zombie.communicate()
        # Paused, its heartbeat stops too; never in the middle of a catalog transaction,
        # which would hold the locks the successor needs.
        zombie.send_signal(signal.SIGSTOP)
        while catalog.writer_in_transaction():
            zombie.send_signal(signal.SIGCONT)
            time.sleep(0.01)
            zombie.send_signal(signal.SIGSTOP)
        expired = (
            "select count(*) from partitions where asset = 'orders' "
            f"and partition = '2026-04-01' and lease_expires < {catalog.now()}"
        )
        wait_until(lambda: catalog.query(expired) == [(1,)], "the zombie's lease to expire")

        successor = run_cli(project, *materialize, "--force", "--json", env=catalog.env)
        assert successor.returncode == 0, successor.stderr
    finally:
        zombie.send_signal(signal.SIGCONT)
    (flags / "release").touch()
    out, err = zombie.communicate(timeout=60)
    assert zombie.returncode == 1, out + err
    assert "lease lost" in (out + err).lower(), out + err

    steps = json.loads(successor.stdout)["steps"]
    assert [(s["asset"], s["status"]) for s in steps] == [("orders", "succeeded")]
    versions = catalog.query(
        "select v.id, v.status, r.pid from versions v join runs r on r.id = v.run_id "
        "where v.asset = 'orders' and v.partition = '2026-04-01'"
    )
    assert len(versions) == 1, versions
    version_id, status, pid = versions[0]
    assert status == "committed" and pid != zombie.pid  # the successor's, none of the zombie's
    current = catalog.query(
        "select version_id from partitions where asset = 'orders' and partition = '2026-04-01'"
    )
    assert current == [(version_id,)]
    folder = project / ".partita" / "data" / "orders" / "date=2026-04-01"
    assert sorted(os.listdir(folder)) == [f"part-{version_id}.parquet"]
    table = ds.dataset(folder).to_table()
    assert set(table.column("writer").to_pylist()) == {"successor"}
