"""Status reports and ``why`` chains."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import partita as pt
from partita.assets import UNPARTITIONED, AssetGraph
from partita.core.plan.explain import (
    AssetStatus,
    WhyLink,
    asset_status,
    chain_nodes,
    compact_ranges,
    why_chain,
)
from partita.core.plan.status import Freshness, StatusResolver
from partita.storage.records import PartitionState, VersionRecord
from tests.core.conftest import RecordBuild, States, builder

NOW = dt.datetime(2026, 4, 10, 12, 0, tzinfo=dt.UTC)
DAILY = pt.DailyPartitions(start="2026-04-01")
DAY = "2026-04-08"
KEYS = [f"2026-04-0{d}" for d in range(1, 10)]


def raw(ctx: pt.Context) -> int:
    return 1


def clean(raw: int) -> int:
    return raw


def report(clean: int) -> str:
    return str(clean)


def summary(clean: list) -> int:
    return sum(clean)


GRAPH = AssetGraph(
    [
        pt.asset(partitions=DAILY)(raw),
        pt.asset(partitions=DAILY)(clean),
        pt.asset(partitions=DAILY)(report),
        pt.asset(summary),
    ]
)


@pytest.fixture
def build(record_build: RecordBuild) -> Callable[..., States]:
    return builder(record_build, GRAPH, NOW)


def recorded(states: States, asset: str, key: str, inputs: dict) -> VersionRecord:
    """The catalog's record of the current version of a partition."""
    state = states[asset][key]
    return VersionRecord(
        version_id=state.version_id or "",
        asset=asset,
        partition=key,
        kind="json",
        files=(),
        rows=None,
        bytes=0,
        data_version=state.data_version or "",
        code_version=state.code_version or "",
        input_hash=state.input_hash or "",
        inputs=inputs,
        run_id="run",
        created_at=0.0,
    )


# -- compact ranges -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("positions", "expected"),
    [
        ([], []),
        ([3], ["2026-04-04"]),
        ([0, 1, 2], ["2026-04-01..2026-04-03"]),
        ([0, 1, 2, 4, 6, 7], ["2026-04-01..2026-04-03", "2026-04-05", "2026-04-07..2026-04-08"]),
        ([0, 2, 4], ["2026-04-01", "2026-04-03", "2026-04-05"]),
        (list(range(9)), ["2026-04-01..2026-04-09"]),
    ],
)
def test_compact_ranges(positions: list[int], expected: list[str]) -> None:
    assert compact_ranges(positions, KEYS) == expected


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(0, len(KEYS) - 1)))
def test_compact_ranges_expand_back_to_the_positions(chosen: set[int]) -> None:
    positions = sorted(chosen)
    ranges = compact_ranges(positions, KEYS)
    expanded: list[int] = []
    for text in ranges:
        first, _, last = text.partition("..")
        lo, hi = KEYS.index(first), KEYS.index(last or first)
        assert lo < hi or not last  # a single key is never written as k..k
        expanded.extend(range(lo, hi + 1))
    assert expanded == positions
    gaps = [
        KEYS.index(b.partition("..")[0]) - KEYS.index(a.rpartition("..")[2])
        for a, b in itertools.pairwise(ranges)
    ]
    assert all(gap > 1 for gap in gaps)  # maximal runs


# -- asset status ---------------------------------------------------------------------------


def test_asset_status_counts_ranges_causes_and_failures(build) -> None:
    states = build({}, *[("raw", k) for k in KEYS[:5]])
    states = build(states, ("raw", KEYS[2]), code="old", failure="ValueError: boom")
    states["raw"][KEYS[7]] = PartitionState(None, None, None, None, failure="E: never")
    found = asset_status(StatusResolver(GRAPH, states, NOW), "raw", KEYS)
    assert found == AssetStatus(
        asset="raw",
        partitioned=True,
        counts={Freshness.FRESH: 4, Freshness.STALE: 1, Freshness.MISSING: 4},
        ranges={
            Freshness.FRESH: ["2026-04-01..2026-04-02", "2026-04-04..2026-04-05"],
            Freshness.STALE: ["2026-04-03"],
            Freshness.MISSING: ["2026-04-06..2026-04-09"],
        },
        stale=[("2026-04-03", "code changed")],
        failed=[("2026-04-03", "ValueError: boom"), ("2026-04-08", "E: never")],
    )
    assert found.total == len(KEYS)


