"""Eager automation: which partitions of an eager asset a tick rebuilds, and which it leaves.

Daemon-level tests run real projects (SQLite, local data) with a fixed clock and call
``Daemon.tick()``; the evaluator's finer rules are tested on plain catalog states.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest

import partita as pt
from partita.assets import UNPARTITIONED, AssetGraph
from partita.core.automation.daemon import Daemon, TickResult
from partita.core.automation.decisions import Decision, TickContext
from partita.core.automation.eager import EagerEvaluator, eager_evaluators, window_size
from partita.core.plan.status import StatusResolver
from partita.storage import StepStatus, TickStatus
from tests.core.conftest import RecordBuild, States, builder
from tests.projects import ProjectFactory

HEADER = """\
from pathlib import Path

import partita as pt

HERE = Path(__file__).parent
daily = pt.DailyPartitions(start="2026-04-01", timezone="UTC")
hourly = pt.HourlyPartitions(start="2026-04-01T00:00", timezone="UTC")


def setting(name, default=""):
    path = HERE / name
    return path.read_text() if path.exists() else default
"""


@pytest.fixture
def definitions_header() -> str:
    return HEADER


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def tick(project: pt.Project) -> TickResult:
    daemon = Daemon(project, evaluators=eager_evaluators(project))
    return daemon.tick()


def built(result: TickResult) -> list[tuple[str, str]]:
    """The partitions the tick's runs built."""
    return [
        (o.asset, o.partition)
        for run in result.runs
        for o in run.outcomes
        if o.status == StepStatus.SUCCEEDED
    ]


def notes(result: TickResult, source: str) -> tuple[str, ...]:
    (decision,) = [d for d in result.decisions if d.source == source]
    return decision.notes


# -- the daemon: upstream rebuilt -> exactly the mapped downstream partitions ----------

WINDOWED = """
@pt.asset(partitions=daily)
def raw(ctx: pt.Context) -> str:
    return ctx.partition_key + setting("raw.txt", "v1")


@pt.asset(partitions=daily, deps={"raw": pt.Window(size=3)}, automation=pt.Eager(window=30))
def rolling(raw: list) -> str:
    return "+".join(raw)
"""


def test_rebuilt_upstream_day_rebuilds_exactly_the_three_days_that_read_it(
    make_project: ProjectFactory,
) -> None:
    project = make_project(WINDOWED, clock=at("2026-04-20T01:00"))
    assert project.backfill("rolling", "2026-04-01", "2026-04-19").ok
    assert built(tick(project)) == []  # everything fresh: nothing to do

    (project.root / "raw.txt").write_text("v2")
    assert project.materialize("raw", "2026-04-10", force=True).ok
    result = tick(project)

    assert built(result) == [
        ("rolling", "2026-04-10"),
        ("rolling", "2026-04-11"),
        ("rolling", "2026-04-12"),
    ]
    assert result.status == TickStatus.SUCCEEDED
    assert notes(result, "eager:rolling")[0] == (
        "3 stale in the last 19 partitions (2026-04-10..2026-04-12), 3 requested"
    )
    after = tick(project)
    assert built(after) == [] and after.requested == 0
    assert notes(after, "eager:rolling")[0] == "the last 19 partitions are fresh"


HOURLY = """
@pt.asset(partitions=hourly)
def hits(ctx: pt.Context) -> str:
    return ctx.partition_key + setting("hits.txt", "v1")


@pt.asset(partitions=daily, automation=pt.Eager(window=7))
def per_day(hits: list) -> str:
    return str(len(hits))
"""


def test_rebuilt_upstream_hour_rebuilds_exactly_its_day(make_project: ProjectFactory) -> None:
    project = make_project(HOURLY, clock=at("2026-04-04T00:30"))
    assert project.backfill("per_day", "2026-04-01", "2026-04-03").ok
    (project.root / "hits.txt").write_text("v2")
    assert project.materialize("hits", "2026-04-02T05:00", force=True).ok

    result = tick(project)
    assert built(result) == [("per_day", "2026-04-02")]
    assert built(tick(project)) == []


# -- the daemon: automation switched on over a year of stale history -------------------

YEAR = """
daily = pt.DailyPartitions(start="2025-01-01", timezone="UTC")  # a year of history


@pt.asset(partitions=daily, code_version="{version}")
def source(ctx: pt.Context) -> str:
    return ctx.partition_key + "{version}"


@pt.asset(partitions=daily{automation})
def derived(source: str) -> str:
    return source.upper()
"""


