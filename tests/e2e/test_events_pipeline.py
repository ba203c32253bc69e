"""The events example end to end: hours, days and weeks across DST, date x region, a running
total, dynamic uploads, and definitions that change under built partitions.

Most tests run the installed ``partita`` in a copy of examples/events; the CLI reads the real
clock, and every date used here is long past. The 90-day running total runs a small project in
process through ``partita.Project`` with a fixed clock.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import textwrap
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import partita as pt
from tests.conftest import catalog_query, data_files

RunCli = Callable[..., subprocess.CompletedProcess[str]]
Reports = dict[str, dict[str, Any]]

START = "2026-03-23"
WEEK = "2026-03-23"  # Monday; its Sunday, 2026-03-29, has 23 hours (DST starts)
WEEK_DAYS = [f"2026-03-{day}" for day in range(23, 30)]
HOUR = "2026-03-25T13:00"
DAY = "2026-03-25"
REGIONS = ("eu", "us", "apac")
ASSETS = (
    "page_views",
    "daily_views",
    "cumulative_views",
    "regional_views",
    "daily_totals",
    "uploads",
    "weekly_views",
)


def cli(run_cli: RunCli, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = run_cli(project, *args)
    assert result.returncode == 0, result.stderr
    return result


def built(result: subprocess.CompletedProcess[str]) -> set[tuple[str, str]]:
    payload = json.loads(result.stdout)
    return {(s["asset"], s["partition"]) for s in payload["steps"] if s["status"] == "succeeded"}


def status(run_cli: RunCli, project: Path, *args: str) -> Reports:
    result = cli(run_cli, project, "status", *args, "--json")
    return {report["asset"]: report for report in json.loads(result.stdout)}


def stale(reports: Reports) -> dict[tuple[str, str], str]:
    return {(r["asset"], key): cause for r in reports.values() for key, cause in r["stale"]}


def built_view(reports: Reports) -> dict[str, tuple[object, ...]]:
    """What status says about the built partitions (missing ones move with the clock)."""
    return {
        asset: (r["ranges"].get("fresh"), r["ranges"].get("stale"), r["stale"], r["outside"])
        for asset, r in reports.items()
    }


def table(project: Path, asset: str, segments: str) -> pa.Table:
    """The committed table of one partition, read from its file in the hive layout."""
    (path,) = (project / ".partita" / "data" / asset / segments).glob("part-*.parquet")
    return pq.ParquetFile(path).read()


def views_by_page(data: pa.Table, column: str = "views") -> dict[str, int]:
    return dict(zip(data["page"].to_pylist(), data[column].to_pylist(), strict=True))


def edit_assets(project: Path, old: str, new: str) -> None:
    path = project / "assets.py"
    source = path.read_text()
    assert old in source
    path.write_text(source.replace(old, new, 1))


def set_start(project: Path, start: str) -> None:
    path = project / "assets.py"
    lines = path.read_text().splitlines(keepends=True)
    (index,) = [i for i, line in enumerate(lines) if line.startswith("START = ")]
    lines[index] = f'START = "{start}"\n'
    path.write_text("".join(lines))


def test_days_and_weeks_read_their_hours_across_dst(events: Path, run_cli: RunCli) -> None:
    long_day = cli(run_cli, events, "materialize", "daily_views", "-p", "2026-10-25", "--json")
    hours = {f"2026-10-25T{hour:02d}:00" for hour in range(24) if hour != 2}
    hours |= {"2026-10-25T02:00+02:00", "2026-10-25T02:00+01:00"}  # 02:00 comes twice
    assert built(long_day) == {("page_views", h) for h in hours} | {("daily_views", "2026-10-25")}
    assert set(data_files(events, "page_views")) == {f"hour={h}" for h in hours}
    day = table(events, "daily_views", "date=2026-10-25")
    assert set(day["hours"].to_pylist()) == {25}
    rows = sum(table(events, "page_views", f"hour={h}").num_rows for h in hours)
    assert sum(day["views"].to_pylist()) == rows

    week = cli(run_cli, events, "materialize", "weekly_views", "-p", WEEK, "--json")
    steps = built(week)
    week_hours = {key for asset, key in steps if asset == "page_views"}
    assert len(week_hours) == 7 * 24 - 1
    assert "2026-03-29T01:00" in week_hours and "2026-03-29T03:00" in week_hours
    assert "2026-03-29T02:00" not in week_hours  # skipped by DST
    assert {key for asset, key in steps if asset == "daily_views"} == set(WEEK_DAYS)
    assert ("weekly_views", WEEK) in steps and len(steps) == 167 + 7 + 1
    assert set(table(events, "daily_views", "date=2026-03-29")["hours"].to_pylist()) == {23}
    weekly = table(events, "weekly_views", f"week={WEEK}")
    assert set(weekly["days"].to_pylist()) == {7}
    assert set(weekly["hours"].to_pylist()) == {167}
    days = Counter[str]()
    for day_key in WEEK_DAYS:
        days.update(views_by_page(table(events, "daily_views", f"date={day_key}")))
    assert views_by_page(weekly) == dict(days)


def test_rebuilding_one_hour_makes_exactly_its_day_and_week_stale(
    events: Path, run_cli: RunCli
) -> None:
    first, last = WEEK_DAYS[0], WEEK_DAYS[-1]
    targets = ("weekly_views", "daily_totals", "cumulative_views")
    cli(run_cli, events, "backfill", *targets, "--from", first, "--to", last, "--workers", "4")
    before = status(run_cli, events)
    assert stale(before) == {}
    fresh = {asset: before[asset]["counts"]["fresh"] for asset in ASSETS}
    assert fresh == {
        "page_views": 167,
        "daily_views": 7,
        "cumulative_views": 7,
        "regional_views": 21,
        "daily_totals": 7,
        "uploads": 0,
        "weekly_views": 1,
    }
    for day in WEEK_DAYS:  # the regions add up to the day
        totals = table(events, "daily_totals", f"date={day}")
        assert views_by_page(totals) == views_by_page(table(events, "daily_views", f"date={day}"))
    weekly_before = views_by_page(table(events, "weekly_views", f"week={WEEK}"))

    (events / ".partita" / "late_events.json").write_text(json.dumps({HOUR: 40}))
    rebuilt = cli(run_cli, events, "materialize", "page_views", "-p", HOUR, "--force", "--json")
    assert built(rebuilt) == {("page_views", HOUR)}

    after = status(run_cli, events)
    expected = {
        ("daily_views", DAY): "upstream changed: page_views",
        **{("regional_views", f"{DAY}|{r}"): "upstream changed: page_views" for r in REGIONS},
        ("daily_totals", DAY): f"upstream stale: regional_views {DAY}|eu",
        ("cumulative_views", DAY): f"upstream stale: daily_views {DAY}",
        ("weekly_views", WEEK): f"upstream stale: daily_views {DAY}",
    }
    later = WEEK_DAYS[WEEK_DAYS.index(DAY) :]
    for previous, day in itertools.pairwise(later):
        expected[("cumulative_views", day)] = f"upstream stale: cumulative_views {previous}"
    assert stale(after) == expected
    for asset in ASSETS:  # nothing else changed
        count = sum(1 for name, _ in expected if name == asset)
        assert after[asset]["counts"]["fresh"] == fresh[asset] - count, asset
        assert after[asset]["counts"]["stale"] == count, asset

    why = cli(run_cli, events, "why", "weekly_views", WEEK)
    assert f"daily_views {DAY}: stale (upstream changed: page_views)" in why.stdout
    assert f"page_views {HOUR} was rebuilt with different data" in why.stdout

    again = cli(run_cli, events, "backfill", *targets, "--from", first, "--to", last, "--json")
    assert built(again) == set(expected)
    assert stale(status(run_cli, events)) == {}
    weekly = views_by_page(table(events, "weekly_views", f"week={WEEK}"))
    assert sum(weekly.values()) == sum(weekly_before.values()) + 40
    totals = table(events, "daily_totals", f"date={DAY}")
    assert views_by_page(totals) == views_by_page(table(events, "daily_views", f"date={DAY}"))
    running = table(events, "cumulative_views", f"date={last}")
    assert views_by_page(running, "total") == weekly  # the running total began with the week


def test_uploads_are_dynamic_partitions(events: Path, run_cli: RunCli) -> None:
    cli(run_cli, events, "partitions", "add", "uploads", "partner-a", "partner-b")
    assert cli(run_cli, events, "partitions", "uploads").stdout.split() == [
        "partner-a",
        "partner-b",
    ]
    cli(run_cli, events, "materialize", "uploads", "-p", "partner-a")
    unknown = run_cli(events, "materialize", "uploads", "-p", "partner-c")
    assert unknown.returncode == 2
    assert "'partner-c' is not a partition of uploads" in unknown.stderr

    cli(run_cli, events, "partitions", "remove", "uploads", "partner-a")
    hidden = status(run_cli, events, "uploads")["uploads"]
    assert hidden["counts"] == {"fresh": 0, "stale": 0, "missing": 1}
    assert hidden["outside"] == 1
    assert list(data_files(events, "uploads")) == ["batch=partner-a"]  # kept

    cli(run_cli, events, "partitions", "add", "uploads", "partner-a")
    back = status(run_cli, events, "uploads")["uploads"]
    assert back["ranges"] == {"missing": ["partner-b"], "fresh": ["partner-a"]}
    assert back["outside"] == 0


def test_moving_the_start_keeps_built_partitions(events: Path, run_cli: RunCli) -> None:
    targets = ("weekly_views", "daily_totals", "cumulative_views")
    cli(run_cli, events, "backfill", *targets, "--from", WEEK_DAYS[0], "--to", WEEK_DAYS[-1])
    before = status(run_cli, events)
    versions = "select asset, partition, version_id from partitions order by 1, 2"
    rows = catalog_query(events, versions)
    files = {asset: data_files(events, asset) for asset in ASSETS}

    set_start(events, "2026-03-16")  # a week earlier
    earlier = status(run_cli, events)
    assert stale(earlier) == {
        ("cumulative_views", "2026-03-23"): "upstream changed",  # it has a day before it now
        **{
            ("cumulative_views", day): f"upstream stale: cumulative_views {previous}"
            for previous, day in itertools.pairwise(WEEK_DAYS)
        },
    }
    for asset in ASSETS:
        if asset != "cumulative_views":
            assert built_view(earlier)[asset] == built_view(before)[asset], asset
    new_days = {
        "page_views": "2026-03-16T00:00..2026-03-22T23:00",
        "daily_views": "2026-03-16..2026-03-22",
        "cumulative_views": "2026-03-16..2026-03-22",
        "regional_views": "2026-03-16|eu..2026-03-22|apac",
        "daily_totals": "2026-03-16..2026-03-22",
        "weekly_views": "2026-03-16",
    }
    assert {asset: earlier[asset]["ranges"]["missing"][0] for asset in new_days} == new_days

    set_start(events, "2026-03-26")  # a Thursday: the first week is now 2026-03-30
    later = status(run_cli, events)
    assert {asset: later[asset]["outside"] for asset in ASSETS} == {
        "page_views": 3 * 24,
        "daily_views": 3,
        "cumulative_views": 3,
        "regional_views": 3 * 3,
        "daily_totals": 3,
        "uploads": 0,
        "weekly_views": 1,
    }
    assert {asset: later[asset]["ranges"].get("fresh") for asset in ASSETS} == {
        "page_views": ["2026-03-26T00:00..2026-03-29T23:00"],
        "daily_views": ["2026-03-26..2026-03-29"],
        "cumulative_views": None,
        "regional_views": ["2026-03-26|eu..2026-03-29|apac"],
        "daily_totals": ["2026-03-26..2026-03-29"],
        "uploads": None,
        "weekly_views": None,
    }
    assert later["cumulative_views"]["stale"][0] == ["2026-03-26", "upstream changed"]
    refused = run_cli(events, "materialize", "daily_views", "-p", "2026-03-23")
    assert refused.returncode == 2
    assert "before daily_views's first partition 2026-03-26" in refused.stderr
    assert catalog_query(events, versions) == rows  # hidden, not deleted
    assert {asset: data_files(events, asset) for asset in ASSETS} == files

    set_start(events, START)
    assert built_view(status(run_cli, events)) == built_view(before)


def test_changing_granularity_shows_old_partitions_outside(events: Path, run_cli: RunCli) -> None:
    cli(run_cli, events, "backfill", "daily_totals", "--from", WEEK_DAYS[0], "--to", WEEK_DAYS[-1])
    edit_assets(
        events,
        "@pt.asset(partitions=daily)\ndef daily_totals",
        "@pt.asset(partitions=weekly)\ndef daily_totals",
    )
    report = status(run_cli, events, "daily_totals")["daily_totals"]
    assert report["outside"] == 6  # Tuesday to Sunday
    assert report["stale"] == [[WEEK, "code changed"]]  # a Monday's date is also its week's key
    assert report["counts"]["fresh"] == 0
    assert report["ranges"]["missing"][0].startswith("2026-03-30..")
    ranged = status(run_cli, events, "daily_totals", "--from", WEEK, "--to", "2026-04-05")
    assert ranged["daily_totals"]["counts"] == {"fresh": 0, "stale": 1, "missing": 1}
    assert {f"date={day}" for day in WEEK_DAYS[1:]} <= set(data_files(events, "daily_totals"))

    rebuilt = cli(run_cli, events, "materialize", "daily_totals", "-p", WEEK, "--json")
    assert built(rebuilt) == {("daily_totals", WEEK)}
    week = Counter[str]()
    for segments in (f"date={day}/region={region}" for day in WEEK_DAYS for region in REGIONS):
        week.update(views_by_page(table(events, "regional_views", segments)))
    assert views_by_page(table(events, "daily_totals", f"week={WEEK}")) == dict(week)
    after = status(run_cli, events, "daily_totals")["daily_totals"]
    assert after["ranges"]["fresh"] == [WEEK]
    assert after["outside"] == 6


# -- a self-dependent running total over 90 days, in process ---------------------------------

LEDGER = """\
import json
from pathlib import Path

