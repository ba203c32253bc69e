"""Fault injection: whatever kills or breaks a writer, a rerun leaves every partition with
exactly one complete committed version, and no row twice.

A scenario runs four rounds of two ``partita backfill`` processes at once, over overlapping
ranges of a copy of examples/sales (every order has a unique ``order_id``): the first round
builds from nothing, the second resumes, the last two rebuild everything with ``--force``
(so superseded versions and their leftovers exist). Every process is armed with a kill
and a raised error, each at the N-th occurrence of its point (tests/e2e/faultrunner.py).
After the rounds no incomplete file may have a readable name. Then a clean rerun must
succeed, and the test checks the catalog (one committed, current, complete version per
partition, byte for byte what a clean build makes), the data read through partita, and,
after ``partita gc --grace 0s``, a direct hive read of the storage folders.

Configurations: SQLite + local disk, PostgreSQL + local disk, PostgreSQL + S3 (moto), a
fresh database and folder or prefix per scenario. The faults are drawn from a seeded
generator: the seed is printed, and PARTITA_FAULT_SEED=<seed> replays the same draw.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import partita
from tests.conftest import EXAMPLES, cli_env, partita_executable, postgres_execute
from tests.e2e.forks import ForkServer

FIRST, LAST = "2026-04-01", "2026-04-08"
DAYS = [f"2026-04-{d:02d}" for d in range(1, 9)]
FULL_RANGE = ("--from", FIRST, "--to", LAST)
RANGES = (("2026-04-01", "2026-04-06"), ("2026-04-03", "2026-04-08"))
ASSETS = ("raw_sales", "clean_sales", "sales_report")
TABLES = ("raw_sales", "clean_sales")  # Parquet, one row per order
# Below s3fs's 5 MiB minimum, so that small files go up in parts (multipart uploads), except
# in processes armed to fail a one-shot PUT: there every file goes up in one.
S3_BLOCK_SIZE = 8 * 1024

KILLS = (
    "kill-during-write",
    "kill-before-commit",
    "kill-during-commit",
    "kill-at-commit",
    "kill-after-commit",
    "kill-before-publish",
    "kill-during-cleanup",
)
LOCAL_KILLS = ("kill-mid-swap",)  # only local disk renames
RAISES = ("db-error-in-commit", "db-error-after-commit")
S3_KILLS = ("s3-kill-mid-upload",)
S3_RAISES = (
    "s3-error-upload-part",
    "s3-error-put-object",
    "s3-error-complete",
    "s3-error-after-complete",
)
ALL_KILLS = KILLS + LOCAL_KILLS + S3_KILLS
ROUNDS = (False, False, True, True)  # forced? The first builds from nothing, the next resumes.
# The N-th occurrence is drawn from 1..high, high = (first round, forced rounds). A process
# builds roughly half of its 18-22 steps in the first round (the other process takes the
# rest) and all of them when forced; a Parquet file takes ~10 writes, a report one. Raised
# faults come early, so that they mostly fire before the kill.
N_HIGH = {
    "kill-during-write": (40, 80),
    "kill-during-cleanup": (0, 2),  # what dead writers of earlier rounds left
    "kill-mid-swap": (0, 5),  # only rebuilds have superseded files to swap out
    "s3-kill-mid-upload": (4, 10),
    "s3-error-upload-part": (3, 3),
    "s3-error-put-object": (1, 1),
}
KILL_N_HIGH = (4, 6)
RAISE_N_HIGH = (2, 2)


Fault = tuple[str, int]  # (point, n)


@dataclass(frozen=True)
class Config:
    name: str
    s3: bool
    postgres: bool
    scenarios: int

    @property
    def kills(self) -> tuple[str, ...]:
        return KILLS + S3_KILLS if self.s3 else KILLS + LOCAL_KILLS

    @property
    def raises(self) -> tuple[str, ...]:
        return RAISES + S3_RAISES if self.s3 else RAISES


CONFIGS = (
    Config("sqlite+local", s3=False, postgres=False, scenarios=3),
    Config("postgres+local", s3=False, postgres=True, scenarios=2),
    Config("postgres+s3", s3=True, postgres=True, scenarios=3),
)


@dataclass
class Site:
    """Where one scenario's project keeps its catalog and data."""

    project: Path
    catalog: str | None  # a PostgreSQL URL, or None for the project's SQLite file
    fs: Any
    root: str  # the store root as the filesystem names it
    s3: bool

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.catalog is not None:
            return postgres_execute(self.catalog, sql)
        with sqlite3.connect(self.project / ".partita" / "catalog.db") as conn:
            return conn.execute(sql).fetchall()


