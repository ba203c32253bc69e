"""Direct readers of the hive layout see one version of each partition, also after a crash.

Readers that do not go through partita (pyarrow's dataset discovery, DuckDB's
``read_parquet('.../**/*.parquet', hive_partitioning=true)``, polars' ``scan_parquet``)
trust every visible file of ``.partita/data/<asset>/date=.../``. On local disk:

- a ``--force`` backfill of a copy of examples/sales is SIGKILLed at random points, many
  times; after each kill ``partita status`` (every few kills, the rerun instead) runs,
  and then each of those readers finds every order of ``raw_sales`` and ``clean_sales``
  exactly once (every order has a unique ``order_id``);
- while an uninterrupted ``--force`` backfill runs, a reader polling the partition
  folders never sees two data files (nor none) in one folder.

A kill lands either at a named point of the write path (armed in the process by
tests/e2e/faultrunner.py: mid-write, around the commit, before publishing, between the
renames of a swap) or at a random moment after a random number of commits. The draw is
seeded: the seed is printed, and ``PARTITA_KILL_SEED=<seed>`` replays it (the named
points exactly; the timed kills land where the machine's speed puts them).
"""

from __future__ import annotations

import collections
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.dataset as ds
import pytest

import partita
from tests.conftest import EXAMPLES, cli_env, partita_executable
from tests.e2e.forks import ForkServer

FIRST, LAST = "2026-04-01", "2026-04-04"
TABLES = ("raw_sales", "clean_sales")
BUILD = ["backfill", "raw_sales", "clean_sales", "sales_report", "--from", FIRST, "--to", LAST]
FORCED = [*BUILD, "--workers", "3", "--force"]
RERUN = [*BUILD, "--workers", "3"]
KILLS = 20  # at least this many kills must land
TRIES = 40  # runs started, at most, to land them
# Named points of the write path, and the highest n drawn for each: a forced run of the
# 12 steps writes each Parquet file in about ten pieces, commits in about six batches,
# and publishes (swapping out the superseded file) once per step.
POINTS = {
    "kill-during-write": 60,
    "kill-before-commit": 5,
    "kill-at-commit": 5,
    "kill-after-commit": 5,
    "kill-before-publish": 11,
    "kill-mid-swap": 11,
}
TIMED = "timed"  # killed by the test, after a random number of commits
STEPS = 12  # raw_sales, clean_sales and sales_report over four days


def seed() -> int:
    chosen = os.environ.get("PARTITA_KILL_SEED")
    return int(chosen) if chosen else random.SystemRandom().randrange(2**32)


def copy_sales(tmp_path: Path) -> Path:
    project = tmp_path / "sales"
    shutil.copytree(EXAMPLES / "sales", project, ignore=shutil.ignore_patterns(".partita"))
    return project


def committed(project: Path) -> int:
    """How many versions the catalog has recorded (every commit adds one)."""
    try:
        with sqlite3.connect(project / ".partita" / "catalog.db", timeout=5) as db:
            return int(db.execute("select count(*) from versions").fetchone()[0])
    except sqlite3.Error:  # being created
        return 0


def direct_reads(data: Path, table: str) -> dict[str, list[str]]:
    """The order ids each direct reader finds in a table's hive layout."""
    folder = data / table
    pattern = f"{folder}/**/*.parquet"
    found = ds.dataset(folder, format="parquet", partitioning="hive").to_table(columns=["order_id"])
    with duckdb.connect() as connection:
        query = f"select order_id from read_parquet('{pattern}', hive_partitioning=true)"
        rows = connection.execute(query).fetchall()
    scanned = pl.scan_parquet(pattern, hive_partitioning=True).select("order_id").collect()
    return {
        "pyarrow": found.column("order_id").to_pylist(),
        "duckdb": [row[0] for row in rows],
        "polars": scanned.get_column("order_id").to_list(),
    }


def problems_of(data: Path, expected: dict[str, set[str]]) -> list[str]:
    """Every order a direct reader sees twice, or misses."""
    problems = []
    for table in TABLES:
        for reader, ids in direct_reads(data, table).items():
            counts = collections.Counter(ids)
            twice = sorted(i for i, n in counts.items() if n > 1)
            missing = expected[table] - set(counts)
            if twice or missing:
                problems.append(
                    f"{reader} {table}: {len(twice)} orders seen twice (e.g. {twice[:2]}), "
                    f"{len(missing)} missing"
                )
    return problems


