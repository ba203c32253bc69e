"""OpenLineage events: START, then COMPLETE or FAIL for each step, to a local HTTP
server and to a file, through ``partita.Project``."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from partita.core.observe.openlineage import SCHEMA_URL, step_run_id
from partita.errors import ConfigError
from tests.core._webhook import SECRET_PATH, WebhookServer
from tests.projects import ProjectFactory, Sleeps

NOW = dt.datetime(2026, 4, 5, tzinfo=dt.UTC)
DAY = "2026-04-02"

SOURCE = """\
from pathlib import Path

import pyarrow as pa

import partita as pt

daily = pt.DailyPartitions(start="2026-04-01", timezone="UTC")
BROKEN = Path(__file__).parent / "broken"


@pt.asset(partitions=daily)
def raw(ctx: pt.Context) -> pa.Table:
    return pa.table({"n": [1, 2, 3]})


@pt.asset(partitions=daily, deps={"raw": pt.Window(days=2)})
def clean(raw: pa.Table) -> pa.Table:
    if BROKEN.exists():
        raise RuntimeError("the cleaner broke")
    return raw
"""


def lineage(settings: str) -> str:
    """partita.toml's ``[openlineage]`` table with ``settings``."""
    return "[openlineage]\n" + settings


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


def by_type(events: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["eventType"], e["job"]["name"]): e for e in events}


def test_each_step_sends_start_then_complete(
    make_project: ProjectFactory, webhook: WebhookServer
) -> None:
    with make_project(
        SOURCE, lineage(f'url = "{webhook.url}"\n'), name="shop", clock=NOW
    ) as project:
        result = project.materialize("clean", DAY)
    assert result.ok
    events = webhook.received
    assert [(e["eventType"], e["job"]["name"]) for e in events if e["job"]["name"] == "clean"] == [
        ("START", "clean"),
        ("COMPLETE", "clean"),
    ]
    found = by_type(events)
    start, complete = found[("START", "clean")], found[("COMPLETE", "clean")]
    run_id = step_run_id("shop", result.run_id, "clean", DAY)
    assert start["run"]["runId"] == complete["run"]["runId"] == run_id
    assert uuid.UUID(run_id).version == 5
    assert start["job"] == {"namespace": "shop", "name": "clean"}
    assert [i["name"] for i in start["inputs"]] == ["raw/2026-04-01", "raw/2026-04-02"]
    assert complete["outputs"][0]["name"] == "clean/2026-04-02"
    statistics = complete["outputs"][0]["outputFacets"]["outputStatistics"]
    assert statistics["rowCount"] == 3 + 3
    assert statistics["size"] == project.catalog.versions("clean", [DAY])[DAY].bytes
    for event in events:
        assert event["schemaURL"] == SCHEMA_URL and event["producer"]
        assert dt.datetime.fromisoformat(event["eventTime"]) == NOW
    assert set(webhook.paths) == {SECRET_PATH}
    raw = found[("COMPLETE", "raw")]
    assert raw["inputs"] == [] and raw["outputs"][0]["name"] in ("raw/2026-04-01", f"raw/{DAY}")


def test_a_failed_step_sends_fail_and_a_fresh_one_nothing(make_project: ProjectFactory) -> None:
    with make_project(
        SOURCE, lineage('file = "lineage.jsonl"\nnamespace = "prod"\n'), name="shop", clock=NOW
    ) as project:
        assert project.materialize("clean", DAY).ok
        (project.root / "broken").touch()
        failed = project.materialize("clean", DAY, force=True)
        fresh = project.materialize("raw", DAY)
    assert not failed.ok and fresh.count("succeeded") == 0
    lines = (project.root / "lineage.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert {e["job"]["namespace"] for e in events} == {"prod"}
    last = [
        e for e in events if e["run"]["runId"] == step_run_id("prod", failed.run_id, "clean", DAY)
    ]
    assert [e["eventType"] for e in last] == ["START", "FAIL"]
    assert "the cleaner broke" in last[1]["run"]["facets"]["errorMessage"]["message"]
    assert "outputFacets" not in last[1]["outputs"][0]
    assert len(events) == 3 * 2 + 2  # first run: raw x2 and clean; then clean; then nothing


def test_an_endpoint_that_fails_is_retried_then_a_warning(
    make_project: ProjectFactory, webhook: WebhookServer, caplog: pytest.LogCaptureFixture
) -> None:
    webhook.statuses = [503, 503, 503]
    sleeps = Sleeps()
    settings = f'url = "{webhook.url}"\nretries = 1\n'
    with (
        make_project(SOURCE, lineage(settings), name="shop", clock=NOW, sleep=sleeps) as project,
        caplog.at_level(logging.WARNING, logger="partita.openlineage"),
    ):
        assert project.materialize("raw", DAY).ok
    # START: 503, retried, 503 -> given up; COMPLETE: 503, retried -> delivered
    assert [e["eventType"] for e in webhook.received] == ["COMPLETE"]
    assert webhook.requests == 4
    assert len(sleeps) == 2
    [warning] = caplog.messages
    assert "START" in warning and "HTTP 503" in warning
    assert SECRET_PATH not in warning and webhook.origin in warning


def test_settings_need_one_destination(make_project: ProjectFactory) -> None:
    with pytest.raises(ConfigError, match="openlineage: give exactly one of url or file"):
        make_project(SOURCE, lineage("namespace = 'x'\n"), name="a", clock=NOW)
    with pytest.raises(ConfigError, match=r"unknown setting 'openlineage\.endpoint'") as raised:
        make_project(SOURCE, lineage(f'endpoint = "http://h{SECRET_PATH}"\n'), name="b", clock=NOW)
    assert SECRET_PATH not in str(raised.value)


def test_the_url_is_never_shown_whole(make_project: ProjectFactory, webhook: WebhookServer) -> None:
    with make_project(
        SOURCE, lineage(f'url = "{webhook.url}"\n'), name="shop", clock=NOW
    ) as project:
        assert SECRET_PATH not in repr(project.settings)
        assert project.settings.openlineage is not None
        assert SECRET_PATH not in project.settings.openlineage.destination
