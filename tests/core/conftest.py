"""Fixtures for core tests: no inherited ``PARTITA_*`` settings, projects made in a test's
folder (``make_project``), and catalog states as plain values for status, planner and
report tests."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from partita.assets import AssetGraph
from partita.core.plan.status import StatusResolver, input_fingerprint
from partita.storage.records import PartitionState
from tests.projects import ProjectFactory

States = dict[str, dict[str, PartitionState]]
RecordBuild = Callable[..., States]


@pytest.fixture(autouse=True)
def _no_partita_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PARTITA_STORAGE", "PARTITA_CATALOG", "PARTITA_PROJECT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def definitions_header() -> str:
    """Code put before every definitions module ``make_project`` writes: a test module
    overrides this fixture with the imports and partitions its projects share."""
    return ""


@pytest.fixture
def make_project(tmp_path: Path, definitions_header: str) -> Iterator[ProjectFactory]:
    """``make_project(source, settings, files=..., name=..., clock=..., sleep=...)``
    writes a project in the test's folder and opens it (see ``ProjectFactory``);
    ``make_project(root=...)`` opens another ``Project`` on one. All are closed after
    the test."""
    factory = ProjectFactory(tmp_path, definitions_header)
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def record_build() -> RecordBuild:
    """Record a partition as built, the way the materializer commits one (pure).

    ``record_build(graph, states, asset, key, now, data="d1", code=None, failure=None)``
    returns new states in which ``(asset, key)`` was built from the current upstream data
    versions, by ``code`` (default: the asset's current code version).
    """
    versions = itertools.count(1)

    def record(
        graph: AssetGraph,
        states: Mapping[str, Mapping[str, PartitionState]],
        asset: str,
        key: str,
        now: dt.datetime,
        *,
        data: str = "d1",
        code: str | None = None,
        failure: str | None = None,
    ) -> States:
        inputs = StatusResolver(graph, states, now).inputs(asset, key)
        state = PartitionState(
            version_id=f"v{next(versions)}",
            code_version=code or graph.get(asset).code_version,
            data_version=data,
            input_hash=input_fingerprint(inputs),
            failure=failure,
        )
        copied = {name: dict(recorded) for name, recorded in states.items()}
        copied.setdefault(asset, {})[key] = state
        return copied

    return record


def builder(record: RecordBuild, graph: AssetGraph, now: dt.datetime) -> Callable[..., States]:
    """Build partitions in order: ``build(states, ("raw", DAY), ("clean", DAY), data=...)``."""

    def run(states: States, *nodes: tuple[str, str], now: dt.datetime = now, **kw: str) -> States:
        for asset, key in nodes:
            states = record(graph, states, asset, key, now, **kw)
        return states

    return run
