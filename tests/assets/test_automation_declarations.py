"""Schedules, eager automation, file sensors and pools as declared: validated at once,
collected from the definitions module, each error one line naming what to fix."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

import partita as pt
from partita.assets import load_definitions
from partita.assets.durations import parse_duration
from partita.errors import DefinitionError

WriteDefs = Callable[[str], str]

PIPELINE = """
import partita as pt

daily = pt.DailyPartitions(start="2026-01-01")


@pt.asset(partitions=daily, pool="api")
def raw_sales() -> int:
    return 1


@pt.asset(partitions=daily, automation=pt.Eager(window=7), max_concurrency=2)
def clean_sales(raw_sales: int) -> int:
    return raw_sales


@pt.asset
def summary(clean_sales: int) -> int:
    return 1


nightly = pt.Schedule("nightly", assets=["clean_sales", "summary"], delay="2h")
also_nightly = nightly  # the same schedule under a second name: collected once
incoming = pt.FileSensor(
    "incoming", asset="raw_sales", url="incoming", pattern="sales-{partition}.csv"
)
"""


def test_schedules_and_sensors_are_collected_with_the_graph(
    write_defs: WriteDefs, tmp_path: Path
) -> None:
    found = load_definitions(write_defs(PIPELINE), tmp_path)

    assert found.graph.order == ("raw_sales", "clean_sales", "summary")
    assert list(found.schedules) == ["nightly"]
    assert found.schedules["nightly"].assets == ("clean_sales", "summary")
    assert found.schedules["nightly"].delay == 7200.0
    assert list(found.sensors) == ["incoming"]
    assert found.graph.get("clean_sales").automation == pt.Eager(window=7)
    assert found.graph.get("raw_sales").pool == "api"
    assert found.graph.get("clean_sales").max_concurrency == 2


def test_automation_settings_leave_the_code_version_alone() -> None:
    def build(**automation: object) -> str:
        @pt.asset(partitions=pt.DailyPartitions(start="2026-01-01"), **automation)
        def raw_sales() -> int:
            return 1

        return raw_sales.code_version

    assert build() == build(automation=pt.Eager(), pool="api", max_concurrency=3)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ('assets=["clean_sales", "summary"]', 'assets=["clean_sale"]'),
            "schedule 'nightly': unknown asset 'clean_sale': did you mean 'clean_sales'?",
        ),
        (('asset="raw_sales"', 'asset="summary"'), "asset 'summary' is not partitioned"),
        (
            ("also_nightly = nightly", 'other = pt.Schedule("nightly", assets="summary")'),
            "two schedules are named 'nightly'",
        ),
    ],
)
def test_bad_references_are_one_line_errors(
    write_defs: WriteDefs, tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    source = PIPELINE.replace(*edit)
    assert source != PIPELINE
    with pytest.raises(DefinitionError) as raised:
        load_definitions(write_defs(source), tmp_path)
    assert message in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (lambda: pt.Schedule("n", assets=[]), "name at least one asset"),
        (lambda: pt.Schedule("n", assets="a", cron="61 * * * *"), "minute 61 is out of range"),
        (lambda: pt.Schedule("n", assets="a", cron="@fortnightly"), "unknown shortcut"),
        (lambda: pt.Schedule("n", assets="a", timezone="Mars/Olympus"), "unknown timezone"),
        (lambda: pt.Schedule("n", assets="a", delay="2 hours"), "bad delay '2 hours'"),
        (lambda: pt.Schedule("n", assets="a", delay=-5), "cannot be negative"),
        (lambda: pt.Schedule("n", assets="a", max_per_tick=0), "max_per_tick"),
        (lambda: pt.Schedule("bad name", assets="a"), "schedule name 'bad name'"),
        (lambda: pt.Eager(window=0), "window"),
        (
            lambda: pt.FileSensor("s", asset="a", url="in", pattern="sales.csv"),
            "exactly one {partition} placeholder",
        ),
        (
            lambda: pt.FileSensor("s", asset="a", url="in", pattern="../{partition}.csv"),
            "must stay under url",
        ),
    ],
)
def test_bad_declarations_name_what_to_fix(declare: Callable[[], object], message: str) -> None:
    with pytest.raises((DefinitionError, ValueError)) as raised:
        declare()
    assert message in str(raised.value)


def test_a_bad_pool_name_names_the_asset() -> None:
    with pytest.raises(DefinitionError, match="@asset raw: pool name 'a pool'"):

        @pt.asset(pool="a pool")
        def raw() -> int:
            return 1


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("90s", 90.0),
        ("30m", 1800.0),
        ("2h", 7200.0),
        ("7d", 604800.0),
        ("1h30m", 5400.0),
        ("0s", 0.0),
        (45, 45.0),
        (dt.timedelta(minutes=2), 120.0),
    ],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["", "2", "h", "2 h", "1.5.2h", "2w", "-1h", True])
def test_bad_durations(value: object) -> None:
    with pytest.raises(DefinitionError, match="bad duration"):
        parse_duration(value)  # type: ignore[arg-type]
