"""Status and planning over every kind of partitions: rollups, dimensions, self-dependency."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

import partita as pt
from partita.assets import AssetGraph
from partita.core.plan.planner import Target, plan, step_dependencies
from partita.core.plan.status import CauseKind, Freshness, StatusResolver
from tests.core.conftest import RecordBuild, States, builder

TZ = "America/New_York"
NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
HOURLY = pt.HourlyPartitions(start="2026-10-26", timezone=TZ)
DAILY = pt.DailyPartitions(start="2026-10-26", timezone=TZ)
WEEKLY = pt.WeeklyPartitions(start="2026-10-26", timezone=TZ)
REGIONS = pt.StaticPartitions(["eu", "us"], dimension="region")


def source(ctx: pt.Context) -> int:
    return 1


def rollup(up: list) -> int:
    return len(up)


def total(up: int, previous: int | None) -> int:
    return up + (previous or 0)


def node(ctx: pt.Context) -> None:
    """Used for assets whose dependencies are declared with ``deps=``."""


def make(key: str, partitions: pt.PartitionsDefinition | None, deps: dict | None = None):
    return pt.asset(key=key, partitions=partitions, deps=deps or {}, code_version="1")(node)


def statuses(
    graph: AssetGraph, states: States, asset: str, now: dt.datetime = NOW
) -> dict[str, str]:
    resolver = StatusResolver(graph, states, now)
    space = resolver.space(asset)
    assert space is not None
    return {key: resolver.status(asset, key).status for key in space}


def not_fresh(graph: AssetGraph, states: States) -> dict[str, list[str]]:
    found = {}
    for asset in graph.order:
        keys = [k for k, s in statuses(graph, states, asset).items() if s != Freshness.FRESH]
        if keys:
            found[asset] = keys
    return found


def build_all(record_build: RecordBuild, graph: AssetGraph, states: States) -> States:
    build = builder(record_build, graph, NOW)
    resolver = StatusResolver(graph, {}, NOW)
    for asset in graph.order:
        space = resolver.space(asset)
        assert space is not None
        states = build(states, *[(asset, key) for key in space])
    return states


# -- hourly -> daily -> weekly ------------------------------------------------------------------

ROLLUPS = AssetGraph(
    [
        make("hours", HOURLY),
        make("days", DAILY, {"hours": None}),
        make("weeks", WEEKLY, {"days": None}),
    ]
)


def test_the_default_mapping_across_granularities_is_containment() -> None:
    assert [type(e.mapping).__name__ for e in ROLLUPS.upstream("days")] == ["Containment"]
    resolver = StatusResolver(ROLLUPS, {}, NOW)
    (edge,) = ROLLUPS.upstream("days")
    assert len(resolver.upstream_keys(edge, "2026-11-01")) == 25  # DST ends that night
    (edge,) = ROLLUPS.upstream("weeks")
    assert resolver.upstream_keys(edge, "2026-11-02") == tuple(
        f"2026-11-{d:02d}" for d in range(2, 9)
    )


def test_rebuilding_one_hour_makes_exactly_its_day_and_week_stale(
    record_build: RecordBuild,
) -> None:
    states = build_all(record_build, ROLLUPS, {})
    assert not_fresh(ROLLUPS, states) == {}
    rebuilt = builder(record_build, ROLLUPS, NOW)(
        states, ("hours", "2026-11-04T13:00"), data="changed"
    )
    assert not_fresh(ROLLUPS, rebuilt) == {"days": ["2026-11-04"], "weeks": ["2026-11-02"]}
    resolver = StatusResolver(ROLLUPS, rebuilt, NOW)
    assert resolver.status("days", "2026-11-04").cause.kind == CauseKind.UPSTREAM_CHANGED
    assert resolver.status("weeks", "2026-11-02").cause.kind == CauseKind.UPSTREAM_STALE


def test_a_new_hour_is_missing_and_its_day_not_yet_due() -> None:
    resolver = StatusResolver(ROLLUPS, {}, NOW)
    assert resolver.space("hours").key_at(len(resolver.space("hours")) - 1) == "2026-11-20T06:00"
    assert resolver.space("days").key_at(len(resolver.space("days")) - 1) == "2026-11-19"


# -- date x region ------------------------------------------------------------------------------

REGIONAL = AssetGraph(
    [
        make("events", HOURLY),
        make("regional", pt.MultiPartitions(date=DAILY, region=REGIONS), {"events": None}),
        make("totals", DAILY, {"regional": None}),
    ]
)


def test_date_by_region_reads_its_day_and_a_daily_total_sums_the_regions() -> None:
    resolver = StatusResolver(REGIONAL, {}, NOW)
    (edge,) = REGIONAL.upstream("totals")
    assert resolver.upstream_keys(edge, "2026-11-04") == ("2026-11-04|eu", "2026-11-04|us")
    (edge,) = REGIONAL.upstream("regional")
    assert len(resolver.upstream_keys(edge, "2026-11-04|eu")) == 24


def test_rebuilding_one_region_makes_only_its_days_total_stale(record_build: RecordBuild) -> None:
    states = build_all(record_build, REGIONAL, {})
    rebuilt = builder(record_build, REGIONAL, NOW)(states, ("regional", "2026-11-04|us"), data="x")
    assert not_fresh(REGIONAL, rebuilt) == {"totals": ["2026-11-04"]}


# -- a self-dependent cumulative asset ----------------------------------------------------------

DAYS = pt.DailyPartitions(start="2026-08-01", timezone=TZ)
CUMULATIVE = AssetGraph(
    [
        make("sales", DAYS),
        make("running", DAYS, {"sales": None, "running": pt.Previous()}),
    ]
)
NINETY = [(dt.date(2026, 8, 1) + dt.timedelta(days=i)).isoformat() for i in range(90)]
AFTER_NINETY = dt.datetime(2026, 10, 30, 12, tzinfo=dt.UTC)  # the 90 days are due, no more


def test_a_cumulative_asset_is_planned_in_time_order_each_step_after_the_previous() -> None:
    planned = plan(CUMULATIVE, {}, [Target(asset="running", partitions=tuple(NINETY))], NOW)
    running = [s.partition for s in planned.steps if s.asset == "running"]
    assert running == NINETY
    waits = step_dependencies(CUMULATIVE, planned.steps, NOW)
    index = {(s.asset, s.partition): i for i, s in enumerate(planned.steps)}
    first = index[("running", NINETY[0])]
    assert waits[first] == [index[("sales", NINETY[0])]]  # the first day reads no previous day
    for before, day in itertools.pairwise(NINETY):
        assert index[("running", before)] in waits[index[("running", day)]]


def test_a_changed_day_makes_that_day_and_every_later_day_stale(record_build: RecordBuild) -> None:
    build = builder(record_build, CUMULATIVE, AFTER_NINETY)
    states = build({}, *[("sales", d) for d in NINETY], *[("running", d) for d in NINETY])
    assert set(statuses(CUMULATIVE, states, "running", AFTER_NINETY).values()) == {Freshness.FRESH}
    changed = build(states, ("sales", NINETY[9]), data="changed")
    found = statuses(CUMULATIVE, changed, "running", AFTER_NINETY)
    assert [d for d in NINETY if found[d] == Freshness.STALE] == NINETY[9:]
    assert [d for d in NINETY if found[d] == Freshness.FRESH] == NINETY[:9]


def test_a_rebuilt_cumulative_day_makes_only_later_days_stale(record_build: RecordBuild) -> None:
    build = builder(record_build, CUMULATIVE, AFTER_NINETY)
    states = build({}, *[("sales", d) for d in NINETY], *[("running", d) for d in NINETY])
    rebuilt = build(states, ("running", NINETY[9]), data="different")
    found = statuses(CUMULATIVE, rebuilt, "running", AFTER_NINETY)
    assert [d for d in NINETY if found[d] == Freshness.STALE] == NINETY[10:]


def test_status_of_a_long_self_dependent_chain_does_not_recurse_deeply(
    record_build: RecordBuild,
) -> None:
    hours = pt.HourlyPartitions(start="2025-06-01", timezone=TZ)
    graph = AssetGraph([make("counter", hours, {"counter": pt.Previous()})])
    resolver = StatusResolver(graph, {}, NOW)
    last = resolver.space("counter").key_at(len(resolver.space("counter")) - 1)
    assert len(resolver.space("counter")) > 12_000
    assert resolver.status("counter", last).status == Freshness.MISSING


# -- changing a definition ----------------------------------------------------------------------


@pytest.mark.parametrize("start", ["2026-10-20", "2026-11-01"])
def test_moving_the_start_keeps_built_partitions(record_build: RecordBuild, start: str) -> None:
    states = build_all(record_build, ROLLUPS, {})
    moved = AssetGraph(
        [
            make("hours", HOURLY),
            make("days", pt.DailyPartitions(start=start, timezone=TZ), {"hours": None}),
            make("weeks", WEEKLY, {"days": None}),
        ]
    )
    found = statuses(moved, states, "days")
    built = set(states["days"])
    assert {d for d, s in found.items() if s == Freshness.FRESH} == built & set(found)
    assert {d for d, s in found.items() if s == Freshness.MISSING} == set(found) - built
    if start < "2026-10-26":  # moved earlier: what reads the built days sees the same inputs
        assert statuses(moved, states, "weeks") == statuses(ROLLUPS, states, "weeks")
