"""Partition status: missing, stale (code changed, upstream changed/stale/missing) or fresh."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import pytest

import partita as pt
from partita.assets import UNPARTITIONED, AssetGraph
from partita.core.plan.status import (
    Cause,
    CauseKind,
    Freshness,
    PartitionStatus,
    StatusResolver,
    input_fingerprint,
)
from partita.storage.records import PartitionState
from tests.core.conftest import RecordBuild, States, builder

NOW = dt.datetime(2026, 4, 10, 12, 0, tzinfo=dt.UTC)
DAILY = pt.DailyPartitions(start="2026-04-01")
DAY = "2026-04-08"


def raw(ctx: pt.Context) -> int:
    return 1


def clean(raw: int) -> int:
    return raw


def weekly(clean: list) -> int:
    return len(clean)


def summary(clean: list) -> int:
    return sum(clean)


def rates() -> dict:
    return {}


def priced(clean: int, rates: dict) -> float:
    return clean * rates["eur"]


GRAPH = AssetGraph(
    [
        pt.asset(partitions=DAILY)(raw),
        pt.asset(partitions=DAILY)(clean),
        pt.asset(partitions=DAILY, deps={"clean": pt.Window(days=3)})(weekly),
        pt.asset(summary),
        pt.asset(rates),
        pt.asset(partitions=DAILY)(priced),
    ]
)


@pytest.fixture
def build(record_build: RecordBuild) -> Callable[..., States]:
    """Build partitions in order: ``build(states, ("raw", DAY), ("clean", DAY), data=...)``."""
    return builder(record_build, GRAPH, NOW)


def status(states: States, asset: str, key: str = DAY, now: dt.datetime = NOW) -> PartitionStatus:
    return StatusResolver(GRAPH, states, now).status(asset, key)


def test_never_built_is_missing() -> None:
    assert status({}, "raw") == PartitionStatus(Freshness.MISSING, Cause(CauseKind.MISSING))
    assert str(Cause(CauseKind.MISSING)) == "missing"


def test_built_from_the_current_code_and_upstream_is_fresh(build) -> None:
    states = build({}, ("raw", DAY), ("clean", DAY))
    assert status(states, "raw") == PartitionStatus(Freshness.FRESH)
    assert status(states, "clean") == PartitionStatus(Freshness.FRESH)


def test_built_by_other_code_is_stale_code_changed(build) -> None:
    states = build({}, ("raw", DAY), code="an older version")
    assert status(states, "raw") == PartitionStatus(Freshness.STALE, Cause(CauseKind.CODE_CHANGED))
    assert str(status(states, "raw").cause) == "code changed"


def test_code_changed_comes_before_upstream_causes(build) -> None:
    states = build({}, ("clean", DAY), code="old")  # and its upstream is missing
    assert status(states, "clean").cause == Cause(CauseKind.CODE_CHANGED)


def test_an_upstream_rebuilt_with_new_data_makes_it_stale_upstream_changed(build) -> None:
    states = build({}, ("raw", DAY), ("clean", DAY))
    states = build(states, ("raw", DAY), data="d2")
    assert status(states, "raw").status == Freshness.FRESH
    found = status(states, "clean")
    assert found == PartitionStatus(Freshness.STALE, Cause(CauseKind.UPSTREAM_CHANGED, "raw"))
    assert str(found.cause) == "upstream changed: raw"
    assert (
        status(states, "clean", "2026-04-07").status == Freshness.MISSING
    )  # other days: untouched


def test_an_upstream_rebuilt_with_the_same_data_leaves_it_fresh(build) -> None:
    states = build({}, ("raw", DAY), ("clean", DAY))
    rebuilt = build(states, ("raw", DAY), data="d1")
    assert rebuilt["raw"][DAY].version_id != states["raw"][DAY].version_id
    assert status(rebuilt, "clean") == PartitionStatus(Freshness.FRESH)


def test_with_several_upstream_assets_the_changed_one_is_not_guessed(build) -> None:
    states = build({}, ("raw", DAY), ("clean", DAY), ("rates", UNPARTITIONED), ("priced", DAY))
    assert status(states, "priced").status == Freshness.FRESH
    states = build(states, ("rates", UNPARTITIONED), data="d2")
    assert status(states, "priced") == PartitionStatus(
        Freshness.STALE, Cause(CauseKind.UPSTREAM_CHANGED)
    )
    assert str(status(states, "priced").cause) == "upstream changed"


def test_a_stale_upstream_makes_it_stale_upstream_stale(build) -> None:
    states = build({}, ("raw", DAY), ("clean", DAY))
    states["raw"][DAY] = dataclasses.replace(states["raw"][DAY], code_version="old")
    found = status(states, "clean")
    assert found == PartitionStatus(Freshness.STALE, Cause(CauseKind.UPSTREAM_STALE, "raw", DAY))
    assert str(found.cause) == f"upstream stale: raw {DAY}"


def test_built_while_upstream_was_missing_is_stale_upstream_missing(build) -> None:
    states = build({}, ("clean", DAY))
    found = status(states, "clean")
    assert found == PartitionStatus(Freshness.STALE, Cause(CauseKind.UPSTREAM_MISSING, "raw", DAY))
    assert str(found.cause) == f"upstream missing: raw {DAY}"


def test_staleness_propagates_down_the_chain(build) -> None:
    days = [("raw", d) for d in ("2026-04-06", "2026-04-07", DAY)]
    states = build({}, *days, *[("clean", d) for _, d in days], ("weekly", DAY))
    assert status(states, "weekly").status == Freshness.FRESH
    states["raw"]["2026-04-07"] = dataclasses.replace(
        states["raw"]["2026-04-07"], code_version="old"
    )
    assert status(states, "clean", "2026-04-07").cause == Cause(
        CauseKind.UPSTREAM_STALE, "raw", "2026-04-07"
    )
    assert status(states, "weekly").cause == Cause(CauseKind.UPSTREAM_STALE, "clean", "2026-04-07")


def test_a_window_clipped_at_the_start_is_not_upstream_missing(build) -> None:
    first = "2026-04-01"
    states = build({}, ("raw", first), ("clean", first), ("weekly", first))
    assert status(states, "weekly", first) == PartitionStatus(Freshness.FRESH)
    second = "2026-04-02"
    states = build(states, ("raw", second), ("clean", second), ("weekly", second))
    assert status(states, "weekly", second) == PartitionStatus(Freshness.FRESH)


def test_a_window_with_a_hole_is_upstream_missing(build) -> None:
    states = build({}, ("raw", "2026-04-06"), ("clean", "2026-04-06"), ("raw", DAY))
    states = build(states, ("clean", DAY), ("weekly", DAY))
    assert status(states, "weekly").cause == Cause(
        CauseKind.UPSTREAM_MISSING, "clean", "2026-04-07"
    )


def test_a_new_partition_due_upstream_makes_an_all_partitions_summary_stale(build) -> None:
    keys = DAILY.space(NOW).keys()
    states = build({}, *[("raw", k) for k in keys], *[("clean", k) for k in keys])
    states = build(states, ("summary", UNPARTITIONED))
    assert status(states, "summary", UNPARTITIONED) == PartitionStatus(Freshness.FRESH)
    tomorrow = NOW + dt.timedelta(days=1)
    later = build(states, ("raw", "2026-04-10"), ("clean", "2026-04-10"), now=tomorrow)
    assert status(later, "summary", UNPARTITIONED, tomorrow).cause == Cause(
        CauseKind.UPSTREAM_CHANGED, "clean"
    )


def test_an_unpartitioned_upstream_is_read_by_every_partition(build) -> None:
    states = build({}, ("raw", DAY), ("clean", DAY), ("rates", UNPARTITIONED))
    states = build(states, ("priced", DAY))
    assert status(states, "priced") == PartitionStatus(Freshness.FRESH)
    states["rates"][UNPARTITIONED] = dataclasses.replace(
        states["rates"][UNPARTITIONED], code_version="old"
    )
    assert status(states, "priced").cause == Cause(CauseKind.UPSTREAM_STALE, "rates", UNPARTITIONED)
    assert str(status(states, "priced").cause) == "upstream stale: rates"


# -- the last failure is shown beside the status -------------------------------------------


def test_a_failure_is_shown_beside_missing() -> None:
    states = {"raw": {DAY: PartitionState(None, None, None, None, failure="ValueError: boom")}}
    assert status(states, "raw") == PartitionStatus(
        Freshness.MISSING, Cause(CauseKind.MISSING), "ValueError: boom"
    )


def test_a_failure_is_shown_beside_stale(build) -> None:
    states = build({}, ("raw", DAY), code="old", failure="ValueError: boom")
    assert status(states, "raw") == PartitionStatus(
        Freshness.STALE, Cause(CauseKind.CODE_CHANGED), "ValueError: boom"
    )
    states = build(states, ("raw", DAY), ("clean", DAY))
    states = build(states, ("raw", DAY), data="d2")
    states["clean"][DAY] = dataclasses.replace(states["clean"][DAY], failure="E: again")
    assert status(states, "clean").failure == "E: again"


def test_a_failure_is_shown_beside_fresh(build) -> None:
    states = build({}, ("raw", DAY), failure="TimeoutError: the API was slow")
    assert status(states, "raw") == PartitionStatus(
        Freshness.FRESH, None, "TimeoutError: the API was slow"
    )


# -- inputs and fingerprints -----------------------------------------------------------------


def test_inputs_are_the_mapped_upstream_data_versions(build) -> None:
    states = build({}, ("clean", "2026-04-06"), ("clean", DAY), data="c")
    resolver = StatusResolver(GRAPH, states, NOW)
    assert resolver.inputs("weekly", DAY) == {
        "clean": {"2026-04-06": "c", "2026-04-07": None, DAY: "c"}
    }
    assert resolver.inputs("weekly", "2026-04-01") == {"clean": {"2026-04-01": None}}
    assert resolver.inputs("raw", DAY) == {}
    assert resolver.state("raw", DAY) == PartitionState(None, None, None, None)


def test_input_fingerprint() -> None:
    one = {"a": {"k1": "x", "k2": None}, "b": {"": "y"}}
    assert input_fingerprint(one) == input_fingerprint({"b": {"": "y"}, "a": one["a"]})
    assert input_fingerprint(one) != input_fingerprint({**one, "a": {"k1": "x", "k2": "z"}})
    assert input_fingerprint(one) != input_fingerprint({**one, "a": {"k1": "x"}})
    assert input_fingerprint(one) != input_fingerprint({**one, "b": {"": "z"}})
    assert input_fingerprint(one) != input_fingerprint({"a": one["a"], "c": {"": "y"}})
    assert len(input_fingerprint({})) == 24


def test_status_is_a_pure_function_of_its_inputs(build) -> None:
    states = build({}, ("raw", DAY), ("clean", DAY))
    snapshot = {name: dict(recorded) for name, recorded in states.items()}
    resolver = StatusResolver(GRAPH, states, NOW)
    first = [resolver.status(a, DAY) for a in ("raw", "clean", "weekly", "priced")]
    again = StatusResolver(GRAPH, snapshot, NOW)
    assert first == [again.status(a, DAY) for a in ("raw", "clean", "weekly", "priced")]
    assert states == snapshot