@dataclass
class Outcome:
    """What one scenario found."""

    faults: list[tuple[Fault, bool]] = field(default_factory=list)  # and whether it fired
    duplicates: int = 0
    partials: int = 0
    temps: int = 0  # hidden temporaries the faults left, before the rerun
    problems: list[str] = field(default_factory=list)


def seed() -> int:
    chosen = os.environ.get("PARTITA_FAULT_SEED")
    return int(chosen) if chosen else random.SystemRandom().randrange(2**32)


class Dealer:
    """Deals fault points from a shuffled deck, so each comes up about equally often."""

    def __init__(self, kinds: tuple[str, ...], rng: random.Random) -> None:
        self._kinds = kinds
        self._rng = rng
        self._deck: list[str] = []

    def deal(self, forced: bool, default_high: tuple[int, int]) -> Fault:
        if not self._deck:
            self._deck = self._rng.sample(self._kinds, len(self._kinds))
        # A point that needs a rebuild waits in the deck for a forced round.
        usable = [k for k in self._deck if forced or N_HIGH.get(k, default_high)[0] > 0]
        kind = usable[0] if usable else "kill-before-commit"
        if kind in self._deck:
            self._deck.remove(kind)
        high = N_HIGH.get(kind, default_high)[1 if forced else 0]
        return kind, self._rng.randint(1, high)


def fault_plan(config: Config, rng: random.Random) -> list[list[list[Fault]]]:
    """Per scenario, per round, per process: a kill and a raised fault."""
    kills, raises = Dealer(config.kills, rng), Dealer(config.raises, rng)
    return [
        [
            [[raises.deal(forced, RAISE_N_HIGH), kills.deal(forced, KILL_N_HIGH)] for _ in RANGES]
            for forced in ROUNDS
        ]
        for _ in range(config.scenarios)
    ]


def reference(tmp: Path) -> dict[tuple[str, str], tuple[int | None, str]]:
    """Rows and data version of every partition, from a clean build without faults."""
    project = tmp / "reference"
    shutil.copytree(EXAMPLES / "sales", project, ignore=shutil.ignore_patterns(".partita"))
    with partita.Project(project) as built:
        assert built.backfill("sales_report", FIRST, LAST, options=partita.RunOptions(workers=2)).ok
        found = {}
        for asset in ASSETS:
            for key, version in built.catalog.versions(asset, DAYS).items():
                found[(asset, key)] = (version.rows, version.data_version)
    assert len(found) == len(ASSETS) * len(DAYS)
    return found


def make_site(tmp: Path, config: Config, index: int, database: Callable[[], str], s3: Any) -> Site:
    project = tmp / f"{config.name.replace('+', '-')}-{index}"
    shutil.copytree(EXAMPLES / "sales", project, ignore=shutil.ignore_patterns(".partita"))
    # Short leases: gc waits for those of killed writers to expire (see run_scenario).
    settings = ['definitions = "assets.py"', "lease_seconds = 3"]
    catalog = database() if config.postgres else None
    if catalog is not None:
        settings.append(f"catalog = {json.dumps(catalog)}")
    if config.s3:
        bucket, options = s3
        prefix = f"faults-{uuid.uuid4().hex[:10]}"
        settings.append(f'storage = "s3://{bucket}/{prefix}"')
        settings.append("[storage_options]")
        settings += [
            f"{key} = {json.dumps(value)}"
            for key, value in options.items()
            if key != "client_kwargs"
        ]
        region = json.dumps(options["client_kwargs"]["region_name"])
        settings.append(f"client_kwargs = {{ region_name = {region} }}")
        fs = fsspec.filesystem("s3", skip_instance_cache=True, **options)
        root = f"{bucket}/{prefix}"
    else:
        fs = fsspec.filesystem("file")
        root = str(project / ".partita" / "data")
    (project / "partita.toml").write_text("\n".join(settings) + "\n")
    return Site(project, catalog, fs, root, config.s3)


