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
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from partita.storage import Catalog
from partita.storage.catalog import ticks as tick_log
from tests.conftest import catalog_query, cli_env, partita_executable, postgres_url
from tests.projects import write_project

REPO = Path(__file__).resolve().parents[2]
Run = Callable[..., subprocess.CompletedProcess[str]]
LEASE_SECONDS = 6.0  # a heartbeat every 2 s keeps it, even on a loaded machine
WAIT_S = 60.0  # only a hang gets near it

ASSETS = """
import os
import time
from pathlib import Path

import partita as pt

daily = pt.DailyPartitions(start="{start}", end="{end}", timezone="UTC")


@pt.asset(partitions=daily)
def raw(ctx: pt.Context) -> dict:
    return {{"day": ctx.partition_key}}


@pt.asset(partitions=daily)
def report(ctx: pt.Context, raw: dict) -> dict:
    # With REPORT_HOLD (a folder), the step stays in flight until a file "release" is
    # there: the test decides when it ends, not a duration.
    hold = os.environ.get("REPORT_HOLD")
    deadline = time.monotonic() + 120  # only a test that never releases it gets near it
    while hold and not Path(hold, "release").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return {{"report": raw["day"]}}


nightly = pt.Schedule("nightly", assets=["report"], max_per_tick=3)
"""


def daemon_project(tmp_path: Path, days: int = 5, catalog: str | None = None) -> Path:
    """A project whose schedule has ``days`` closed daily windows: the days before today
    (real clock; the daemon runs as a process). They end yesterday, so a test that runs
    past midnight finds no new one."""
    today = dt.datetime.now(dt.UTC).date()
    start = today - dt.timedelta(days=days)
    settings = f"lease_seconds = {LEASE_SECONDS}\n"
    if catalog:
        settings += f'catalog = "{catalog}"\n'
    source = ASSETS.format(start=start.isoformat(), end=today.isoformat())
    return write_project(tmp_path / "project", source, settings)


class DaemonProcess:
    """A ``partita daemon`` process whose output is read line by line as it comes, so a
    test can wait for a line while the daemon runs."""

    def __init__(self, root: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [partita_executable(), "daemon", *args],
            cwd=root,
            env=cli_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.pid = self.process.pid
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=_read_lines, args=(stream, lines), daemon=True)
            for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err))
        ]
        for reader in self._readers:
            reader.start()

    def line(self, prefix: str) -> str | None:
        """The first line of stdout so far that starts with ``prefix``."""
        return next((line for line in list(self.out) if line.startswith(prefix)), None)

    def finish(self) -> tuple[str, str]:
        """Wait for the process to end (it must be ending): its stdout and stderr."""
        self.process.wait(timeout=WAIT_S)
        for reader in self._readers:
            reader.join(timeout=WAIT_S)
        return "".join(self.out), "".join(self.err)


def _read_lines(stream: IO[str], lines: list[str]) -> None:
    with stream:
        for line in stream:
            lines.append(line)


def wait_for(what: str, check: Callable[[], object], timeout: float = WAIT_S) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def start_daemon() -> Iterator[Callable[..., DaemonProcess]]:
    """``start_daemon(root, *args, env=...)`` starts ``partita daemon``; every daemon
    started is killed at the end, whatever happened."""
    started: list[DaemonProcess] = []

    def start(root: Path, *args: str, env: dict[str, str] | None = None) -> DaemonProcess:
        started.append(DaemonProcess(root, *args, env=env))
        return started[-1]

    yield start
    for daemon in started:
        if daemon.process.poll() is None:
            daemon.process.kill()
        daemon.finish()


def test_daemon_once_ticks_and_bad_interval(tmp_path: Path, run_cli: Run) -> None:
    root = daemon_project(tmp_path, days=5)
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


