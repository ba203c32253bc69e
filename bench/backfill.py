"""Backfill benchmark: partita against a hand-written pyarrow script doing the same work.

The pipeline has four daily assets (about 1,000 rows a day, generated deterministically):

    raw_sales -> clean_sales -> region_totals (Parquet)
                             -> sales_report  (Markdown)

partita backfills 365 days through ``Project(...).backfill(...)`` on local disk with the
default SQLite catalog, once per worker count, each in a fresh project directory. The
script writes the same Parquet/Markdown files to a hive layout
(``<asset>/date=YYYY-MM-DD/part-0.parquet``) and reads every upstream partition back
from disk, exactly as the framework does. Both call the same functions (bench/_sales.py).

With ``--dagster`` the same pipeline also runs in Dagster (bench/dagster_pipeline.py, one
``materialize`` per day, in its own environment bench/.dagster-venv made by
bench/setup-dagster) as a subprocess, and its row joins the table.

Targets (docs/performance.md): one worker within 1.5x of the script; two workers faster;
one worker at least 10x faster than Dagster.

    .venv/bin/python bench/backfill.py [--days 365] [--workers 1,2] [--repeat 1]
                                       [--dagster [--dagster-days N]]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import _sales  # noqa: E402

import partita  # noqa: E402

START = dt.date(2025, 1, 1)
ASSETS = ("raw_sales", "clean_sales", "region_totals", "sales_report")
DAGSTER_PYTHON = BENCH_DIR / ".dagster-venv" / "bin" / "python"

ASSETS_PY = '''\
"""The benchmark's sales pipeline: four daily assets."""

import sys

import pyarrow as pa

sys.path.insert(0, {bench_dir!r})

import _sales  # noqa: E402

import partita as pt  # noqa: E402

daily = pt.DailyPartitions(start={start!r}, timezone="UTC")


@pt.asset(partitions=daily)
def raw_sales(ctx: pt.Context) -> pa.Table:
    return _sales.make_raw(ctx.partition_key, {rows})


@pt.asset(partitions=daily)
def clean_sales(ctx: pt.Context, raw_sales: pa.Table) -> pa.Table:
    return _sales.clean(raw_sales, ctx.partition_key)


@pt.asset(partitions=daily)
def region_totals(clean_sales: pa.Table) -> pa.Table:
    return _sales.region_totals(clean_sales)


@pt.asset(partitions=daily, format="md")
def sales_report(ctx: pt.Context, clean_sales: pa.Table) -> str:
    return _sales.report(clean_sales, ctx.partition_key)