class Killer:
    """Starts forced backfills and kills each at the point its draw says."""

    def __init__(self, server: ForkServer, project: Path) -> None:
        self._server = server
        self._project = project
        self._fired = project / "fired.jsonl"

    def run(self, how: str, n: int, rng: random.Random) -> bool:
        """One forced backfill, killed at ``how`` (a named point, or ``timed``); returns
        whether the kill landed (the run may end first)."""
        env = {"SALES_API_LATENCY": "0.002"}
        if how == TIMED:
            before = committed(self._project)
            pid = self._server.spawn(self._project, FORCED, self._spec([]), env)
            landed = self._kill_after(pid, before + n, rng.uniform(0, 0.03))
            (code,) = self._server.wait([pid])
            return landed and code == -signal.SIGKILL
        spec = self._spec([{"point": how, "n": n}])
        pid = self._server.spawn(self._project, FORCED, spec, env)
        (code,) = self._server.wait([pid])
        return code == -signal.SIGKILL

    def _spec(self, faults: list[dict[str, object]]) -> dict[str, object]:
        return {"faults": faults, "fired": str(self._fired)}

    def _kill_after(self, pid: int, commits: int, delay: float) -> bool:
        deadline = time.monotonic() + 60
        while committed(self._project) < commits:
            if not _running(pid) or time.monotonic() > deadline:
                return False
            time.sleep(0.002)  # waiting for the other process to commit, not for time
        time.sleep(delay)  # a random moment after that commit
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        return True


def _running(pid: int) -> bool:
    """Whether a child of the fork server is still running (not yet a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.fixture
def server() -> Iterator[ForkServer]:
    forks = ForkServer()
    yield forks
    forks.close()


def build(server: ForkServer, project: Path) -> dict[str, set[str]]:
    """Build the range once; the order ids of each table, read through partita."""
    pid = server.spawn(project, [*BUILD, "--workers", "3"], {"faults": [], "fired": "/dev/null"})
    assert server.wait([pid]) == [0], (project / "runner.log").read_text()
    expected: dict[str, set[str]] = {}
    with partita.Project(project) as built:
        for table in TABLES:
            ids: list[str] = []
            for day in built.partitions(table, start=FIRST, end=LAST):
                ids += built.read(table, day).column("order_id").to_pylist()
            assert len(ids) == len(set(ids)) > 0
            expected[table] = set(ids)
    return expected


def test_direct_readers_see_every_row_once_after_kills_at_random_points(
    tmp_path: Path, server: ForkServer, capsys: pytest.CaptureFixture[str]
) -> None:
    chosen = seed()
    with capsys.disabled():
        print(f"\nkills: seed={chosen} (PARTITA_KILL_SEED={chosen} replays it)", flush=True)
    rng = random.Random(chosen)
    project = copy_sales(tmp_path)
    expected = build(server, project)
    data = project / ".partita" / "data"
    killer = Killer(server, project)
    deck: list[str] = []
    landed: collections.Counter[str] = collections.Counter()
    problems: list[str] = []
    began = time.monotonic()
    for attempt in range(TRIES):
        if sum(landed.values()) >= KILLS:
            break
        deck = deck or rng.sample([*POINTS, TIMED, TIMED, TIMED], len(POINTS) + 3)
        how = deck.pop()
        n = rng.randint(0, STEPS - 1) if how == TIMED else rng.randint(1, POINTS[how])
        if killer.run(how, n, rng):
            landed[how] += 1
        after = RERUN if attempt % 5 == 4 else ["status"]
        pid = server.spawn(project, after, {"faults": [], "fired": "/dev/null"})
        assert server.wait([pid]) == [0], (project / "runner.log").read_text()[-3000:]
        found = problems_of(data, expected)
        problems += [f"kill {attempt} ({how} n={n}, then {after[0]}): {p}" for p in found]
    with capsys.disabled():
        counts = ", ".join(f"{k}={v}" for k, v in sorted(landed.items()))
        spent = time.monotonic() - began
        print(f"kills: {sum(landed.values())} landed in {spent:.0f} s ({counts})", flush=True)
    assert problems == []
    assert sum(landed.values()) >= KILLS, f"only {sum(landed.values())} kills landed: {landed}"


def test_a_reader_polling_the_folders_never_sees_two_data_files(
    tmp_path: Path, server: ForkServer
) -> None:
    project = copy_sales(tmp_path)
    build(server, project)
    folders = [
        folder
        for table in TABLES
        for folder in sorted((project / ".partita" / "data" / table).iterdir())
    ]
    seen: collections.Counter[int] = collections.Counter()
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            for folder in folders:
                names = os.listdir(folder)
                shown = sum(1 for n in names if n.startswith("part-") and n.endswith(".parquet"))
                seen[shown] += 1

    reader = threading.Thread(target=poll, name="direct-reader")
    reader.start()
    try:
        forced = _run_partita(project, *FORCED)
    finally:
        stop.set()
        reader.join()
    assert forced["status"] == "succeeded", forced
    assert sum(s["status"] == "succeeded" for s in forced["steps"]) == STEPS
    assert set(seen) == {1}, f"visible data files per folder, as polled: {dict(seen)}"
    assert seen[1] > 100 * len(folders)  # it did poll while the backfill ran


def _run_partita(project: Path, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [partita_executable(), *args, "--json"],
        cwd=project,
        env=cli_env({"SALES_API_LATENCY": "0.01"}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))
