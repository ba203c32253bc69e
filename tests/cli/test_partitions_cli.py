"""Partition keys on the command line: `partita partitions`, every key spelling through the
commands that take keys, and bad keys rejected in one line with exit 2 and nothing written."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.conftest import catalog_query, data_files

# Bounded ranges, all in the past: the CLI reads the real clock.
KEYED = """
import partita as pt

hourly = pt.HourlyPartitions(start="2026-10-31", end="2026-11-03", timezone="America/New_York")
daily = pt.DailyPartitions(start="2026-10-26", end="2026-11-09")
weekly = pt.WeeklyPartitions(start="2026-10-01", end="2026-11-09")
monthly = pt.MonthlyPartitions(start="2026-01", end="2026-11")
regions = pt.StaticPartitions(["eu", "us"], dimension="region")


@pt.asset(partitions=hourly)
def clicks(ctx):
    return {"key": ctx.partition_key}


@pt.asset(partitions=daily)
def visits(ctx):
    return {"key": ctx.partition_key}


@pt.asset(partitions=weekly)
def digest(ctx):
    return {"key": ctx.partition_key}


@pt.asset(partitions=monthly)
def invoices(ctx):
    return {"key": ctx.partition_key}


@pt.asset(partitions=pt.MultiPartitions(date=daily, region=regions))
def regional(ctx):
    return dict(ctx.dimensions)


@pt.asset(partitions=pt.DynamicPartitions("files"))
def uploads(ctx):
    return {"file": ctx.partition_key}


@pt.asset
def summary():
    return {}