class Launcher(ForkServer):
    """The fork server, starting armed backfills of a scenario's site."""

    def start(self, site: Site, config: Config, args: list[str], faults: list[Fault]) -> int:
        spec: dict[str, Any] = {
            "faults": [{"point": point, "n": n} for point, n in faults],
            "fired": str(site.project / "fired.jsonl"),
        }
        if config.s3 and all(point != "s3-error-put-object" for point, _ in faults):
            spec["s3_block_size"] = S3_BLOCK_SIZE
        return self.spawn(site.project, args, spec, {"SALES_API_LATENCY": "0.005"})


def fired_lines(site: Site) -> list[dict[str, Any]]:
    log = site.project / "fired.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line]


def visible(path: str) -> bool:
    return not path.rsplit("/", 1)[-1].startswith((".", "_"))


def store_files(site: Site) -> list[str]:
    """Every file under the store root (hidden ones too), relative to it."""
    site.fs.invalidate_cache()
    if not site.fs.exists(site.root):
        return []
    return sorted(
        path.removeprefix(site.root.rstrip("/") + "/")
        for path in site.fs.find(site.root)
        if not path.endswith("catalog.db")
    )


def run_round(
    launcher: Launcher,
    site: Site,
    config: Config,
    faults: list[list[Fault]],
    forced: bool,
    rng: random.Random,
) -> tuple[list[tuple[Fault, bool]], list[str]]:
    """Two armed backfills at once; returns each fault with whether it fired, and problems."""
    before = len(fired_lines(site))
    started = []
    for (first, last), armed in zip(RANGES, faults, strict=True):
        assets = list(ASSETS) if forced else ["sales_report"]
        args = ["backfill", *assets, "--from", first, "--to", last]
        args += ["--workers", str(rng.randint(2, 4)), *(["--force"] if forced else [])]
        started.append((launcher.start(site, config, args, armed), armed))
    codes = launcher.wait([pid for pid, _ in started])
    fired = fired_lines(site)[before:]
    results: list[tuple[Fault, bool]] = []
    problems: list[str] = []
    site.fs.invalidate_cache()
    for (pid, armed), code in zip(started, codes, strict=True):
        mine = {(f["point"], f["n"]): f for f in fired if f["pid"] == pid}
        killed = any(point in ALL_KILLS for point, _ in mine)
        ended_as_armed = code == -9 if killed else code in (0, 1)  # 1: a step failed
        if not ended_as_armed:
            problems.append(f"{sorted(mine)} fired; the process exited {code}")
        for point, n in armed:
            hit = mine.get((point, n))
            results.append(((point, n), hit is not None))
            # Unless a kill in another thread came before the store could remove it, the
            # object of a failed upload is never there to see.
            if (
                hit
                and point.startswith("s3-error")
                and code != -9
                and site.fs.exists(hit["target"])
            ):
                problems.append(f"{point} n={n}: {hit['target']} is visible")
    return results, problems


def wait_for_leases(site: Site) -> None:
    """Wait until the leases the killed writers held have expired, by the database's clock."""
    if site.catalog is None:
        now = "(julianday('now') - 2440587.5) * 86400.0"
    else:
        now = "extract(epoch from clock_timestamp())"
    deadline = time.monotonic() + 60
    live = (
        f"select count(*) from partitions where lease_owner is not null and lease_expires >= {now}"
    )
    while site.query(live)[0][0] and time.monotonic() < deadline:
        time.sleep(0.1)  # waiting for the database's clock, not asserting a duration