def test_asset_status_of_an_unpartitioned_asset() -> None:
    found = asset_status(StatusResolver(GRAPH, {}, NOW), "summary", [UNPARTITIONED])
    assert found.partitioned is False
    assert found.counts == {Freshness.FRESH: 0, Freshness.STALE: 0, Freshness.MISSING: 1}
    assert found.ranges == {Freshness.MISSING: [UNPARTITIONED]}


# -- why ------------------------------------------------------------------------------------


def test_why_a_missing_partition() -> None:
    assert why_chain(StatusResolver(GRAPH, {}, NOW), "raw", DAY, {}) == [
        WhyLink("raw", DAY, Freshness.MISSING, "missing", "never built")
    ]


def test_why_walks_down_to_the_root_cause(build) -> None:
    states = build({}, ("raw", DAY), ("clean", DAY), ("report", DAY))
    states["raw"][DAY] = dataclasses.replace(states["raw"][DAY], code_version="0ld")
    resolver = StatusResolver(GRAPH, states, NOW)
    versions = {("raw", DAY): recorded(states, "raw", DAY, {})}
    chain = why_chain(resolver, "report", DAY, versions)
    now = GRAPH.get("raw").code_version
    assert chain == [
        WhyLink("report", DAY, Freshness.STALE, f"upstream stale: clean {DAY}"),
        WhyLink("clean", DAY, Freshness.STALE, f"upstream stale: raw {DAY}"),
        WhyLink(
            "raw",
            DAY,
            Freshness.STALE,
            "code changed",
            f"the code of raw changed: built with code version 0ld, now {now}",
        ),
    ]
    assert chain_nodes(resolver, "report", DAY) == [(link.asset, link.partition) for link in chain]


def test_why_a_missing_upstream_ends_at_never_built(build) -> None:
    states = build({}, ("clean", DAY))
    states["raw"] = {DAY: PartitionState(None, None, None, None, failure="ValueError: 503")}
    chain = why_chain(StatusResolver(GRAPH, states, NOW), "clean", DAY, {})
    assert chain == [
        WhyLink("clean", DAY, Freshness.STALE, f"upstream missing: raw {DAY}"),
        WhyLink(
            "raw",
            DAY,
            Freshness.MISSING,
            "missing",
            "never built; last attempt failed: ValueError: 503",
        ),
    ]


def test_why_fresh(build) -> None:
    states = build({}, ("raw", DAY))
    chain = why_chain(StatusResolver(GRAPH, states, NOW), "raw", DAY, {})
    assert chain == [
        WhyLink(
            "raw",
            DAY,
            Freshness.FRESH,
            None,
            "fresh: built from the current code and upstream data",
        )
    ]


def test_why_upstream_changed_names_the_rebuilt_partition(build) -> None:
    states = build({}, ("raw", DAY), data="d1")
    states = build(states, ("clean", DAY))
    states = build(states, ("raw", DAY), data="d2")
    resolver = StatusResolver(GRAPH, states, NOW)
    versions = {("clean", DAY): recorded(states, "clean", DAY, {"raw": {DAY: "d1"}})}
    assert why_chain(resolver, "clean", DAY, versions) == [
        WhyLink(
            "clean",
            DAY,
            Freshness.STALE,
            "upstream changed: raw",
            f"raw {DAY} was rebuilt with different data: built from data version d1, now d2",
        )
    ]
    assert why_chain(resolver, "clean", DAY, {})[0].detail == "upstream data changed"


def test_why_upstream_changed_names_a_changed_set_of_partitions(build) -> None:
    keys = KEYS[:3]
    states = build({}, *[("raw", k) for k in keys], *[("clean", k) for k in keys])
    early = dt.datetime(2026, 4, 4, 1, tzinfo=dt.UTC)
    states = build(states, ("summary", UNPARTITIONED), now=early)
    states = build(states, ("raw", KEYS[3]), ("clean", KEYS[3]))
    resolver = StatusResolver(GRAPH, states, dt.datetime(2026, 4, 5, 1, tzinfo=dt.UTC))
    built_from = {"clean": dict.fromkeys(keys, "d1")}
    versions = {("summary", UNPARTITIONED): recorded(states, "summary", UNPARTITIONED, built_from)}
    chain = why_chain(resolver, "summary", UNPARTITIONED, versions)
    assert [(link.status, link.cause) for link in chain] == [
        (Freshness.STALE, "upstream changed: clean")
    ]
    assert chain[0].detail == "the partitions mapped from clean changed (+2026-04-04)"