"""


@pytest.fixture
def keyed(tmp_path: Path) -> Path:
    """A project with hourly, daily, weekly, monthly, multi and dynamic assets."""
    root = tmp_path / "keyed"
    root.mkdir()
    (root / "partita.toml").write_text('definitions = "defs.py"\n')
    (root / "defs.py").write_text(textwrap.dedent(KEYED))
    return root


def ok(result) -> list[str]:
    """The stdout lines of a command that must have succeeded."""
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout.splitlines()


def catalog_rows(project: Path) -> dict[str, list[tuple[object, ...]]]:
    """Everything a command could have written to the catalog (nothing if it is absent)."""
    if not (project / ".partita" / "catalog.db").exists():
        return {}
    tables = ("runs", "steps", "versions", "partitions", "dynamic_partitions")
    return {t: catalog_query(project, f"select * from {t}") for t in tables}


def test_partitions_lists_keys_oldest_first(keyed: Path, run_cli) -> None:
    hours = run_cli(
        keyed, "partitions", "clicks", "--from", "2026-11-01T00:00", "--to", "2026-11-01T02:00"
    )
    assert ok(hours) == [
        "2026-11-01T00:00",
        "2026-11-01T01:00-04:00",
        "2026-11-01T01:00-05:00",
        "2026-11-01T02:00",
    ]
    header = hours.stderr.strip()
    assert header.startswith("clicks: hourly from 2026-10-31")
    assert header.endswith("4 partitions")
    assert ok(run_cli(keyed, "partitions", "list", "clicks", "--to", "2026-10-31T01:00")) == [
        "2026-10-31T00:00",
        "2026-10-31T01:00",
    ]
    assert ok(run_cli(keyed, "partitions", "digest")) == [
        "2026-10-05",
        "2026-10-12",
        "2026-10-19",
        "2026-10-26",
        "2026-11-02",
    ]
    assert ok(run_cli(keyed, "partitions", "invoices", "--from", "2026-09")) == [
        "2026-09",
        "2026-10",
    ]
    november = ok(run_cli(keyed, "partitions", "regional", "--from", "2026-11"))
    assert len(november) == 16
    assert november[:3] == ["2026-11-01|eu", "2026-11-01|us", "2026-11-02|eu"]
    two_days = ("--from", "2026-11-01", "--to", "2026-11-02")
    regional = run_cli(keyed, "partitions", "regional", *two_days)
    assert ok(regional) == ["2026-11-01|eu", "2026-11-01|us", "2026-11-02|eu", "2026-11-02|us"]
    payload = json.loads(
        run_cli(keyed, "partitions", "visits", "--from", "2026-11-07", "--json").stdout
    )
    assert payload == {
        "asset": "visits",
        "definition": "daily from 2026-10-26 to 2026-11-09 (UTC)",
        "count": 2,
        "keys": ["2026-11-07", "2026-11-08"],
    }


def test_partitions_is_a_group_with_list_add_and_remove(keyed: Path, run_cli) -> None:
    group = ok(run_cli(keyed, "partitions", "--help"))
    assert all(any(f" {name} " in line for line in group) for name in ("list", "add", "remove"))
    listing = run_cli(keyed, "partitions", "clicks", "--help").stdout
    assert "Usage: partita partitions list" in listing
    assert "--dimension" in run_cli(keyed, "partitions", "add", "--help").stdout


def test_add_and_remove_dynamic_keys_keep_state(keyed: Path, run_cli) -> None:
    assert ok(run_cli(keyed, "partitions", "uploads")) == []
    assert ok(run_cli(keyed, "partitions", "add", "uploads", "a.csv", "b.csv")) == [
        "added to uploads: a.csv, b.csv"
    ]
    assert ok(run_cli(keyed, "partitions", "add", "uploads", "b.csv", "c.csv")) == [
        "added to uploads: c.csv",
        "already present: b.csv",
    ]
    assert ok(run_cli(keyed, "partitions", "uploads")) == ["a.csv", "b.csv", "c.csv"]
    ok(run_cli(keyed, "materialize", "uploads", "--partition", "b.csv"))
    built = data_files(keyed, "uploads")
    assert list(built) == ["files=b.csv"]

    removed = ok(run_cli(keyed, "partitions", "remove", "uploads", "b.csv", "zz.csv"))
    assert removed == [
        "removed from uploads: b.csv (their data and state are kept, hidden)",
        "not present: zz.csv",
    ]
    assert ok(run_cli(keyed, "partitions", "uploads")) == ["a.csv", "c.csv"]
    status = ok(run_cli(keyed, "status", "uploads"))
    assert (
        "uploads: 1 committed partition is outside the current definition (kept, not shown)"
        in status
    )
    assert json.loads(run_cli(keyed, "status", "uploads", "--json").stdout)[0]["outside"] == 1
    assert data_files(keyed, "uploads") == built

    added = json.loads(run_cli(keyed, "partitions", "add", "uploads", "b.csv", "--json").stdout)
    assert added == {"asset": "uploads", "added": ["b.csv"], "already_present": []}
    report = json.loads(run_cli(keyed, "status", "uploads", "--json").stdout)[0]
    assert (report["counts"]["fresh"], report["outside"]) == (1, 0)
    assert ok(run_cli(keyed, "partitions", "uploads")) == ["a.csv", "c.csv", "b.csv"]


def test_every_key_spelling_reaches_the_same_partition(keyed: Path, run_cli) -> None:
    first = run_cli(keyed, "materialize", "regional", "-p", "region=eu,date=2026-11-01", "--json")
    assert first.returncode == 0, first.stderr
    assert [s["partition"] for s in json.loads(first.stdout)["steps"]] == ["2026-11-01|eu"]
    for spelling in ("date=2026-11-01,region=eu", "date=2026-11-01/region=eu", "2026-11-01|eu"):
        again = ok(run_cli(keyed, "materialize", "regional", "--partition", spelling))
        assert again == ["nothing to do: everything asked for is fresh"]
    read = run_cli(keyed, "read", "regional", "-p", "date=2026-11-01/region=eu")
    assert json.loads(read.stdout) == {"date": "2026-11-01", "region": "eu"}
    assert ok(run_cli(keyed, "why", "regional", "region=eu,date=2026-11-01"))[0] == (
        "regional 2026-11-01|eu: fresh"
    )
    status = run_cli(keyed, "status", "regional", "--from", "2026-11", "--to", "2026-11-01")
    assert "regional fresh: 2026-11-01|eu" in ok(status)

    ok(run_cli(keyed, "materialize", "clicks", "-p", "2026-11-01T01:00-05:00"))
    assert json.loads(run_cli(keyed, "read", "clicks", "-p", "2026-11-01T01:00-05:00").stdout) == {
        "key": "2026-11-01T01:00-05:00"
    }
    plan = run_cli(
        keyed, "backfill", "clicks", "--from", "2026-11-01T01:00", "--to", "2026-11-01T02:00"
    )
    assert ok(plan)[0].startswith("run ")
    hours = json.loads(run_cli(keyed, "status", "clicks", "--json").stdout)[0]["ranges"]["fresh"]
    assert hours == ["2026-11-01T01:00-04:00..2026-11-01T02:00"]

    october = ("--from", "2026-10", "--to", "2026-10-20")
    weeks = run_cli(keyed, "backfill", "digest", *october, "--dry-run", "--json")
    assert [s["partition"] for s in json.loads(weeks.stdout)["steps"]] == [
        "2026-10-05",
        "2026-10-12",
        "2026-10-19",
    ]
    ok(run_cli(keyed, "materialize", "invoices", "-p", "2026-10"))
    assert ok(run_cli(keyed, "why", "invoices", "2026-10")) == [
        "invoices 2026-10: fresh",
        "  fresh: built from the current code and upstream data",
    ]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ["materialize", "regional", "-p", "date=2026-11-01,region=../../etc"],
            ["unsafe partition key"],
        ),
        (
            ["materialize", "regional", "-p", "date=2026-11-01,zone=eu"],
            ["'zone=eu'", "does not name a dimension", "dimensions: date, region"],
        ),
        (["read", "regional", "-p", "2026-11-01"], ["give one key per dimension"]),
        (["materialize", "regional", "-p", "date=2026-11-01,region=apac"], ["'apac'"]),
        (
            ["materialize", "digest", "-p", "2026-11-03"],
            ["'2026-11-03' is a Tuesday", "start on Monday", "use 2026-11-02"],
        ),
        (
            ["materialize", "visits", "-p", "2026-11-01T13:00"],
            ["is a time, but these partitions are daily"],
        ),
        (["why", "clicks", "2026-11-01"], ["is a date, but these partitions are hourly"]),
        (["materialize", "invoices", "-p", "2026-10-01"], ["monthly keys name the month"]),
        (
            ["materialize", "uploads", "-p", "never.csv"],
            ["'never.csv' is not a partition of uploads", "partita partitions add"],
        ),
        (
            ["materialize", "clicks", "-p", "2026-11-01T01:00"],
            ["occurs twice in America/New_York", "2026-11-01T01:00-04:00", "T01:00-05:00"],
        ),
        (
            ["materialize", "clicks", "-p", "2026-03-08T02:00"],
            ["does not exist in America/New_York", "DST starts"],
        ),
        (
            ["materialize", "clicks", "-p", "2026-10-30T05:00"],
            ["is before clicks's first partition 2026-10-31T00:00"],
        ),
        (["partitions", "clicks", "--to", "01T02"], ["'01T02' is not a date or time"]),
        (["backfill", "visits", "--from", "2026-11-05", "--to", "2026-11-01"], ["is after"]),
        (["status", "visits", "--from", "yesterday"], ["'yesterday' is not a date or time"]),
        (["partitions", "regional", "--from", "2026-13"], ["not a valid date or time"]),
        (["partitions", "summary"], ["summary is not partitioned"]),
        (["partitions", "uploads", "--from", "2026-11-01"], ["no time dimension"]),
    ],
)
def test_bad_keys_exit_2_and_write_nothing(
    keyed: Path, run_cli, args: list[str], fragments: list[str]
) -> None:
    result = run_cli(keyed, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert all(not rows for rows in catalog_rows(keyed).values())
    assert data_files(keyed, args[1]) == {}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["uploads", "../x"], "unsafe partition key '../x'"),
        (["uploads", "ok.csv", "a|b"], "invalid partition key 'a|b'"),
        (["uploads", "a,b"], "without '|', ',' or '='"),
        (["uploads", "x", "--dimension", "nope"], "no dynamic partitions named 'nope'"),
        (["visits", "x"], "visits has no dynamic partitions"),
    ],
)
def test_partitions_add_rejects_bad_keys(keyed: Path, run_cli, args: list[str], fragment: str):
    result = run_cli(keyed, "partitions", "add", *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
    assert all(not rows for rows in catalog_rows(keyed).values())
