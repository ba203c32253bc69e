"""Status benchmark: ``Project.status()`` over many partition states.

Six scales (targets in docs/performance.md):

* ``small``:     the 4-asset sales pipeline x 365 days = 1,460 states     (target < 25 ms)
* ``10k``:       100 daily assets x 100 days           = 10,000 states
* ``100k``:      100 daily assets x 1,000 days         = 100,000 states
* ``365k``:      100 daily assets x 3,650 days         = 365,000 states   (target < 1 s)
* ``1m``:        100 daily assets x 10,000 days        = 1,000,000 states (target < 3 s)
* ``1m-hourly``: 100 hourly assets x 10,000 hours      = 1,000,000 states (target < 3 s),
                 and the 416 days of a daily asset the chains start from

The catalog is populated directly (one bulk INSERT through the catalog's engine), with
the assets' current code versions and input fingerprints computed by
``partita.core.plan.status.input_fingerprint``, so every partition is fresh and status has to
check every one of them. Each scale is then measured in a fresh subprocess: open the
project (load definitions, open the catalog), then time ``Project.status()`` end to end,
split into the catalog query (``Catalog.states``) and the status computation. Peak
memory is the subprocess's max RSS and, in a separate pass, tracemalloc's peak during
one ``status()`` call. Next to status, ``Project.plan()`` of a backfill of every asset
over every partition is timed too: it reads the same states and finds everything fresh.

    .venv/bin/python bench/status.py [--scales small,10k,100k,365k,1m,1m-hourly] [--repeat 5]
    .venv/bin/python bench/status.py --scales 1m-hourly --repeat 1 --profile /tmp/status.prof
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import partita
from partita.core.plan.status import StatusResolver, input_fingerprint

START = dt.datetime(1999, 1, 1, tzinfo=dt.UTC)

SCALES = {
    # name: (kind, assets, partitions per asset, target seconds or None)
    "small": ("sales", 4, 365, 0.025),
    "10k": ("wide", 100, 100, None),
    "100k": ("wide", 100, 1_000, None),
    "365k": ("wide", 100, 3_650, 1.0),
    "1m": ("wide", 100, 10_000, 3.0),
    "1m-hourly": ("hourly", 100, 10_000, 3.0),
}

SALES_PY = '''\
"""The 4-asset daily sales pipeline (functions never run: status only)."""

import partita as pt

daily = pt.DailyPartitions(start={day!r}, timezone="UTC")


@pt.asset(partitions=daily)
def raw_sales(ctx: pt.Context):
    return None


@pt.asset(partitions=daily)
def clean_sales(raw_sales):
    return None


@pt.asset(partitions=daily)
def region_totals(clean_sales):
    return None


@pt.asset(partitions=daily, format="md")
def sales_report(clean_sales):
    return None
'''

WIDE_PY = '''\
"""{assets} daily assets in ten chains of ten, cross-linked; every tenth reads a 7-day window.

Asset i depends on asset i-1 (same chain) and on asset i-10 (previous chain); assets
ending in 9 read their chain predecessor through Window(days=7).
"""

import partita as pt

daily = pt.DailyPartitions(start={day!r}, timezone="UTC")


def _build():
    return None


for _i in range({assets}):
    _deps = {{}}
    if _i % 10:
        _deps[f"a{{_i - 1:03d}}"] = pt.Window(days=7) if _i % 10 == 9 else None
    if _i >= 10:
        _deps[f"a{{_i - 10:03d}}"] = None
    globals()[f"a{{_i:03d}}"] = pt.asset(
        key=f"a{{_i:03d}}", partitions=daily, deps=_deps, code_version="1"
    )(_build)
'''


HOURLY_PY = '''\
"""{assets} hourly assets in ten chains of ten, cross-linked, and a daily one they start from.

