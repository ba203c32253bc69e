"""The daemon with a simulated clock: ticks, catch-up after an outage, leadership, stops."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from partita.core.automation.daemon import Daemon
from partita.core.automation.decisions import Decision, Request, TickContext
from partita.storage.catalog import ticks as tick_log
from tests.conftest import catalog_query
from tests.projects import ProjectFactory

ASSETS = """
import partita as pt

daily = pt.DailyPartitions(start="2026-04-01", timezone="UTC")


@pt.asset(partitions=daily)
def raw(ctx: pt.Context) -> dict:
    return {"day": ctx.partition_key}


@pt.asset(partitions=daily)
def report(ctx: pt.Context, raw: dict) -> dict:
    return {"report": raw["day"]}


nightly = pt.Schedule("nightly", assets=["report"], delay="2h", max_per_tick=MAX_PER_TICK)
"""


def assets(max_per_tick: int = 2) -> str:
    """The definitions: ``raw`` and ``report``, and a schedule of ``max_per_tick``."""
    return ASSETS.replace("MAX_PER_TICK", str(max_per_tick))


LEASE = "lease_seconds = 3\n"


class SimulatedTime:
    """A clock that the daemon's sleep moves forward; it stops the daemon at ``end``,
    and skips ``outage`` (no ticks) once the clock reaches its start."""

    def __init__(
        self,
        start: dt.datetime,
        end: dt.datetime,
        outage: tuple[dt.datetime, dt.datetime] | None = None,
    ) -> None:
        self.now = start
        self.end = end
        self.outage = outage
        self.stop = threading.Event()

    def clock(self) -> dt.datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)
        if self.outage and self.outage[0] <= self.now < self.outage[1]:
            self.now = self.outage[1]
        if self.now > self.end:
            self.stop.set()


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def succeeded_steps(root: Path) -> list[tuple[str, str, str]]:
    return catalog_query(
        root,
        "SELECT s.run_id, s.asset, s.partition FROM steps s JOIN runs r ON r.id = s.run_id "
        "WHERE s.status = 'succeeded' ORDER BY r.started_at, s.id",
    )


def test_ten_days_with_a_three_day_outage_build_every_day_once_oldest_first(
    make_project: ProjectFactory,
) -> None:
    sim = SimulatedTime(
        start=utc("2026-04-01T00:00"),
        end=utc("2026-04-11T06:00"),
        outage=(utc("2026-04-05T12:00"), utc("2026-04-08T06:00")),
    )
    lines: list[str] = []
    with make_project(assets(max_per_tick=2), LEASE, clock=sim.clock) as project:
        root = project.root
        daemon = Daemon(project, sleep=sim.sleep, interval=6 * 3600, echo=lines.append)
        daemon.run(stop=sim.stop)
        ticks = list(reversed(tick_log.ticks(project.catalog, limit=1000)))

    days = [f"2026-04-{d:02d}" for d in range(1, 11)]
    steps = succeeded_steps(root)
    for asset in ("raw", "report"):
        built = Counter(partition for _, a, partition in steps if a == asset)
        assert built == Counter(days), f"{asset}: every day exactly once"
    report_order = [partition for _, asset, partition in steps if asset == "report"]
    assert report_order == days, "caught up oldest first"

    clocks = [dt.datetime.fromtimestamp(t.clock, dt.UTC) for t in ticks]
    assert not any(utc("2026-04-05T12:00") <= c < utc("2026-04-08T06:00") for c in clocks)
    assert all(t.status == "succeeded" and t.daemon == daemon.id for t in ticks)
    for t in ticks:
        assert t.requested("schedule:nightly") <= 2, "never more than max_per_tick per tick"
    after = [t for t in ticks if t.clock >= utc("2026-04-08T06:00").timestamp()]
    first_two = [r["partitions"] for d in after[0].decisions for r in d["requests"]]
    second = [r["partitions"] for d in after[1].decisions for r in d["requests"]]
    assert first_two == [["2026-04-05", "2026-04-06"]]
    assert second == [["2026-04-07"]]
    notes = after[0].decisions[0]["notes"][0]
    assert "3 partitions of report due (2026-04-05..2026-04-07), 2 requested, 1 left" in notes
    assert len(lines) == len(ticks) and lines[0].startswith(f"tick {ticks[0].tick_id} at ")
    assert all(len(t.run_ids) <= 1 for t in ticks)
    assert sum(len(t.run_ids) for t in ticks) == 9  # one run per tick that requested


class Exploding:
    source = "sensor:broken"

    def evaluate(self, tick: TickContext, cursor: str | None) -> Decision:
        raise RuntimeError("the bucket is gone")


class Asking:
    """Asks for fixed partitions every tick (forced or not) and counts its cursors."""

    def __init__(self, source: str, request: Request) -> None:
        self.source = source
        self.request = request
        self.cursors: list[str | None] = []

    def evaluate(self, tick: TickContext, cursor: str | None) -> Decision:
        self.cursors.append(cursor)
        return Decision(self.source, (self.request,), cursor=str(len(self.cursors)))


def test_a_source_that_raises_fails_the_tick_but_not_the_others(
    make_project: ProjectFactory,
) -> None:
    asking = Asking("eager:report", Request("report", ("2026-04-02",)))
    now = utc("2026-04-05T00:00")
    with make_project(assets(), LEASE, clock=now) as project:
        daemon = Daemon(project, evaluators=[Exploding(), asking])
        assert daemon.lead()
        first = daemon.tick()
        second = daemon.tick()
        daemon.step_down()
        stored = tick_log.ticks(project.catalog)
    assert first.status == "failed" and "sensor:broken" in first.errors
    assert [r.status for r in first.runs] == ["succeeded"]
    assert second.runs == ()  # fresh now: planned empty, no run
    assert asking.cursors == [None, "1"]
    newest = stored[0]
    assert newest.status == "failed"
    assert "RuntimeError: the bucket is gone" in (newest.error or "")
    broken = next(d for d in newest.decisions if d["source"] == "sensor:broken")
    assert broken["error"] == "RuntimeError: the bucket is gone"
    assert stored[1].run_ids == (first.runs[0].run_id,)


def test_forced_requests_run_in_their_own_run(make_project: ProjectFactory) -> None:
    now = utc("2026-04-05T00:00")
    plain = Asking("eager:report", Request("report", ("2026-04-02",)))
    forced = Asking("sensor:drop", Request("raw", ("2026-04-02",), force=True))
    with make_project(assets(), LEASE, clock=now) as project:
        daemon = Daemon(project, evaluators=[plain, forced])
        assert daemon.lead()
        result = daemon.tick()
        daemon.step_down()
        commands = catalog_query(project.root, "SELECT command, args FROM runs ORDER BY started_at")
    assert [r.status for r in result.runs] == ["succeeded", "succeeded"]
    assert [json.loads(args)["force"] for _, args in commands] == [False, True]
    assert {command for command, _ in commands} == {"daemon"}
    # raw 2026-04-02 was built fresh by the first run: forced, it is built again.
    assert [(o.asset, o.status) for o in result.runs[1].outcomes] == [("raw", "succeeded")]


def test_a_second_daemon_is_a_standby_until_the_lease_is_free(
    make_project: ProjectFactory,
) -> None:
    now = utc("2026-04-05T00:00")
    with (
        make_project(assets(), LEASE, clock=now) as one,
        make_project(root=one.root, clock=now) as two,
    ):
        active = Daemon(one, evaluators=[])
        said: list[str] = []
        standby = Daemon(two, evaluators=[], echo=said.append)
        assert active.lead()
        assert standby.run(once=True) is None
        assert said == [f"standby: daemon {active.id} is active"]
        assert tick_log.ticks(one.catalog) == []
        active.step_down()
        assert standby.run(once=True) is not None
        assert {t.daemon for t in tick_log.ticks(one.catalog)} == {standby.id}
        assert standby.active() is None  # released on the way out


def test_stop_lets_the_step_in_flight_finish_and_skips_the_rest(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop = threading.Event()
    now = utc("2026-04-04T03:00")

    def on_step(_outcome: object) -> None:
        stop.set()  # the first step done: stop before the next starts

    with make_project(assets(max_per_tick=3), LEASE, clock=now) as project:
        root = project.root
        daemon = Daemon(project, echo=lambda _line: None)
        monkeypatch.setattr(
            "partita.core.run.materializer.Materializer.run",
            _with_on_step(on_step),
        )
        result = daemon.run(stop=stop)
        assert result is not None and result.status == "interrupted"
        tick = tick_log.ticks(project.catalog)[0]
        assert tick.status == "interrupted"
        assert tick_log.cursor(project.catalog, "schedule:nightly") is None
        assert daemon.active() is None
    steps = catalog_query(root, "SELECT status, detail FROM steps ORDER BY id")
    assert steps[0] == ("succeeded", None)
    assert set(steps[1:]) == {("skipped", "daemon stopping")}
    assert catalog_query(root, "SELECT status FROM runs") == [("interrupted",)]
    assert catalog_query(root, "SELECT count(*) FROM partitions WHERE lease_owner IS NOT NULL") == [
        (0,)
    ]


def _with_on_step(on_step: Callable[[object], None]) -> Callable[..., object]:
    from partita.core.run.materializer import Materializer

    original = Materializer.run

    def run(self: Materializer, plan: Any, options: Any = None) -> object:
        return original(self, plan, dataclasses.replace(options, on_step=on_step))

    return run


def test_a_daemon_that_loses_its_lease_mid_tick_starts_nothing_more_and_steps_down(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = utc("2026-04-04T03:00")
    with make_project(assets(max_per_tick=3), LEASE, clock=now) as project:
        root = project.root
        daemon = Daemon(project)

        def on_step(_outcome: object) -> None:
            # Another daemon took the lease over (as after a long pause of this one).
            with sqlite3.connect(root / ".partita" / "catalog.db") as conn:
                conn.execute(
                    "UPDATE leases SET owner = 'elsewhere:1:x', token = token + 1, "
                    "expires = 1e12 WHERE name = 'daemon'"
                )
            deadline = time.monotonic() + 60  # only a hang gets near it
            while daemon.leading and time.monotonic() < deadline:
                time.sleep(0.05)  # the heartbeat notices on its next renewal

        monkeypatch.setattr(
            "partita.core.run.materializer.Materializer.run", _with_on_step(on_step)
        )
        assert daemon.lead()
        result = daemon.tick()
        assert result.status == "interrupted"
        assert not daemon.leading and daemon.active() == "elsewhere:1:x"
        assert tick_log.cursor(project.catalog, "schedule:nightly") is None
    steps = catalog_query(root, "SELECT status, detail FROM steps ORDER BY id")
    assert steps[0] == ("succeeded", None)
    assert set(steps[1:]) == {("skipped", "daemon stopping")}
