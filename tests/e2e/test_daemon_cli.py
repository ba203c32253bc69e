"""`partita daemon` and `partita ticks` as real processes: one active daemon per project,
takeover after a kill, a clean stop on SIGTERM, and the documented service files."""

from __future__ import annotations

import configparser
import datetime as dt
import json
import re
import shlex
import signal
import sqlite3
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from partita.storage import Catalog
from partita.storage import automation as records
from tests.conftest import catalog_query, cli_env, partita_executable, postgres_url

REPO = Path(__file__).resolve().parents[2]
Run = Callable[..., subprocess.CompletedProcess[str]]
LEASE_SECONDS = 2.0
WAIT_S = 60.0  # only a hang gets near it

ASSETS = """
import os
import time

import partita as pt

daily = pt.DailyPartitions(start="{start}", timezone="UTC")


@pt.asset(partitions=daily)
def raw(ctx: pt.Context) -> dict:
    return {{"day": ctx.partition_key}}


@pt.asset(partitions=daily)
def report(ctx: pt.Context, raw: dict) -> dict:
    time.sleep(float(os.environ.get("REPORT_SLEEP", "0")))
    return {{"report": raw["day"]}}


nightly = pt.Schedule("nightly", assets=["report"], max_per_tick=3)
"""


def make_project(tmp_path: Path, days: int = 5, catalog: str | None = None) -> Path:
    """A project whose schedule has ``days`` closed daily windows today (real clock)."""
    root = tmp_path / "project"
    root.mkdir()
    start = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)
    settings = f'definitions = "assets.py"\nlease_seconds = {LEASE_SECONDS}\n'
    if catalog:
        settings += f'catalog = "{catalog}"\n'
    (root / "partita.toml").write_text(settings)
    (root / "assets.py").write_text(textwrap.dedent(ASSETS.format(start=start.isoformat())))
    return root