'''


def day_keys(days: int) -> list[str]:
    return [(START + dt.timedelta(days=i)).isoformat() for i in range(days)]


def clock_for(days: int) -> Callable[[], dt.datetime]:
    """A fixed clock at which exactly ``days`` daily partitions are due."""
    moment = dt.datetime.combine(START + dt.timedelta(days=days), dt.time(), dt.UTC)
    return lambda: moment


def make_project(folder: Path, rows: int) -> Path:
    folder.mkdir(parents=True)
    (folder / "partita.toml").write_text('definitions = "assets.py"\n')
    source = ASSETS_PY.format(bench_dir=str(BENCH_DIR), start=START.isoformat(), rows=rows)
    (folder / "assets.py").write_text(source)
    return folder


def run_partita(folder: Path, days: int, workers: int, executor: str = "threads") -> float:
    """Backfill every asset over ``days`` days; return the wall time in seconds."""
    keys = day_keys(days)
    began = time.perf_counter()
    with partita.Project(folder, clock=clock_for(days)) as project:
        options = partita.RunOptions(workers=workers, executor=executor)
        result = project.backfill(list(ASSETS), keys[0], keys[-1], options=options)
    elapsed = time.perf_counter() - began
    built = result.count("succeeded")
    if not result.ok or built != days * len(ASSETS):
        raise SystemExit(f"partita backfill failed: {result.status}, {built} steps built")
    return elapsed


# -- the hand-written script -------------------------------------------------------------


def _write_table(path: Path, table: pa.Table, durable: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not durable:
        pq.write_table(table, path)
        return
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as file:
        pq.write_table(table, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    _fsync_dir(path.parent)


def _write_text(path: Path, text: str, durable: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not durable:
        path.write_text(text, encoding="utf-8")
        return
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as file:
        file.write(text.encode("utf-8"))
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def run_script(root: Path, days: int, rows: int, *, durable: bool = False) -> float:
    """The same reads and writes, by hand; return the wall time in seconds."""
    began = time.perf_counter()
    for key in day_keys(days):
        segment = f"date={key}"
        raw_path = root / "raw_sales" / segment / "part-0.parquet"
        clean_path = root / "clean_sales" / segment / "part-0.parquet"
        _write_table(raw_path, _sales.make_raw(key, rows), durable)
        clean = _sales.clean(pq.read_table(raw_path), key)
        _write_table(clean_path, clean, durable)
        totals = _sales.region_totals(pq.read_table(clean_path))
        _write_table(root / "region_totals" / segment / "part-0.parquet", totals, durable)
        report = _sales.report(pq.read_table(clean_path), key)
        _write_text(root / "sales_report" / segment / "part-0.md", report, durable)
    return time.perf_counter() - began


# -- Dagster, in its own environment -----------------------------------------------------


def dagster_missing() -> str | None:
    """Why Dagster cannot run, with how to fix it; None when its environment is there."""
    if DAGSTER_PYTHON.exists():
        return None
    return (
        f"--dagster needs Dagster in its own environment, {DAGSTER_PYTHON.parent.parent}, "
        "which does not exist.\nCreate it (never in partita's .venv) with:\n"
        "    sh bench/setup-dagster"
    )


def run_dagster(days: int, rows: int) -> dict[str, float | int | str]:
    """Run bench/dagster_pipeline.py over ``days`` days; return its JSON result."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = [str(DAGSTER_PYTHON), str(BENCH_DIR / "dagster_pipeline.py")]
    command += ["--days", str(days), "--rows", str(rows)]
    with tempfile.TemporaryFile(mode="w+") as log:  # Dagster's event log goes to stderr
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        if done.returncode != 0:
            log.seek(0)
            tail = "".join(log.readlines()[-20:])
            raise SystemExit(f"the Dagster run failed ({done.returncode}):\n{tail}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- driver -----------------------------------------------------------------------------


def measure(
    runs: dict[str, Callable[[Path], float]], repeat: int, scratch: Path
) -> dict[str, float]:
    """Run each in turn, ``repeat`` rounds (interleaved, so that a machine getting faster or
    slower over time biases none of them); return the best time of each."""
    times: dict[str, list[float]] = {label: [] for label in runs}
    for attempt in range(repeat):
        for label, once in runs.items():
            folder = scratch / f"{label.replace(' ', '-').replace(',', '')}-{attempt}"
            times[label].append(once(folder))
            shutil.rmtree(folder, ignore_errors=True)
            print(f"  round {attempt + 1}: {label:<28} {times[label][-1]:6.2f}s", flush=True)
    return {label: min(found) for label, found in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rows", type=int, default=_sales.ROWS_PER_DAY)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the best counts")
    parser.add_argument("--profile", metavar="FILE", help="cProfile one inline backfill")
    parser.add_argument(
        "--dagster",
        action="store_true",
        help="also run the pipeline in Dagster (bench/.dagster-venv, see bench/setup-dagster)",
    )
    parser.add_argument(
        "--dagster-days",
        type=int,
        metavar="N",
        help="days for Dagster (default: --days); fewer are extrapolated to --days",
    )
    args = parser.parse_args()
    dagster_days = args.dagster_days or args.days
    if args.dagster and not 0 < dagster_days <= args.days:
        parser.error(f"--dagster-days must be between 1 and --days ({args.days})")
    if args.dagster and (missing := dagster_missing()):
        parser.exit(2, f"{missing}\n")
    workers = [int(w) for w in args.workers.split(",")]
    steps = args.days * len(ASSETS)

    print(f"partita {partita.__version__} from {Path(partita.__file__).parent}")
    print(f"{len(ASSETS)} assets x {args.days} days = {steps} asset-partitions")
    print(f"{args.rows} rows a day; cores: {os.cpu_count()}")
    scratch = Path(tempfile.mkdtemp(prefix="partita-bench-backfill-"))
    try:
        # Warm-up: imports, pyarrow kernels, the page cache.
        run_script(scratch / "warm-script", 3, args.rows)
        run_partita(make_project(scratch / "warm-partita", args.rows), 3, 1)

        if args.profile:
            folder = make_project(scratch / "profile", args.rows)
            profiler = cProfile.Profile()
            profiler.enable()
            run_partita(folder, args.days, 1, executor="inline")  # steps in this thread
            profiler.disable()
            profiler.dump_stats(args.profile)
            pstats.Stats(args.profile).sort_stats("cumulative").print_stats(40)
            return

        print("runs:")
        runs: dict[str, Callable[[Path], float]] = {
            "pyarrow script": lambda f: run_script(f, args.days, args.rows),
            "pyarrow script, fsync+rename": lambda f: run_script(
                f, args.days, args.rows, durable=True
            ),
        }
        for n in workers:
            label = f"partita, {n} worker{'s' if n > 1 else ''}"
            runs[label] = lambda f, n=n: run_partita(make_project(f, args.rows), args.days, n)
        best = measure(runs, args.repeat, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    dagster_label = ""
    if args.dagster:
        print(f"  dagster: {dagster_days} days, one materialize per day ...", flush=True)
        found = run_dagster(dagster_days, args.rows)
        print(f"  dagster {found['dagster']}: {json.dumps(found)}", flush=True)
        dagster_label = f"dagster {found['dagster']}"
        if dagster_days < args.days:
            dagster_label += f" (x{args.days}/{dagster_days} d)"
        best[dagster_label] = float(found["seconds"]) * args.days / dagster_days

    print()
    results = list(best.items())
    script, durable = best["pyarrow script"], best["pyarrow script, fsync+rename"]
    print(
        f"| {'run':<30} | {'seconds':>7} | {'ms / asset-partition':>20} "
        f"| {'vs script':>9} | {'vs script with fsync':>20} |"
    )
    print(f"|{'-' * 32}|{'-' * 8}:|{'-' * 21}:|{'-' * 10}:|{'-' * 21}:|")
    for label, seconds in results:
        per_step = seconds / steps * 1000
        print(
            f"| {label:<30} | {seconds:7.2f} | {per_step:20.2f} "
            f"| {seconds / script:8.2f}x | {seconds / durable:19.2f}x |"
        )
    print()
    one = best.get("partita, 1 worker")
    two = best.get("partita, 2 workers")
    if one is not None:
        verdict = "met" if one <= 1.5 * script else "MISSED"
        print(f"target 1 worker <= 1.5x script: {one / script:.2f}x ({verdict})")
    if two is not None:
        verdict = "met" if two < script else "MISSED"
        print(f"target 2 workers < script:      {two / script:.2f}x ({verdict})")
    if dagster_label:
        if dagster_days < args.days:
            print(
                f"{dagster_label}: measured over {dagster_days} days, "
                f"extrapolated linearly to {args.days}"
            )
        dagster = best[dagster_label]
        print(f"dagster per partition (4 assets): {dagster / args.days:.3f}s")
        for n in workers:
            label = f"partita, {n} worker{'s' if n > 1 else ''}"
            print(f"dagster / {label}: {dagster / best[label]:.1f}x")
        if one is not None:
            verdict = "met" if dagster >= 10 * one else "MISSED"
            print(f"target 1 worker >= 10x faster than dagster: {dagster / one:.1f}x ({verdict})")


if __name__ == "__main__":
    main()