Asset i depends on asset i-1 (same chain) and on asset i-10 (previous chain), each
through Identity(): the same hour upstream. The first asset of each chain reads the
daily asset `calendar` through Containment(): the day that contains its hour.
"""

import partita as pt

hourly = pt.HourlyPartitions(start={hour!r}, timezone="UTC")
daily = pt.DailyPartitions(start={day!r}, timezone="UTC")


def _build():
    return None


calendar = pt.asset(key="calendar", partitions=daily, code_version="1")(_build)

for _i in range({assets}):
    _deps = {{}}
    if _i % 10:
        _deps[f"a{{_i - 1:03d}}"] = pt.Identity()
    else:
        _deps["calendar"] = pt.Containment()
    if _i >= 10:
        _deps[f"a{{_i - 10:03d}}"] = pt.Identity()
    globals()[f"a{{_i:03d}}"] = pt.asset(
        key=f"a{{_i:03d}}", partitions=hourly, deps=_deps, code_version="1"
    )(_build)
'''

TEMPLATES = {"sales": SALES_PY, "wide": WIDE_PY, "hourly": HOURLY_PY}


def clock_for(kind: str, count: int) -> dt.datetime:
    """A fixed time at which exactly ``count`` partitions of each asset are due."""
    step = dt.timedelta(hours=1) if kind == "hourly" else dt.timedelta(days=1)
    return START + count * step


def make_project(folder: Path, kind: str, assets: int) -> None:
    folder.mkdir(parents=True)
    (folder / "partita.toml").write_text('definitions = "assets.py"\n')
    source = TEMPLATES[kind].format(
        day=START.date().isoformat(), hour=START.strftime("%Y-%m-%dT%H:%M"), assets=assets
    )
    (folder / "assets.py").write_text(source)


def populate(folder: Path, kind: str, count: int) -> tuple[int, float]:
    """Insert a fresh committed state for every partition; return (rows, seconds)."""
    began = time.perf_counter()
    now = clock_for(kind, count)
    with partita.Project(folder, clock=lambda: now) as project:
        graph = project.graph
        mapper = StatusResolver(graph, {}, now)
        data: dict[str, dict[str, str]] = {}
        rows: list[tuple[object, ...]] = []
        for name in graph.order:
            code = graph.get(name).code_version
            keys = mapper.space(name).keys()
            mine = data[name] = {key: f"{name}-{key}" for key in keys}
            edges = graph.upstream(name)
            for key in keys:
                inputs = {}
                for edge in edges:
                    up = data[edge.upstream]
                    inputs[edge.upstream] = {k: up[k] for k in mapper.upstream_keys(edge, key)}
                fingerprint = input_fingerprint(inputs) if edges else ""
                rows.append((name, key, f"v-{name}-{key}", code, mine[key], fingerprint, 1, 0.0))
        engine = project.catalog._engine  # bulk load: one executemany, one transaction
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO partitions (asset, partition, version_id, code_version, "
                "data_version, input_hash, lease_token, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
    return len(rows), time.perf_counter() - began


def measure(
    folder: Path, kind: str, count: int, repeat: int, profile: str | None = None
) -> dict[str, object]:
    """Run in the child process: time status() and its parts, and its memory."""
    now = clock_for(kind, count)
    began = time.perf_counter()
    project = partita.Project(folder, clock=lambda: now)
    graph = project.graph
    catalog = project.catalog
    opened = time.perf_counter() - began

    query_times: list[float] = []
    states = catalog.states

    def timed_states(assets):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return states(assets)
        finally:
            query_times.append(time.perf_counter() - start)

    catalog.states = timed_states  # type: ignore[method-assign]
    totals: list[float] = []
    counts: dict[str, int] = {}
    for _ in range(repeat):
        start = time.perf_counter()
        reports = project.status()
        totals.append(time.perf_counter() - start)
        counts = {}
        for report in reports:
            for status, n in report.counts.items():
                counts[status] = counts.get(status, 0) + n
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        project.status()
        profiler.disable()
        profiler.dump_stats(profile)

    # Plan a backfill of every asset over every partition: all fresh, nothing to build.
    # (A daily asset that hourly ones read is in the closure, not among the targets.)
    last = graph.order[-1]
    targets = [name for name in graph.order if _kind(graph, name) == _kind(graph, last)]
    keys = StatusResolver(graph, {}, now).space(last).keys()
    plan_times: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        planned = project.plan(targets, start=keys[0], end=keys[-1])
        plan_times.append(time.perf_counter() - start)
        if not planned.empty:
            raise SystemExit(f"the plan has {len(planned.steps)} steps; expected none")
    del planned

    tracemalloc.start()
    project.status()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    project.close()

    best = min(range(repeat), key=lambda i: totals[i])
    return {
        "assets": len(graph),
        "open_s": opened,
        "total_s": totals,
        "query_s": query_times[:repeat],
        "best_total_s": totals[best],
        "best_query_s": query_times[best],
        "median_total_s": statistics.median(totals),
        "plan_s": plan_times,
        "best_plan_s": min(plan_times),
        "median_plan_s": statistics.median(plan_times),
        "counts": counts,
        "max_rss_mb": rss_mb,
        "traced_peak_mb": peak / 2**20,
    }


def _kind(graph: object, name: str) -> str:
    return type(graph.get(name).partitions).__name__  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default=",".join(SCALES), help="comma-separated")
    parser.add_argument("--repeat", type=int, default=5, help="timed status() calls per scale")
    parser.add_argument(
        "--profile", metavar="FILE", help="also cProfile one status() per scale (FILE.<scale>)"
    )
    parser.add_argument(
        "--measure", nargs=3, metavar=("DIR", "KIND", "COUNT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.measure:
        folder, kind, count = args.measure
        print(json.dumps(measure(Path(folder), kind, int(count), args.repeat, args.profile)))
        return

    print(f"partita {partita.__version__} from {Path(partita.__file__).parent}")
    scratch = Path(tempfile.mkdtemp(prefix="partita-bench-status-"))
    results = []
    try:
        for name in args.scales.split(","):
            kind, assets, count, target = SCALES[name]
            folder = scratch / name
            make_project(folder, kind, assets)
            rows, seconds = populate(folder, kind, count)
            size = (folder / ".partita" / "catalog.db").stat().st_size / 2**20
            print(f"{name}: populated {rows:,} states in {seconds:.1f}s ({size:.0f} MB catalog)")
            command = [sys.executable, __file__, "--measure", str(folder), kind, str(count)]
            command += ["--repeat", str(args.repeat)]
            profile = f"{args.profile}.{name}" if args.profile else None
            if profile:
                command += ["--profile", profile]
            child = subprocess.run(command, check=True, capture_output=True, text=True)
            found = json.loads(child.stdout)
            if found["counts"].get("fresh") != rows:
                raise SystemExit(f"{name}: expected {rows} fresh partitions, got {found['counts']}")
            print(
                "  status() runs: " + "  ".join(f"{t * 1000:.0f}ms" for t in found["total_s"]),
                flush=True,
            )
            print(
                "  plan() runs:   " + "  ".join(f"{t * 1000:.0f}ms" for t in found["plan_s"]),
                flush=True,
            )
            if profile:
                pstats.Stats(profile).sort_stats("tottime").print_stats(12)
            results.append((name, rows, target, found))
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print()
    header = (
        "| scale | states | status() best | median | catalog query | status computation "
        "| target | plan() best | median | max RSS | traced peak | peak per state |"
    )
    print(header)
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for name, rows, target, found in results:
        total, query = found["best_total_s"], found["best_query_s"]
        if target is None:
            goal = "-"
        else:
            goal = f"< {_fmt(target)} ({'met' if total < target else 'MISSED'})"
        per_state = found["traced_peak_mb"] * 2**20 / rows
        print(
            f"| {name} | {rows:,} | {_fmt(total)} | {_fmt(found['median_total_s'])} "
            f"| {_fmt(query)} | {_fmt(total - query)} | {goal} "
            f"| {_fmt(found['best_plan_s'])} | {_fmt(found['median_plan_s'])} "
            f"| {found['max_rss_mb']:.0f} MB | {found['traced_peak_mb']:.0f} MB "
            f"| {per_state:.0f} B |"
        )
    print("\n(opening the project, i.e. importing partita, loading the definitions and opening")
    print(
        " the catalog, is not included: "
        + ", ".join(f"{name} {found['open_s']:.2f} s" for name, _, _, found in results)
        + ")"
    )


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


if __name__ == "__main__":
    main()