def start_daemon(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [partita_executable(), "daemon", *args],
        cwd=root,
        env=cli_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(what: str, check: Callable[[], object], timeout: float = WAIT_S) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def stopper() -> Iterator[list[subprocess.Popen]]:
    """Daemons to kill at the end, whatever happened."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=WAIT_S)


def test_daemon_once_ticks_and_bad_interval(tmp_path: Path, run_cli: Run) -> None:
    root = make_project(tmp_path, days=5)
    first = run_cli(root, "daemon", "--once")
    assert first.returncode == 0, first.stderr
    assert re.search(r"tick 1 at .* succeeded: 3 partitions requested; \S+ succeeded", first.stdout)
    second = run_cli(root, "daemon", "--once")
    assert second.returncode == 0, second.stderr
    assert "succeeded: 2 partitions requested" in second.stdout

    shown = run_cli(root, "ticks")
    assert shown.returncode == 0, shown.stderr
    assert "schedule:nightly: 3 partitions requested" in shown.stdout
    assert "5 partitions of report due" in shown.stdout
    listed = json.loads(run_cli(root, "ticks", "--json", "--limit", "1").stdout)
    assert len(listed) == 1 and listed[0]["status"] == "succeeded"
    assert [len(r["partitions"]) for r in listed[0]["decisions"][0]["requests"]] == [2]
    assert len(listed[0]["run_ids"]) == 1
    built = catalog_query(
        root,
        "SELECT count(DISTINCT partition) FROM steps WHERE asset = 'report' AND "
        "status = 'succeeded'",
    )
    assert built == [(5,)]

    for bad in ("soon", "-5s", "0s"):
        result = run_cli(root, "daemon", "--interval", bad)
        assert result.returncode == 2, (bad, result.stdout, result.stderr)
        assert "--interval" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """``None`` for the default SQLite catalog, else a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    postgres_url()  # skips (or fails on CI) without a server
    return request.getfixturevalue("make_postgres_database")()


def _ticks(root: Path, url: str | None) -> list[records.TickRecord]:
    path = root / ".partita" / "catalog.db"
    if url is None and not path.exists():
        return []  # the daemon has not opened its catalog yet
    catalog = Catalog(url or f"sqlite:///{path}")
    try:
        return records.ticks(catalog, limit=10_000)
    finally:
        catalog.close()


@pytest.mark.slow
def test_one_active_daemon_and_takeover_after_a_kill(
    tmp_path: Path, catalog_url: str | None, stopper: list[subprocess.Popen]
) -> None:
    root = make_project(tmp_path, days=2, catalog=catalog_url)
    active = start_daemon(root, "--interval", "0.2s")
    stopper.append(active)
    wait_for("the first tick", lambda: _ticks(root, catalog_url))
    standby = start_daemon(root, "--interval", "0.2s")
    stopper.append(standby)
    # While both live, every tick is the active one's (the standby retries every 0.2s).
    time.sleep(LEASE_SECONDS)
    ids = {t.daemon for t in _ticks(root, catalog_url)}
    assert len(ids) == 1 and next(iter(ids)).split(":")[1] == str(active.pid)
    assert standby.poll() is None

    active.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    active.wait(timeout=WAIT_S)
    seen = {t.tick_id for t in _ticks(root, catalog_url)}

    def taken_over() -> bool:
        return any(
            t.daemon.split(":")[1] == str(standby.pid)
            for t in _ticks(root, catalog_url)
            if t.tick_id not in seen
        )

    try:
        wait_for("the standby to take over", taken_over)
    except BaseException:
        standby.kill()
        out, err = standby.communicate(timeout=WAIT_S)
        print(f"standby stdout:\n{out}\nstandby stderr:\n{err}")
        raise
    took = time.monotonic() - killed_at
    print(f"takeover {took:.2f}s after SIGKILL (lease_seconds={LEASE_SECONDS})")
    assert took < LEASE_SECONDS + 3.0  # the lease's expiry, one retry and a margin

    standby.send_signal(signal.SIGTERM)
    out, err = standby.communicate(timeout=WAIT_S)
    assert standby.returncode == 0, err
    assert out.count(f"standby: daemon {next(iter(ids))} is active") == 1


@pytest.mark.slow
def test_sigterm_mid_run_finishes_the_step_in_flight_then_exits_0(
    tmp_path: Path, run_cli: Run, stopper: list[subprocess.Popen]
) -> None:
    root = make_project(tmp_path, days=3)
    daemon = start_daemon(root, "--interval", "0.2s", env={"REPORT_SLEEP": "1.5"})
    stopper.append(daemon)
    wait_for("a report step to run", lambda: _running_steps(root, "report"))
    daemon.send_signal(signal.SIGTERM)
    out, err = daemon.communicate(timeout=WAIT_S)
    assert daemon.returncode == 0, err
    assert "interrupted" in out

    assert catalog_query(root, "SELECT status FROM runs") == [("interrupted",)]
    steps = catalog_query(root, "SELECT asset, status, detail FROM steps ORDER BY id")
    assert next(s for s in steps if s[0] == "report") == ("report", "succeeded", None)
    assert ("report", "skipped", "daemon stopping") in steps
    assert {status for _, status, _ in steps} <= {"succeeded", "skipped"}
    held = catalog_query(root, "SELECT count(*) FROM partitions WHERE lease_owner IS NOT NULL")
    assert held == [(0,)]
    assert catalog_query(root, "SELECT count(*) FROM leases WHERE owner IS NOT NULL") == [(0,)]
    assert [t.status for t in _ticks(root, None)] == ["interrupted"]

    again = run_cli(root, "daemon", "--once")
    assert again.returncode == 0, again.stderr
    (status,) = json.loads(run_cli(root, "status", "report", "--json").stdout)
    assert status["counts"] == {"fresh": 3, "stale": 0, "missing": 0}
    done = catalog_query(
        root,
        "SELECT count(DISTINCT partition) FROM steps WHERE asset = 'report' "
        "AND status = 'succeeded'",
    )
    assert done == [(3,)]


def _running_steps(root: Path, asset: str) -> int:
    if not (root / ".partita" / "catalog.db").exists():
        return 0
    try:
        query = "SELECT count(*) FROM steps WHERE asset = ? AND status = 'running'"
        return int(catalog_query(root, query, asset)[0][0])
    except sqlite3.OperationalError:  # the schema is being created
        return 0


def _blocks(page: str, info: str) -> list[str]:
    text = (REPO / page).read_text(encoding="utf-8")
    return re.findall(rf"```{info}\n(.*?)```", text, flags=re.DOTALL)


def test_the_documented_systemd_unit_and_crontab_line_run_partita_daemon() -> None:
    (unit,) = _blocks("docs/scheduling.md", "ini")
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(unit)
    assert {"Unit", "Service", "Install"} <= set(parser.sections())
    command = shlex.split(parser["Service"]["ExecStart"])
    assert Path(command[0]).name == "partita" and command[1] == "daemon"
    assert parser["Service"]["KillSignal"] == "SIGTERM"
    crontab = next(
        line
        for b in _blocks("docs/scheduling.md", "bash")
        for line in b.splitlines()
        if line.startswith("*/")
    )
    assert len(crontab.split()[:5]) == 5 and "partita daemon --once" in crontab
    help_text = subprocess.run(
        [partita_executable(), "daemon", "--help"],
        env=cli_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in ("--once", "--interval"):
        assert option in help_text