def test_eager_over_a_stale_year_rebuilds_only_the_window(make_project: ProjectFactory) -> None:
    now = at("2026-01-01T06:00")
    start = "2025-01-01"
    project = make_project(YEAR.format(version="1", automation=""), clock=now)
    assert len(project.backfill("derived", start, "2025-12-31").outcomes) == 2 * 365
    # An upstream code change, rebuilt: every derived day is now stale (upstream changed).
    project = make_project(YEAR.format(version="2", automation=""), clock=now, root=project.root)
    assert project.backfill("source", start, "2025-12-31").ok
    (derived,) = project.status(["derived"])
    assert derived.counts.get("stale") == 365

    project = make_project(
        YEAR.format(version="2", automation=", automation=pt.Eager(window=7)"),
        clock=now,
        root=project.root,
    )
    result = tick(project)

    assert built(result) == [("derived", f"2025-12-{day}") for day in range(25, 32)]
    assert notes(result, "eager:derived")[0] == (
        "7 stale in the last 7 partitions (2025-12-25..2025-12-31), 7 requested; "
        "358 older stale partitions outside the window left alone"
    )
    after = tick(project)
    assert built(after) == [] and after.requested == 0
    assert notes(after, "eager:derived")[0] == (
        "the last 7 partitions are fresh; 358 older stale partitions outside the window left alone"
    )


# -- the daemon: failures are not retried while nothing changed ------------------------

FAILING = """
@pt.asset(partitions=daily)
def raw(ctx: pt.Context) -> str:
    return ctx.partition_key + setting("raw.txt", "v1")


@pt.asset(partitions=daily, automation=pt.Eager(window=30), code_version="{version}")
def parsed(ctx: pt.Context, raw: str) -> str:
    if ctx.partition_key in setting("fail.txt").split():
        raise ValueError("cannot parse " + raw)
    return raw.upper()
"""


def test_a_failed_partition_waits_for_its_inputs_or_code_to_change(
    make_project: ProjectFactory,
) -> None:
    now = at("2026-04-04T00:30")
    project = make_project(FAILING.format(version="1"), clock=now)
    assert project.backfill("raw", "2026-04-01", "2026-04-03").ok
    (project.root / "fail.txt").write_text("2026-04-02")

    first = tick(project)
    assert sorted(built(first)) == [("parsed", "2026-04-01"), ("parsed", "2026-04-03")]
    assert first.decisions[0].requests[0].partitions == ("2026-04-01", "2026-04-02", "2026-04-03")

    for _ in range(2):  # not requested again, tick after tick
        again = tick(project)
        assert again.requested == 0 and again.runs == ()
        assert notes(again, "eager:parsed") == (
            "1 missing in the last 3 partitions (2026-04-02), 0 requested",
            "1 failed with unchanged inputs, not retried until an upstream or the code "
            "changes (2026-04-02)",
        )

    # Its upstream changes: it is requested again (and fails again: still not fixed).
    (project.root / "raw.txt").write_text("v2")
    assert project.materialize("raw", "2026-04-02", force=True).ok
    retried = tick(project)
    assert [r.partitions for d in retried.decisions for r in d.requests] == [("2026-04-02",)]
    assert tick(project).requested == 0

    # The code is fixed (a new code version): requested again, and built.
    (project.root / "fail.txt").write_text("")
    project = make_project(FAILING.format(version="2"), clock=now, root=project.root)
    fixed = tick(project)
    assert ("parsed", "2026-04-02") in built(fixed)


# -- the evaluator on plain states -------------------------------------------------------

daily = pt.DailyPartitions(start="2026-04-01", timezone="UTC")
regions = pt.StaticPartitions(["eu", "us"], dimension="region")
NOW = at("2026-04-06T00:30")  # 2026-04-01..2026-04-05 are due
DAYS = [f"2026-04-0{day}" for day in range(1, 6)]


@pt.asset(partitions=daily)
def up() -> str:
    return "u"


@pt.asset(partitions=daily, automation=pt.Eager(window=3))
def down(up: str) -> str:
    return up


@pt.asset(partitions=daily, deps={"chain": pt.Previous()}, automation=pt.Eager(window=3))
def chain(up: str, chain: str | None) -> str:
    return up


@pt.asset(partitions=pt.MultiPartitions(date=daily, region=regions), automation=pt.Eager(window=2))
def regional(up: str) -> str:
    return up


@pt.asset(automation=pt.Eager())
def summary(up: list) -> str:
    return "s"


GRAPH = AssetGraph([up, down, chain, regional, summary])


@pytest.fixture
def build(record_build: RecordBuild) -> Callable[..., States]:
    return builder(record_build, GRAPH, NOW)


def evaluate(
    asset: str,
    states: States,
    cursor: str | None = None,
    leased: frozenset[tuple[str, str]] = frozenset(),
) -> Decision:
    context = TickContext(
        now=NOW,
        graph=GRAPH,
        dynamic={},
        resolver=StatusResolver(GRAPH, states, NOW),
        leased=leased,
    )
    return EagerEvaluator(asset).evaluate(context, cursor)


