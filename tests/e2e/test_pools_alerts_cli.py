"""Pools and alerts through the ``partita`` CLI, in real processes: a pool shared by two
backfills (SQLite and PostgreSQL), a crashed run's slots, an undefined pool, and alerts
sent to a webhook on 127.0.0.1 without its token ever shown."""

from __future__ import annotations

import json
import signal
import subprocess
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import cli_env, partita_executable
from tests.core._webhook import SECRET_PATH, WebhookServer

# Each step of ``raw`` counts itself in counter.json under an fcntl lock, so the peak
# is exact across processes. A step of the partition named in HANG_ON hangs instead.
ASSETS = """\
import fcntl
import json
import os
import time
from pathlib import Path

import partita as pt

daily = pt.DailyPartitions(start="2026-04-01", timezone="UTC")
HERE = Path(__file__).parent


def bump(delta):
    with open(HERE / "counter.json", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        text = handle.read()
        state = json.loads(text) if text else {"inside": 0, "peak": 0, "entries": 0}
        state["inside"] += delta
        state["entries"] += delta > 0
        state["peak"] = max(state["peak"], state["inside"])
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(state))


@pt.asset(partitions=daily, pool="api")
def raw(ctx: pt.Context) -> dict:
    if ctx.partition_key == os.environ.get("HANG_ON"):
        (HERE / "started").touch()
        time.sleep(600)
    bump(1)
    try:
        time.sleep(0.05)  # overlap with the other steps in the pool, if they may run
        return {"day": ctx.partition_key}
    finally:
        bump(-1)


@pt.asset(partitions=daily, retries=1)
def report(ctx: pt.Context) -> dict:
    if (HERE / "broken").exists():
        raise RuntimeError("the report service answered 503")
    return {"day": ctx.partition_key}
"""


def make(tmp_path: Path, settings: str) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "partita.toml").write_text('definitions = "assets.py"\n' + textwrap.dedent(settings))
    (root / "assets.py").write_text(ASSETS)
    return root


def backfill(root: Path, start: str, end: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [partita_executable(), "backfill", "raw", "--from", start, "--to", end, "--workers", "4"],
        cwd=root,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_processes_sharing_a_pool_of_2_never_run_more_than_2_steps(
    tmp_path: Path,
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    catalog = ""
    if backend == "postgresql":
        url = request.getfixturevalue("make_postgres_database")()
        catalog = f'catalog = "{url}"\n'
    root = make(tmp_path, f"{catalog}[pools]\napi = 2\n")
    created = run_cli(root, "status")  # the catalog exists before both start
    assert created.returncode == 0, created.stderr
    first = backfill(root, "2026-04-01", "2026-04-15")
    second = backfill(root, "2026-04-16", "2026-04-30")
    for process in (first, second):
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    state = json.loads((root / "counter.json").read_text())
    assert state["entries"] == 30 and state["inside"] == 0
    assert 1 <= state["peak"] <= 2


def test_a_crashed_runs_slot_is_taken_over_without_waiting_for_it_to_expire(
    tmp_path: Path, run_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    root = make(tmp_path, "lease_seconds = 3600\n[pools]\napi = 1\n")
    hanging = subprocess.Popen(
        [partita_executable(), "materialize", "raw", "--partition", "2026-04-01"],
        cwd=root,
        env=cli_env({"HANG_ON": "2026-04-01"}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (root / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.02)  # waiting for the other process to hold the slot, not for time
    assert (root / "started").exists(), "the step never started"
    hanging.send_signal(signal.SIGKILL)
    hanging.wait(timeout=60)

    # The only slot of the pool is still recorded as the dead run's, for an hour.
    went_on = run_cli(root, "materialize", "raw", "--partition", "2026-04-02", timeout=60)
    assert went_on.returncode == 0, went_on.stderr
    logs = run_cli(root, "logs", "last")
    assert logs.returncode == 0, logs.stderr
    assert "waited" not in logs.stdout  # taken over at once: the holder's process is gone


def test_an_asset_naming_an_undefined_pool_exits_2_with_one_clear_line(
    tmp_path: Path, run_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    root = make(tmp_path, "")
    result = run_cli(root, "materialize", "raw", "--partition", "2026-04-01")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: asset raw uses pool 'api', which partita.toml does not define; add [pools] api = N"
    )


def test_cli_runs_send_failure_and_recovery_alerts_and_never_show_the_webhook_path(
    tmp_path: Path, run_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    with WebhookServer() as webhook:
        unreachable = f"http://127.0.0.1:9{SECRET_PATH}"  # nothing listens on port 9
        root = make(
            tmp_path,
            f"""\
            [pools]
            api = 2

            [[alerts]]
            webhook = "{webhook.url}"

            [[alerts]]
            webhook = "{unreachable}"
            retries = 0
            on = ["failure"]
            """,
        )
        (root / "broken").touch()
        failed = run_cli(root, "materialize", "report", "--partition", "2026-04-08")
        assert failed.returncode == 1, failed.stderr
        [event] = webhook.events()
        assert event["event"] == "failure" and event["attempts"] == 2
        assert event["error"] == "RuntimeError: the report service answered 503"
        assert "not delivered to webhook http://127.0.0.1:9 after 1 tries" in failed.stderr

        (root / "broken").unlink()
        fixed = run_cli(root, "materialize", "report", "--partition", "2026-04-08", "--json")
        assert fixed.returncode == 0, fixed.stderr
        assert [e["event"] for e in webhook.events()] == ["failure", "recovery"]
        assert webhook.events("recovery")[0]["run_id"] == json.loads(fixed.stdout)["run_id"]

        shown = [failed, fixed, run_cli(root, "runs"), run_cli(root, "logs", "last")]
        for result in shown:
            assert SECRET_PATH not in result.stdout + result.stderr
