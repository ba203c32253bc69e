"""File sensors: a new or rewritten file rebuilds its partition, on local disk and on S3.

Daemon-level tests run real projects (SQLite, local data) with a fixed clock and call
``Daemon.tick()``; the pattern and the listing are also tested on their own.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

import partita as pt
from partita.core.automation.daemon import Daemon, TickResult
from partita.core.automation.sensors import compile_pattern, sensor_evaluators, watched_url
from partita.errors import StorageError
from partita.storage import StepStatus
from partita.storage.store.listing import list_files
from tests.projects import ProjectFactory

NOW = dt.datetime(2026, 4, 11, 6, 0, tzinfo=dt.UTC)  # 2026-04-01..2026-04-10 are due

DEFINITIONS = """\
import partita as pt

daily = pt.DailyPartitions(start="2026-04-01", timezone="UTC")


@pt.asset(partitions=daily)
def landed(ctx: pt.Context) -> str:
    return ctx.partition_key


@pt.asset(partitions=daily)
def other(ctx: pt.Context) -> str:
    return ctx.partition_key

"""


@pytest.fixture
def definitions_header() -> str:
    return DEFINITIONS


def tick(project: pt.Project) -> TickResult:
    return Daemon(project, evaluators=sensor_evaluators(project)).tick()


def built(result: TickResult) -> list[tuple[str, str]]:
    return [
        (o.asset, o.partition)
        for run in result.runs
        for o in run.outcomes
        if o.status == StepStatus.SUCCEEDED
    ]


def decision_of(result: TickResult, source: str) -> Any:
    (decision,) = [d for d in result.decisions if d.source == source]
    return decision


LOCAL = """
incoming = pt.FileSensor(
    "incoming", asset="landed", url="incoming", pattern="sales-{partition}.csv"
)
"""


def test_local_files_new_unchanged_rewritten(make_project: ProjectFactory) -> None:
    project = make_project(LOCAL, clock=NOW)
    folder = project.root / "incoming"
    folder.mkdir()
    assert project.materialize("landed", "2026-04-08").ok  # fresh before its file lands

    (folder / "sales-2026-04-08.csv").write_text("a,b\n1,2\n")
    (folder / "notes.txt").write_text("not matched")
    first = tick(project)
    assert built(first) == [("landed", "2026-04-08")]
    (request,) = decision_of(first, "sensor:incoming").requests
    assert request.force and request.partitions == ("2026-04-08",)
    assert decision_of(first, "sensor:incoming").notes == (
        "1 new or changed file, 1 partition requested: sales-2026-04-08.csv",
    )

    unchanged = tick(project)
    assert built(unchanged) == [] and unchanged.requested == 0
    assert decision_of(unchanged, "sensor:incoming").notes == (
        "no new or changed files (1 matching, all seen)",
    )

    path = folder / "sales-2026-04-08.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert built(tick(project)) == [("landed", "2026-04-08")]
    assert built(tick(project)) == []


def test_several_new_files_of_one_partition_make_one_request(make_project: ProjectFactory) -> None:
    project = make_project(
        """
        batches = pt.FileSensor(
            "batches", asset="landed", url="drop", pattern="{partition}/part-*.csv"
        )
        """,
        clock=NOW,
    )
    for day, parts in (("2026-04-09", 3), ("2026-04-07", 1)):
        (project.root / "drop" / day).mkdir(parents=True)
        for n in range(parts):
            (project.root / "drop" / day / f"part-{n}.csv").write_text(f"{n}\n")
    result = tick(project)
    (request,) = decision_of(result, "sensor:batches").requests
    assert request.partitions == ("2026-04-07", "2026-04-09")  # oldest first, once each
    assert sorted(built(result)) == [("landed", "2026-04-07"), ("landed", "2026-04-09")]
    assert (
        "4 new or changed files, 2 partitions requested"
        in (decision_of(result, "sensor:batches").notes[0])
    )


def test_a_file_naming_no_partition_is_noted_and_skipped(make_project: ProjectFactory) -> None:
    project = make_project(LOCAL, clock=NOW)
    folder = project.root / "incoming"
    folder.mkdir()
    for name in ("sales-2026-04-09.csv", "sales-2030-01-01.csv", "sales-yesterday.csv"):
        (folder / name).write_text("x\n")
    result = tick(project)
    decision = decision_of(result, "sensor:incoming")
    assert result.errors == {}
    assert built(result) == [("landed", "2026-04-09")]
    assert decision.notes[1].startswith("2 skipped, naming no partition of the asset: ")
    assert "sales-2030-01-01.csv (partition 2030-01-01 is not complete yet" in decision.notes[1]
    assert "sales-yesterday.csv (" in decision.notes[1]
    assert list(json.loads(decision.cursor)["files"]) == ["sales-2026-04-09.csv"]


def test_an_unreachable_folder_is_an_error_of_its_sensor_only(make_project: ProjectFactory) -> None:
    gone = 'gone = pt.FileSensor("gone", asset="other", url="no/such", pattern="{partition}.csv")'
    project = make_project(LOCAL + gone, clock=NOW)
    (project.root / "incoming").mkdir()
    (project.root / "incoming" / "sales-2026-04-03.csv").write_text("x\n")
    result = tick(project)
    assert list(result.errors) == ["sensor:gone"]
    assert "does not exist" in result.errors["sensor:gone"]
    assert built(result) == [("landed", "2026-04-03")]


S3 = """
s3_drop = pt.FileSensor(
    "s3_drop", asset="landed", url=URL, pattern="day={partition}/*.json", storage_options=OPTIONS
)
"""


def s3_sensor(url: str, options: dict[str, Any]) -> str:
    return S3.replace("URL", repr(url)).replace("OPTIONS", repr(options))


def test_s3_files_new_unchanged_rewritten_and_a_bad_key(
    make_project: ProjectFactory, s3_bucket: tuple[str, dict[str, Any]]
) -> None:
    import fsspec

    bucket, options = s3_bucket
    url = f"s3://{bucket}/drop-{uuid.uuid4().hex[:8]}"
    fs = fsspec.filesystem("s3", skip_instance_cache=True, **options)
    project = make_project(s3_sensor(url, options), clock=NOW)

    assert tick(project).requested == 0  # nothing there yet: no error either
    fs.pipe(f"{url}/day=2026-04-05/a.json", b'{"n": 1}')
    fs.pipe(f"{url}/day=2026-04-05/b.json", b'{"n": 2}')
    fs.pipe(f"{url}/day=2026-13-01/a.json", b"{}")
    first = tick(project)
    assert first.errors == {}
    assert built(first) == [("landed", "2026-04-05")]
    notes = decision_of(first, "sensor:s3_drop").notes
    assert "day=2026-13-01/a.json" in notes[1]

    assert built(tick(project)) == []
    fs.pipe(f"{url}/day=2026-04-05/a.json", b'{"n": 3}')  # rewritten: a new ETag
    assert built(tick(project)) == [("landed", "2026-04-05")]
    assert built(tick(project)) == []


def test_an_unreachable_s3_endpoint_is_an_error_of_its_sensor_only(
    make_project: ProjectFactory, s3_bucket: tuple[str, dict[str, Any]]
) -> None:
    bucket, _ = s3_bucket
    secret = f"secret-{uuid.uuid4().hex}"
    broken = {
        "endpoint_url": "http://127.0.0.1:9",  # nothing listens on the discard port
        "key": "testing",
        "secret": secret,
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
    }
    project = make_project(LOCAL + s3_sensor(f"s3://{bucket}/drop", broken), clock=NOW)
    (project.root / "incoming").mkdir()
    (project.root / "incoming" / "sales-2026-04-02.csv").write_text("x\n")
    result = tick(project)
    assert list(result.errors) == ["sensor:s3_drop"]
    error = result.errors["sensor:s3_drop"]
    assert error.startswith(f"StorageError: sensor 's3_drop': cannot list s3://{bucket}/drop: ")
    assert "\n" not in error and secret not in error
    assert built(result) == [("landed", "2026-04-02")]


def test_pattern_matching() -> None:
    under, regex = compile_pattern("exports/2026/*/sales-{partition}.csv")
    assert under == "exports/2026"
    found = regex.fullmatch("exports/2026/eu/sales-2026-04-08.csv")
    assert found is not None and found.group("partition") == "2026-04-08"
    assert regex.fullmatch("exports/2026/eu/deeper/sales-2026-04-08.csv") is None
    assert regex.fullmatch("exports/2026/eu/sales-2026-04-08.csv.tmp") is None
    under, regex = compile_pattern("**/{partition}.csv")
    assert under == ""
    assert regex.fullmatch("a/b/2026-04-08.csv") and regex.fullmatch("2026-04-08.csv")
    assert regex.fullmatch("a/2026/04.csv").group("partition") == "04"  # type: ignore[union-attr]


def test_relative_urls_are_under_the_project(tmp_path: Path) -> None:
    assert watched_url("incoming", tmp_path) == str(tmp_path / "incoming")
    assert watched_url("s3://bucket/x", tmp_path) == "s3://bucket/x"
    assert watched_url("/data/in", tmp_path) == "/data/in"


def test_listing_sees_a_rewrite_at_once(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text("1\n")
    (before,) = list_files(str(tmp_path))
    (tmp_path / "f.csv").write_text("12\n")
    (after,) = list_files(str(tmp_path))
    assert before.path == "f.csv" and before.signature != after.signature
    assert list_files(str(tmp_path), under="not/yet") == []
    with pytest.raises(StorageError, match="does not exist"):
        list_files(str(tmp_path / "missing"))
