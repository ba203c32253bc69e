"""``Project.lineage``: the exact upstream versions a partition's current version read."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import partita as pt
from partita.core.observe.lineage import Lineage
from partita.errors import PlanError

NOW = dt.datetime(2026, 4, 4, tzinfo=dt.UTC)

SOURCE = """\
from pathlib import Path

import partita as pt

daily = pt.DailyPartitions(start="2026-04-01", timezone="UTC")
HERE = Path(__file__).parent


@pt.asset(partitions=daily)
def raw(ctx: pt.Context) -> dict:
    scale = HERE / "scale"
    return {"day": ctx.partition_key, "n": int(scale.read_text()) if scale.exists() else 1}


@pt.asset(partitions=daily)
def clean(raw: dict) -> dict:
    return {**raw, "clean": True}


@pt.asset
def summary(clean: dict) -> dict:
    return {"days": len(clean)}
"""


@pytest.fixture
def project(tmp_path: Path) -> Any:
    root = tmp_path / "lineage"
    root.mkdir()
    (root / "partita.toml").write_text('definitions = "assets.py"\n')
    (root / "assets.py").write_text(textwrap.dedent(SOURCE))
    with pt.Project(root, clock=lambda: NOW, sleep=lambda _: None) as opened:
        yield opened


def test_lineage_names_the_versions_read(project: pt.Project) -> None:
    project.materialize("clean", "2026-04-02")
    raw = project.catalog.versions("raw", ["2026-04-02"])["2026-04-02"]
    clean = project.catalog.versions("clean", ["2026-04-02"])["2026-04-02"]
    found = project.lineage("clean", "2026-04-02")
    assert (found.asset, found.partition, found.version_id) == (
        "clean",
        "2026-04-02",
        clean.version_id,
    )
    assert found.current and found.run_id == clean.run_id
    assert found.code_version == clean.code_version
    [upstream] = found.inputs
    assert (upstream.asset, upstream.partition) == ("raw", "2026-04-02")
    assert upstream.version_id == raw.version_id
    assert upstream.data_version == raw.data_version
    assert upstream.current and upstream.inputs == ()


def test_a_rebuilt_upstream_shows_the_version_that_was_read(project: pt.Project) -> None:
    project.materialize("clean", "2026-04-02")
    read = project.catalog.versions("raw", ["2026-04-02"])["2026-04-02"]
    (project.root / "scale").write_text("2")
    project.materialize("raw", "2026-04-02", force=True)  # new data: clean is stale now
    [upstream] = project.lineage("clean", "2026-04-02").inputs
    assert upstream.version_id == read.version_id
    assert not upstream.current


def test_an_identical_rebuild_resolves_to_the_current_version(project: pt.Project) -> None:
    project.materialize("clean", "2026-04-02")
    project.materialize("raw", "2026-04-02", force=True)  # same bytes, new version
    now = project.catalog.versions("raw", ["2026-04-02"])["2026-04-02"]
    [upstream] = project.lineage("clean", "2026-04-02").inputs
    assert upstream.version_id == now.version_id
    assert upstream.current


def test_lineage_is_recursive_down_to_a_depth(project: pt.Project) -> None:
    project.materialize("summary")  # every day due: 2026-04-01..03
    whole = project.lineage("summary")
    assert [(i.asset, i.partition) for i in whole.inputs] == [
        ("clean", "2026-04-01"),
        ("clean", "2026-04-02"),
        ("clean", "2026-04-03"),
    ]
    assert all(len(i.inputs) == 1 and i.inputs[0].asset == "raw" for i in whole.inputs)
    shallow = project.lineage("summary", depth=1)
    assert all(i.inputs == () and i.truncated for i in shallow.inputs)
    assert project.lineage("summary", depth=0).inputs == ()


def test_lineage_as_json(project: pt.Project) -> None:
    project.materialize("clean", "2026-04-02")
    data = json.loads(json.dumps(project.lineage("clean", "2026-04-02").to_dict()))
    assert data["inputs"][0]["asset"] == "raw"
    assert dt.datetime.fromisoformat(data["created_at"]).tzinfo is not None


def test_a_partition_never_built_has_no_lineage(project: pt.Project) -> None:
    with pytest.raises(PlanError, match="clean 2026-04-02 has no committed version"):
        project.lineage("clean", "2026-04-02")


def test_lineage_cli(
    project: pt.Project, run_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    project.materialize("clean", "2026-04-02")
    shown = run_cli(project.root, "lineage", "clean", "2026-04-02", "--json")
    assert shown.returncode == 0, shown.stderr
    found = json.loads(shown.stdout)
    assert isinstance(project.lineage("clean", "2026-04-02"), Lineage)
    assert found == project.lineage("clean", "2026-04-02").to_dict()
    tree = run_cli(project.root, "lineage", "clean", "2026-04-02")
    assert tree.returncode == 0 and "raw 2026-04-02" in tree.stdout
    missing = run_cli(project.root, "lineage", "clean", "2026-04-03")
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: clean 2026-04-03 has no committed version")