def _ticks(root: Path, url: str | None) -> list[tick_log.TickRecord]:
    path = root / ".partita" / "catalog.db"
    if url is None and not path.exists():
        return []  # the daemon has not opened its catalog yet
    catalog = Catalog(url or f"sqlite:///{path}")
    try:
        return tick_log.ticks(catalog, limit=10_000)
    finally:
        catalog.close()


def _daemon_lease(root: Path, url: str | None) -> tuple[str | None, float, float]:
    """The ``daemon`` lease's holder and expiry, and the database's clock (the lease's)."""
    catalog = Catalog(url or f"sqlite:///{root / '.partita' / 'catalog.db'}")
    try:
        with catalog.transaction("reading the daemon lease", read_only=True) as conn:
            now = catalog.database_now(conn)
            query = "SELECT owner, expires FROM leases WHERE name = 'daemon'"
            owner, expires = conn.exec_driver_sql(query).one()
    finally:
        catalog.close()
    return owner, float(expires or 0), now


def test_one_active_daemon_and_takeover_after_a_kill(
    tmp_path: Path, catalog_url: str | None, start_daemon: Callable[..., DaemonProcess]
) -> None:
    root = daemon_project(tmp_path, days=2, catalog=catalog_url)
    active = start_daemon(root, "--interval", "0.2s")
    wait_for("the first tick", lambda: _ticks(root, catalog_url))
    standby = start_daemon(root, "--interval", "0.2s")
    # However long it takes to start, its first try finds the lease held, and says so.
    said = wait_for("the standby's first try", lambda: standby.line("standby: "))
    holder, expires, _ = _daemon_lease(root, catalog_url)
    # While both live, every tick is the active one's (the standby retries every 0.2s):
    # for a whole lease, by the database's clock, so the active one renewed it meanwhile.
    wait_for("the lease to outlive its term", lambda: _daemon_lease(root, catalog_url)[2] > expires)
    ids = {t.daemon for t in _ticks(root, catalog_url)}
    assert len(ids) == 1 and next(iter(ids)).split(":")[1] == str(active.pid)
    assert _daemon_lease(root, catalog_url)[0] == holder == next(iter(ids))
    assert said == f"standby: daemon {holder} is active\n"
    assert standby.process.poll() is None

    active.process.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    active.process.wait(timeout=WAIT_S)
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
        standby.process.kill()
        out, err = standby.finish()
        print(f"standby stdout:\n{out}\nstandby stderr:\n{err}")
        raise
    # No bound on how long it took: a loaded machine stretches it. That a dead holder's
    # lease is free at once is tests/storage/test_leases.py's to prove, without a clock.
    took = time.monotonic() - killed_at
    print(f"takeover {took:.2f}s after SIGKILL (lease_seconds={LEASE_SECONDS})")
    new_holder = _daemon_lease(root, catalog_url)[0]
    assert new_holder is not None and new_holder.split(":")[1] == str(standby.pid)

    standby.process.send_signal(signal.SIGTERM)
    out, err = standby.finish()
    assert standby.process.returncode == 0, err
    assert out.count(f"standby: daemon {next(iter(ids))} is active") == 1
    # One process, no restart: it said it was a standby, then ticked.
    lines = out.splitlines()
    first_tick = next(i for i, line in enumerate(lines) if line.startswith("tick "))
    assert lines.index(said.rstrip("\n")) < first_tick


def test_sigterm_mid_run_finishes_the_step_in_flight_then_exits_0(
    tmp_path: Path, run_cli: Run, start_daemon: Callable[..., DaemonProcess]
) -> None:
    root = daemon_project(tmp_path, days=3)
    hold = tmp_path / "hold"
    hold.mkdir()
    daemon = start_daemon(root, "--interval", "0.2s", env={"REPORT_HOLD": str(hold)})
    wait_for("a report step to run", lambda: _running_steps(root, "report"))
    daemon.process.send_signal(signal.SIGTERM)
    (hold / "release").touch()  # the step in flight ends after the stop, however late
    out, err = daemon.finish()
    assert daemon.process.returncode == 0, err
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