import pyarrow as pa

import partita as pt

daily = pt.DailyPartitions(start="2026-06-01", timezone="America/New_York")
CORRECTIONS = Path(__file__).parent / "corrections.json"


def correction(name: str) -> int:
    if not CORRECTIONS.exists():
        return 0
    return json.loads(CORRECTIONS.read_text()).get(name, 0)


@pt.asset(partitions=daily)
def signups(ctx: pt.Context) -> pa.Table:
    count = ctx.partition.start.day * 10 + correction(f"signups {ctx.partition_key}")
    return pa.table({"count": [count]})


@pt.asset(partitions=daily, deps={"running": pt.Previous()})
def running(ctx: pt.Context, signups: pa.Table, running: pa.Table | None) -> pa.Table:
    before = 0 if running is None else running["total"][0].as_py()
    today = signups["count"][0].as_py() + correction(f"running {ctx.partition_key}")
    return pa.table({"total": [before + today]})
"""
LEDGER_NOW = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
LEDGER_DAYS = [(dt.date(2026, 6, 1) + dt.timedelta(days=i)).isoformat() for i in range(90)]


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[pt.Project]:
    """A daily source and its running total (``Previous()``), with a fixed clock."""
    module = f"ledger_{uuid.uuid4().hex}"  # a fresh module name: no stale import
    (tmp_path / "partita.toml").write_text(f'definitions = "{module}.py"\n')
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(LEDGER))
    with pt.Project(tmp_path, clock=lambda: LEDGER_NOW) as project:
        yield project


def correct(project: pt.Project, corrections: dict[str, int]) -> None:
    (project.root / "corrections.json").write_text(json.dumps(corrections))


def ledger_stale(project: pt.Project) -> dict[tuple[str, str], str]:
    reports = project.status(start=LEDGER_DAYS[0], end=LEDGER_DAYS[-1])
    assert all(r.counts["missing"] == 0 for r in reports)
    return {(r.asset, key): cause for r in reports for key, cause in r.stale}


def ripple(first: int, cause: str) -> dict[tuple[str, str], str]:
    """Day ``first`` (0-based) stale for ``cause``, and every later day stale behind it."""
    stale_days = {("running", LEDGER_DAYS[first]): cause}
    for previous, day in itertools.pairwise(LEDGER_DAYS[first:]):
        stale_days[("running", day)] = f"upstream stale: running {previous}"
    return stale_days


def assert_built_in_time_order(project: pt.Project, days: list[str]) -> None:
    steps = [step for step in project.run("last").steps if step.asset == "running"]
    assert [step.partition for step in steps] == days
    assert all(step.status == "succeeded" for step in steps)
    for earlier, later in itertools.pairwise(steps):
        assert earlier.finished_at <= later.started_at, (earlier.partition, later.partition)


def final_total(project: pt.Project) -> int:
    return project.read("running", LEDGER_DAYS[-1])["total"][0].as_py()


def test_running_total_builds_in_time_order_and_restales_from_the_changed_day(
    ledger: pt.Project,
) -> None:
    first, last = LEDGER_DAYS[0], LEDGER_DAYS[-1]
    result = ledger.backfill("running", first, last, options=pt.RunOptions(workers=4))
    assert result.ok and result.count("succeeded") == 2 * 90
    assert_built_in_time_order(ledger, LEDGER_DAYS)
    base = sum(dt.date.fromisoformat(day).day * 10 for day in LEDGER_DAYS)
    assert final_total(ledger) == base
    assert ledger_stale(ledger) == {}

    # New data upstream of day 10: days 10 to 90 are stale, days 1 to 9 fresh.
    correct(ledger, {f"signups {LEDGER_DAYS[9]}": 5})
    assert ledger.materialize("signups", LEDGER_DAYS[9], force=True).count("succeeded") == 1
    assert ledger_stale(ledger) == ripple(9, "upstream changed")

    # Rebuilding day 10 writes a new total: now day 11 reads changed data.
    assert ledger.materialize("running", LEDGER_DAYS[9]).count("succeeded") == 1
    assert ledger_stale(ledger) == ripple(10, "upstream changed")
    assert ledger.backfill("running", first, last, options=pt.RunOptions(workers=4)).ok
    assert_built_in_time_order(ledger, LEDGER_DAYS[10:])
    assert final_total(ledger) == base + 5
    assert ledger_stale(ledger) == {}

    # Forcing day 10 to produce different data: days 11 to 90 stale, day 10 fresh.
    correct(ledger, {f"signups {LEDGER_DAYS[9]}": 5, f"running {LEDGER_DAYS[9]}": 7})
    forced = ledger.materialize("running", LEDGER_DAYS[9], force=True)
    assert [(o.asset, o.partition, o.status) for o in forced.outcomes] == [
        ("running", LEDGER_DAYS[9], "succeeded")
    ]
    assert ledger_stale(ledger) == ripple(10, "upstream changed")
    assert ledger.backfill("running", first, last, options=pt.RunOptions(workers=4)).ok
    assert_built_in_time_order(ledger, LEDGER_DAYS[10:])
    assert final_total(ledger) == base + 5 + 7
