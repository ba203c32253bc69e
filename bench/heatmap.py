"""Heat-map benchmark: one asset of 100,000 hourly partitions in the web UI.

The catalog is populated directly (one bulk INSERT through the catalog's engine, as
bench/status.py does) for one hourly asset over 100,000 hours (about 11.4 years), in a
pattern that repeats every 2,000 hours: mostly fresh, a day and a half stale (built by an
older code version), one failed hour, a day missing. That is 100,000 partitions in a few
hundred heat-map segments, each status present.

The UI runs in a separate process (``create_app`` on a project with a fixed clock, served
by uvicorn on 127.0.0.1), and this one measures, best and median of ``--repeat``:

* ``GET /api/assets/{key}/partitions``: the heat map as JSON (status of every partition,
  merged into segments);
* ``GET /api/assets``: the overview the graph page shows (counts and health);
* the heat-map page in headless chromium: from navigation until every segment's
  ``<rect data-testid="heatmap-segment">`` is in the DOM, and the part of it until the
  page's HTML had arrived (the server's share, from the browser's Navigation Timing).

    .venv/bin/python bench/heatmap.py [--partitions 100000] [--repeat 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import partita
from partita.core.plan.status import StatusResolver

START = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
ASSET = "sensor_readings"
TARGET = 1.0  # seconds
PERIOD = 2_000  # the pattern repeats every PERIOD partitions
STALE = range(500, 536)  # positions within the period: built by an older code version
FAILED = range(1_000, 1_001)  # its last build failed (no version)
MISSING = range(1_500, 1_524)  # never built
CHROMIUM = "/usr/bin/chromium"

ASSETS_PY = '''\
"""One hourly asset (its function never runs: the heat map only reads the catalog)."""

import partita as pt


@pt.asset(partitions=pt.HourlyPartitions(start={hour!r}, timezone="UTC"), code_version="2")
def {asset}():
    """Readings of every sensor, per hour."""
    return None
'''


def clock_for(count: int) -> dt.datetime:
    """A fixed time at which exactly ``count`` hourly partitions are due."""
    return START + dt.timedelta(hours=count)


def make_project(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "partita.toml").write_text('definitions = "assets.py"\n')
    source = ASSETS_PY.format(hour=START.strftime("%Y-%m-%dT%H:%M"), asset=ASSET)
    (folder / "assets.py").write_text(source)


def populate(folder: Path, count: int) -> tuple[int, float]:
    """Insert the states of the pattern; return (partitions due, seconds)."""
    began = time.perf_counter()
    now = clock_for(count)
    with partita.Project(folder, clock=lambda: now) as project:
        keys = StatusResolver(project.graph, {}, now).space(ASSET).keys()
        current = project.graph.get(ASSET).code_version
        rows: list[tuple[object, ...]] = []
        for position, key in enumerate(keys):
            phase = position % PERIOD
            if phase in MISSING:
                continue
            if phase in FAILED:
                rows.append((ASSET, key, None, None, None, "", "sensor API: 503", 1, 0.0))
                continue
            code = "an older version" if phase in STALE else current
            rows.append((ASSET, key, f"v-{key}", code, f"d-{key}", "", None, 1, 0.0))
        with project.catalog._engine.begin() as conn:  # bulk load: one executemany
            conn.exec_driver_sql(
                "INSERT INTO partitions (asset, partition, version_id, code_version, "
                "data_version, input_hash, failure, lease_token, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
    return len(keys), time.perf_counter() - began


def serve(folder: Path, count: int) -> None:
    """Run in the child process: the UI on a free loopback port; print its URL."""
    import uvicorn

    from partita.ui.app import create_app

    now = clock_for(count)
    project = partita.Project(folder, clock=lambda: now)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)  # connections queue from here on, before uvicorn accepts them
    print(f"http://127.0.0.1:{listener.getsockname()[1]}/", flush=True)
    config = uvicorn.Config(create_app(project), log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[listener])


def timed(repeat: int, action: Callable[[], object]) -> tuple[list[float], object]:
    """Run ``action`` once to warm up, then ``repeat`` times: the times and the last result."""
    result = action()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - began)
    return times, result


def measure_api(url: str, repeat: int) -> tuple[list[float], list[float], dict]:
    import httpx

    with httpx.Client(base_url=url, timeout=120) as client:

        def heat() -> dict:
            response = client.get(f"/api/assets/{ASSET}/partitions")
            response.raise_for_status()
            return response.json()

        def overview() -> dict:
            response = client.get("/api/assets")
            response.raise_for_status()
            return response.json()

        heat_times, found = timed(repeat, heat)
        overview_times, _ = timed(repeat, overview)
    return heat_times, overview_times, found  # type: ignore[return-value]


def measure_page(url: str, repeat: int, segments: int) -> tuple[list[float], list[float]]:
    """Load times of the heat-map page, and the part until its HTML had arrived."""
    from playwright.sync_api import sync_playwright

    responses: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 800})

        def load() -> None:
            page.goto("about:blank")
            page.goto(f"{url}assets/{ASSET}", wait_until="commit")
            page.wait_for_function(
                "n => document.querySelectorAll('[data-testid=\"heatmap-segment\"]').length >= n",
                arg=segments,
                timeout=120_000,
            )
            # Navigation Timing: from the start of the navigation to the HTML's last byte.
            arrived = page.evaluate("performance.getEntriesByType('navigation')[0].responseEnd")
            responses.append(arrived / 1000)

        # about:blank is part of each timed load: a few ms, the same every time.
        times, _ = timed(repeat, load)
        browser.close()
    return times, responses[1:]  # the first was the warm-up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partitions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=10, help="timed runs of each measure")
    parser.add_argument("--serve", nargs=2, metavar=("DIR", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]))
        return

    print(f"partita {partita.__version__} from {Path(partita.__file__).parent}")
    scratch = Path(tempfile.mkdtemp(prefix="partita-bench-heatmap-"))
    server = None
    try:
        folder = scratch / "project"
        make_project(folder)
        count, seconds = populate(folder, args.partitions)
        print(f"populated {count:,} hourly partitions in {seconds:.1f}s", flush=True)
        command = [sys.executable, __file__, "--serve", str(folder), str(args.partitions)]
        server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        heat, overview, found = measure_api(url, args.repeat)
        if found["total"] != count:
            raise SystemExit(f"expected {count} partitions in the heat map, got {found['total']}")
        shown = len(found["segments"])
        print(f"heat map: {shown} segments, counts {found['counts']}", flush=True)
        page, html = measure_page(url, args.repeat, shown)
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(scratch, ignore_errors=True)

    print()
    print(f"| what ({count:,} partitions, {shown} segments) | best | median | target |")
    print("|---|---:|---:|---|")
    rows = [
        (f"`GET /api/assets/{ASSET}/partitions`", heat),
        ("`GET /api/assets` (counts and health)", overview),
        ("heat-map page in chromium, until the segments are in the DOM", page),
        ("  of which: until its HTML has arrived (Navigation Timing)", html),
    ]
    for what, times in rows:
        verdict = "met" if min(times) < TARGET else "MISSED"
        target = "" if what.startswith(" ") else f"< {_fmt(TARGET)} ({verdict})"
        print(f"| {what} | {_fmt(min(times))} | {_fmt(statistics.median(times))} | {target} |")


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


if __name__ == "__main__":
    main()
