"""Which closed windows a schedule requests on a tick: fires, delay, timezones, catch-up."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import partita as pt
from partita.assets import UNPARTITIONED, AssetGraph
from partita.core.automation.decisions import Decision, TickContext
from partita.core.automation.schedules import ScheduleEvaluator
from partita.core.plan.status import StatusResolver

daily = pt.DailyPartitions(start="2026-04-01", timezone="UTC")


@pt.asset(partitions=daily)
def report() -> str:
    return "r"


@pt.asset
def summary() -> str:
    return "s"


@pt.asset(partitions=pt.HourlyPartitions(start="2026-04-01T00:00", timezone="UTC"))
def hits() -> str:
    return "h"


@pt.asset(partitions=pt.DailyPartitions(start="2026-03-25", timezone="Europe/Berlin"))
def berlin() -> str:
    return "b"


@pt.asset(partitions=pt.MultiPartitions(date=daily, region=pt.StaticPartitions(["eu", "us"])))
def regional() -> str:
    return "x"


@pt.asset(partitions=pt.StaticPartitions(["eu", "us"]))
def regions() -> str:
    return "y"


GRAPH = AssetGraph([report, summary, hits, berlin, regional, regions])


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def tick(
    evaluator: ScheduleEvaluator,
    now: dt.datetime,
    cursor: str | None = None,
    leased: frozenset[tuple[str, str]] = frozenset(),
) -> Decision:
    context = TickContext(
        now=now, graph=GRAPH, dynamic={}, resolver=StatusResolver(GRAPH, {}, now), leased=leased
    )
    return evaluator.evaluate(context, cursor)


def requested(decision: Decision, asset: str) -> list[str]:
    return [key for r in decision.requests if r.asset == asset for key in r.partitions]


def run_ticks(evaluator: ScheduleEvaluator, times: list[dt.datetime]) -> list[Decision]:
    cursor, decisions = None, []
    for now in times:
        decision = tick(evaluator, now, cursor)
        cursor = decision.cursor or cursor
        decisions.append(decision)
    return decisions


def test_a_fire_runs_after_its_delay_and_requests_the_windows_closed_by_it() -> None:
    nightly = ScheduleEvaluator(
        pt.Schedule("nightly", assets=["report"], delay="2h", catchup=False)
    )
    before = tick(nightly, at("2026-04-10T01:59:59"))
    assert requested(before, "report") == ["2026-04-08"]  # the 9th's fire has not run yet
    exactly = tick(nightly, at("2026-04-10T02:00:00"))  # fire + delay <= now, inclusive
    assert requested(exactly, "report") == ["2026-04-09"]
    assert nightly.latest_fire(at("2026-04-10T02:00:00")) == at("2026-04-10T00:00:00")


def test_catchup_requests_from_the_first_partition_oldest_first_bounded_per_tick() -> None:
    nightly = ScheduleEvaluator(pt.Schedule("nightly", assets=["report"], max_per_tick=4))
    first, second, third = run_ticks(nightly, [at("2026-04-10T00:30")] * 3)
    assert requested(first, "report") == ["2026-04-01", "2026-04-02", "2026-04-03", "2026-04-04"]
    assert requested(second, "report") == ["2026-04-05", "2026-04-06", "2026-04-07", "2026-04-08"]
    assert requested(third, "report") == ["2026-04-09"]
    assert (
        "9 partitions of report due (2026-04-01..2026-04-09), 4 requested, 5 left"
        in (first.notes[0])
    )
    assert "max_per_tick=4" in first.notes[0]
    fourth = tick(nightly, at("2026-04-10T00:30"), third.cursor)
    assert fourth.requests == () and fourth.cursor is None
    assert "nothing due" in fourth.notes[0]


def test_catchup_false_after_downtime_requests_only_the_latest_window() -> None:
    nightly = ScheduleEvaluator(pt.Schedule("nightly", assets=["report"], catchup=False))
    first = tick(nightly, at("2026-04-05T00:10"))
    assert requested(first, "report") == ["2026-04-04"]
    after_outage = tick(nightly, at("2026-04-09T00:10"), first.cursor)
    assert requested(after_outage, "report") == ["2026-04-08"]
    assert "3 partitions missed while the daemon was down skipped" in after_outage.notes[0]
    again = tick(nightly, at("2026-04-09T05:00"), after_outage.cursor)
    assert again.requests == ()


def test_hourly_schedule_on_hourly_partitions() -> None:
    hourly = ScheduleEvaluator(
        pt.Schedule("hourly", assets=["hits"], cron="@hourly", delay="5m", catchup=False)
    )
    decisions = run_ticks(
        hourly, [at("2026-04-02T10:04"), at("2026-04-02T10:05"), at("2026-04-02T13:30")]
    )
    assert [requested(d, "hits") for d in decisions] == [
        ["2026-04-02T08:00"],
        ["2026-04-02T09:00"],
        ["2026-04-02T12:00"],
    ]
    catching_up = ScheduleEvaluator(
        pt.Schedule("hourly", assets=["hits"], cron="@hourly", max_per_tick=100)
    )
    keys = requested(tick(catching_up, at("2026-04-02T00:00")), "hits")
    assert len(keys) == 24 and keys[0] == "2026-04-01T00:00" and keys[-1] == "2026-04-01T23:00"


def test_timezone_and_a_dst_day_in_berlin() -> None:
    # 2026-03-29 is 23 hours long in Berlin; a fire at local midnight closes the day.
    local = ScheduleEvaluator(
        pt.Schedule(
            "local", assets=["berlin"], cron="0 0 * * *", timezone="Europe/Berlin", catchup=False
        )
    )
    # 2026-03-30 00:00 in Berlin is 2026-03-29 22:00 UTC (CEST, +02:00).
    before = tick(local, at("2026-03-29T21:59:59"))
    assert requested(before, "berlin") == ["2026-03-28"]
    after = tick(local, at("2026-03-29T22:00:00"))
    assert requested(after, "berlin") == ["2026-03-29"]
    assert "fire 2026-03-30 00:00 Europe/Berlin" in after.notes[0]
    every_day = ScheduleEvaluator(
        pt.Schedule("every", assets=["berlin"], cron="0 0 * * *", timezone="Europe/Berlin")
    )
    days = requested(tick(every_day, at("2026-04-01T12:00")), "berlin")
    assert days == [f"2026-03-{d}" for d in range(25, 32)]


def test_unpartitioned_asset_is_requested_once_per_new_fire() -> None:
    nightly = ScheduleEvaluator(pt.Schedule("nightly", assets=["summary"]))
    decisions = run_ticks(
        nightly, [at("2026-04-10T00:01"), at("2026-04-10T12:00"), at("2026-04-11T00:00")]
    )
    assert [requested(d, "summary") for d in decisions] == [[UNPARTITIONED], [], [UNPARTITIONED]]
    assert all(not r.force for d in decisions for r in d.requests)


def test_static_and_multi_partitions() -> None:
    nightly = ScheduleEvaluator(
        pt.Schedule("nightly", assets=["regions", "regional"], max_per_tick=2)
    )
    first = tick(nightly, at("2026-04-04T01:00"))
    assert requested(first, "regions") == ["eu", "us"]
    assert requested(first, "regional") == [
        "2026-04-01|eu",
        "2026-04-01|us",
        "2026-04-02|eu",
        "2026-04-02|us",
    ]
    second = tick(nightly, at("2026-04-04T01:00"), first.cursor)
    assert requested(second, "regions") == []
    assert requested(second, "regional") == ["2026-04-03|eu", "2026-04-03|us"]


def test_a_leased_partition_is_never_requested_and_waits_for_the_next_tick() -> None:
    nightly = ScheduleEvaluator(pt.Schedule("nightly", assets=["report"]))
    busy = frozenset({("report", "2026-04-03")})
    first = tick(nightly, at("2026-04-05T00:00"), leased=busy)
    assert requested(first, "report") == ["2026-04-01", "2026-04-02"]
    assert "2026-04-03 is being built by another run" in first.notes[0]
    second = tick(nightly, at("2026-04-05T00:00"), first.cursor)
    assert requested(second, "report") == ["2026-04-03", "2026-04-04"]


def test_the_cursor_is_json_with_the_fire_and_per_asset_marks() -> None:
    nightly = ScheduleEvaluator(pt.Schedule("nightly", assets=["report", "summary"]))
    decision = tick(nightly, at("2026-04-03T00:00"))
    cursor = json.loads(decision.cursor or "")
    assert cursor["fire"] == at("2026-04-03T00:00").timestamp()
    assert cursor["assets"]["report"] == at("2026-04-03T00:00").timestamp()
    assert nightly.source == "schedule:nightly"


@pytest.mark.parametrize("broken", ["not json", "[1, 2]", ""])
def test_an_unreadable_cursor_starts_over(broken: str) -> None:
    nightly = ScheduleEvaluator(pt.Schedule("nightly", assets=["report"]))
    assert requested(tick(nightly, at("2026-04-03T00:00"), broken), "report") == [
        "2026-04-01",
        "2026-04-02",
    ]


def test_catchup_false_on_a_daily_schedule_of_hourly_partitions_builds_the_last_day() -> None:
    daily_hits = ScheduleEvaluator(
        pt.Schedule("daily", assets=["hits"], catchup=False, max_per_tick=48)
    )
    first = tick(daily_hits, at("2026-04-05T01:00"))
    keys = requested(first, "hits")
    assert keys[0] == "2026-04-04T00:00" and keys[-1] == "2026-04-04T23:00" and len(keys) == 24
    after_outage = tick(daily_hits, at("2026-04-08T01:00"), first.cursor)
    keys = requested(after_outage, "hits")
    assert keys[0] == "2026-04-07T00:00" and len(keys) == 24
    assert "48 partitions missed while the daemon was down skipped" in after_outage.notes[0]