def check_catalog(
    site: Site, expected: dict[tuple[str, str], tuple[int | None, str]], outcome: Outcome
) -> None:
    """One committed version per partition, current, its files complete (size and hash)."""
    versions = site.query(
        "select asset, partition, id, status, files, bytes, data_version, rows from versions"
    )
    current = {
        (a, p): v for a, p, v in site.query("select asset, partition, version_id from partitions")
    }
    committed: dict[tuple[str, str], list[tuple[Any, ...]]] = collections.defaultdict(list)
    for row in versions:
        if row[3] == "committed":
            committed[(row[0], row[1])].append(row)
    for key, (rows, data_version) in expected.items():
        found = committed.get(key, [])
        problem = None
        if len(found) != 1:
            problem = f"{len(found)} committed versions"
        elif current.get(key) != found[0][2]:
            problem = f"points at {current.get(key)}, not at the committed {found[0][2]}"
        else:
            _, _, _, _, files, size, digest, count = found[0]
            paths = [f"{site.root}/{name}" for name in json.loads(files)]
            if not all(site.fs.exists(path) for path in paths):
                problem = "a file of the committed version is missing"
            else:
                data = b"".join(site.fs.cat_file(path) for path in paths)
                blake = hashlib.blake2b(data, digest_size=16).hexdigest()
                if len(data) != size or blake != digest:
                    problem = (
                        f"files hold {len(data)} bytes hashing {blake}, recorded {size} {digest}"
                    )
                elif (count, digest) != (rows, data_version):
                    problem = f"{count} rows, {digest}; a clean build: {rows} rows, {data_version}"
        if problem:
            outcome.partials += 1
            outcome.problems.append(f"{key[0]} [{key[1]}]: {problem}")


def check_reads(
    site: Site, expected: dict[tuple[str, str], tuple[int | None, str]], outcome: Outcome
) -> None:
    """The data read through partita: expected rows, no order twice."""
    with partita.Project(site.project) as project:
        for asset in TABLES:
            ids: list[str] = []
            for day in DAYS:
                table = project.read(asset, day)
                if table.num_rows != expected[(asset, day)][0]:
                    outcome.problems.append(f"read {asset} [{day}]: {table.num_rows} rows")
                ids += table.column("order_id").to_pylist()
            outcome.duplicates += len(ids) - len(set(ids))
        for day in DAYS:
            if f"# Sales report {day}" not in project.read("sales_report", day):
                outcome.problems.append(f"read sales_report [{day}]: not the day's report")


def unreadable_files(site: Site) -> list[str]:
    """Visible Parquet files that are not complete: what a hive reader would choke on."""
    broken = []
    for path in store_files(site):
        if path.split("/", 1)[0] in TABLES and visible(path):
            try:
                pq.read_metadata(f"{site.root}/{path}", filesystem=site.fs)
            except Exception:  # truncated, or an unfinished upload under a readable name
                broken.append(path)
    return broken


def check_files(site: Site, outcome: Outcome) -> None:
    """The storage folders as other tools see them: complete Parquet files, no order twice."""
    referenced = {
        name
        for (files,) in site.query(
            "select v.files from versions v join partitions p on p.version_id = v.id"
        )
        for name in json.loads(files)
    }
    broken = unreadable_files(site)
    outcome.partials += len(broken)
    outcome.problems += [f"{path} is not a complete Parquet file" for path in broken]
    for asset in TABLES:
        readable = [
            f"{site.root}/{path}"
            for path in store_files(site)
            if path.startswith(f"{asset}/") and visible(path) and path not in broken
        ]
        ids = [
            i
            for path in readable
            for i in pq.read_table(path, filesystem=site.fs)["order_id"].to_pylist()
        ]
        outcome.duplicates += len(ids) - len(set(ids))
        if not broken:  # pyarrow's own discovery of the hive layout must agree
            hive = ds.dataset(f"{site.root}/{asset}", filesystem=site.fs, partitioning="hive")
            rows = hive.to_table(columns=["order_id"]).column("order_id").to_pylist()
            outcome.duplicates += len(rows) - len(set(rows))
    if site.s3:  # gc also aborts the uploads that killed writers left unfinished
        bucket, prefix = site.root.split("/")
        uploads = site.fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=f"{prefix}/")
        for upload in uploads.get("Uploads", []):
            outcome.problems.append(f"{upload['Key']}: an unfinished upload is left after gc")
    for path in store_files(site):
        if not visible(path):
            outcome.problems.append(f"{path}: a hidden file is left after gc")
        elif path not in referenced:
            outcome.problems.append(f"{path}: a file no committed version uses is left after gc")