def requested(decision: Decision) -> list[str]:
    return [key for request in decision.requests for key in request.partitions]


def test_missing_upstream_is_waited_for_not_requested(build: Callable[..., States]) -> None:
    states = build({}, *(("up", day) for day in DAYS[:4]))  # the last day's upstream is missing
    decision = evaluate("down", states)
    assert requested(decision) == ["2026-04-03", "2026-04-04"]
    assert all(not request.force for request in decision.requests)
    assert decision.notes == (
        "3 missing in the last 3 partitions (2026-04-03..2026-04-05), 2 requested; "
        "2 older missing partitions outside the window left alone",
        "1 waiting for upstream (2026-04-05: up 2026-04-05 is missing)",
    )


def test_stale_or_failed_upstream_is_waited_for(build: Callable[..., States]) -> None:
    states = build({}, *(("up", day) for day in DAYS), *(("down", day) for day in DAYS))
    states = build(states, ("up", "2026-04-05"), data="d2")  # down 04-05 is stale now
    states = build(states, ("up", "2026-04-05"), data="d2", code="old")  # ... and up stale
    decision = evaluate("down", states)
    assert requested(decision) == []
    assert "up 2026-04-05 is stale" in decision.notes[1]

    states = build(states, ("up", "2026-04-05"), data="d3", failure="boom")
    decision = evaluate("down", states)
    assert requested(decision) == []
    assert "up 2026-04-05 failed" in decision.notes[1]


def test_partitions_in_progress_and_their_readers_are_left_for_later(
    build: Callable[..., States],
) -> None:
    states = build({}, *(("up", day) for day in DAYS))
    decision = evaluate(
        "down",
        states,
        leased=frozenset({("down", "2026-04-04"), ("up", "2026-04-05")}),
    )
    assert requested(decision) == ["2026-04-03"]
    assert "1 in progress (2026-04-04)" in decision.notes
    assert "up 2026-04-05 is being built" in decision.notes[1]


def test_a_self_dependent_window_is_requested_in_one_tick(build: Callable[..., States]) -> None:
    states = build(
        {}, *(("up", day) for day in DAYS), ("chain", "2026-04-01"), ("chain", "2026-04-02")
    )
    decision = evaluate("chain", states)
    assert requested(decision) == ["2026-04-03", "2026-04-04", "2026-04-05"]


def test_multi_partitions_window_the_time_dimension_with_every_region(
    build: Callable[..., States],
) -> None:
    states = build({}, *(("up", day) for day in DAYS))
    decision = evaluate("regional", states)
    assert requested(decision) == [
        "2026-04-04|eu",
        "2026-04-04|us",
        "2026-04-05|eu",
        "2026-04-05|us",
    ]
    assert decision.notes[0].startswith("4 missing in the last 2 date keys (")
    assert "6 older missing partitions outside the window left alone" in decision.notes[0]


def test_an_unpartitioned_eager_asset(build: Callable[..., States]) -> None:
    assert requested(evaluate("summary", build({}, ("up", DAYS[0])))) == []  # 4 days missing
    states = build({}, *(("up", day) for day in DAYS))
    decision = evaluate("summary", states)
    assert requested(decision) == [UNPARTITIONED]
    assert decision.notes == ("missing, requested",)
    assert evaluate("summary", build(states, ("summary", UNPARTITIONED))).notes == ("fresh",)


def test_the_cursor_keeps_only_unfresh_partitions_of_the_window(
    build: Callable[..., States],
) -> None:
    states = build({}, *(("up", day) for day in DAYS))
    first = evaluate("down", states)
    assert first.cursor is not None and sorted(read_cursor(first.cursor)) == DAYS[2:]
    states = build(states, *(("down", day) for day in DAYS[2:]))
    cleared = evaluate("down", states, first.cursor)
    assert cleared.cursor is not None and read_cursor(cleared.cursor) == {}
    assert evaluate("down", states, cleared.cursor).cursor is None  # unchanged: not rewritten
    assert requested(evaluate("down", states, "not json")) == []


def read_cursor(cursor: str) -> dict[str, str]:
    return json.loads(cursor)["requested"]


def test_window_size() -> None:
    assert window_size(None, 7) == 1
    assert window_size(daily.space(NOW), 3) == 3
    assert window_size(daily.space(NOW), 30) == 5
    assert window_size(pt.MultiPartitions(date=daily, region=regions).space(NOW), 2) == 4


def test_eager_evaluators_one_per_eager_asset(make_project: ProjectFactory) -> None:
    project = make_project(WINDOWED, clock=at("2026-04-20T01:00"))
    assert [e.source for e in eager_evaluators(project)] == ["eager:rolling"]