def run_partita(site: Site, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed ``partita``, no fault armed."""
    return subprocess.run(
        [partita_executable(), *args],
        cwd=site.project,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def run_scenario(
    launcher: Launcher,
    site: Site,
    config: Config,
    rounds: list[list[list[Fault]]],
    rng: random.Random,
    expected: dict[tuple[str, str], tuple[int | None, str]],
) -> Outcome:
    outcome = Outcome()
    for forced, faults in zip(ROUNDS, rounds, strict=True):
        results, problems = run_round(launcher, site, config, faults, forced, rng)
        outcome.faults += results
        outcome.problems += problems
    # Killed anywhere, a writer leaves no incomplete file under a readable name.
    broken = unreadable_files(site)
    outcome.partials += len(broken)
    outcome.problems += [f"{path}: incomplete under a readable name" for path in broken]
    # Staged files: what killed writers left (retired ones are kept for the grace period).
    temporaries = {path for path in store_files(site) if path.endswith(".tmp")}
    outcome.temps = len(temporaries)

    rerun = run_partita(site, "backfill", "sales_report", *FULL_RANGE, "--workers", "3", "--json")
    if rerun.returncode != 0:
        outcome.problems.append(f"the rerun exited {rerun.returncode}: {rerun.stderr[-2000:]}")
        outcome.partials += 1
        return outcome
    steps = json.loads(rerun.stdout)["steps"]
    rebuilt = {f"{s['asset']}/date={s['partition']}" for s in steps if s["status"] == "succeeded"}
    for path in temporaries & set(store_files(site)):
        if path.rsplit("/", 1)[0] in rebuilt:
            outcome.problems.append(f"{path}: the rerun rebuilt its partition but left it")

    check_catalog(site, expected, outcome)
    check_reads(site, expected, outcome)
    # gc keeps the files of partitions leased now, and a killed writer's lease lives on
    # until it expires (lease_seconds = 3 in the scenarios' settings).
    wait_for_leases(site)
    gc = run_partita(site, "gc", "--grace", "0s")
    if gc.returncode != 0:
        outcome.problems.append(f"partita gc exited {gc.returncode}: {gc.stderr[-2000:]}")
    check_files(site, outcome)
    return outcome


@pytest.fixture(scope="module")
def expected(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[tuple[str, str], tuple[int | None, str]]:
    return reference(tmp_path_factory.mktemp("faults"))


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_every_fault_is_recovered_by_a_rerun(
    config: Config,
    expected: dict[tuple[str, str], tuple[int | None, str]],
    tmp_path: Path,
    make_postgres_database: Callable[[], str],
    s3_bucket: tuple[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import moto.s3.models

    # The moto server runs in this process: let it accept the small parts the runner uploads.
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1)
    chosen = seed()
    began = time.monotonic()
    counts: collections.Counter[str] = collections.Counter()
    problems: list[str] = []
    kills = raised = duplicates = partials = 0

    def say(line: str) -> None:
        with capsys.disabled():
            print(line, flush=True)

    say(f"\nfault injection {config.name}: seed={chosen} (PARTITA_FAULT_SEED={chosen} replays it)")
    launcher = Launcher()
    plan = fault_plan(config, random.Random(f"{chosen}/{config.name}"))
    try:
        for index, rounds in enumerate(plan):
            rng = random.Random(f"{chosen}/{config.name}/{index}")
            site = make_site(tmp_path, config, index, make_postgres_database, s3_bucket)
            clock = time.monotonic()
            outcome = run_scenario(launcher, site, config, rounds, rng, expected)
            say(
                f"{config.name} #{index}: {time.monotonic() - clock:.1f} s, "
                f"{outcome.temps} hidden temporaries left before the rerun"
            )
            for (point, n), fired in outcome.faults:
                counts[point if fired else f"{point} (not reached)"] += 1
                if fired:
                    kills += point in ALL_KILLS
                    raised += point not in ALL_KILLS
                say(
                    f"{config.name} #{index} fault={point} n={n} seed={chosen}"
                    f"{'' if fired else ' (not reached)'} -> "
                    f"duplicates={outcome.duplicates} partials={outcome.partials}"
                )
            duplicates += outcome.duplicates
            partials += outcome.partials
            problems += [f"{config.name} #{index}: {p}" for p in outcome.problems]
    finally:
        launcher.close()
    say(f"fault injection {config.name} (seed={chosen}, {time.monotonic() - began:.0f} s):")
    say("  " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    say(f"  kills={kills} raised faults={raised} -> duplicates={duplicates} partials={partials}")
    assert problems == []
    assert duplicates == 0 and partials == 0
    # Each process of each round is armed with one kill: most of them must fire.
    dealt = config.scenarios * len(ROUNDS) * len(RANGES)
    assert kills >= 0.75 * dealt, f"only {kills} of {dealt} kills fired"
