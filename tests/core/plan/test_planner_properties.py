"""Planner properties over random small DAGs and random catalog states.

Every step is inside the targets' upstream closure; steps come in dependency order;
apply-then-plan is empty; a rewritten upstream partition makes exactly its mapped
downstream partitions stale; planning is deterministic and pure.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import partita as pt
from partita.assets import (
    UNPARTITIONED,
    AllPartitions,
    AssetGraph,
    DailyPartitions,
    Identity,
    KeySpace,
    LastPartition,
    PartitionMapping,
    Window,
)
from partita.core.plan.planner import Plan, Target, plan, step_dependencies
from partita.core.plan.status import CauseKind, Freshness, StatusResolver, input_fingerprint
from partita.storage.records import PartitionState

States = dict[str, dict[str, PartitionState]]
Node = tuple[str, str]

FIRST_DAY = dt.date(2026, 1, 1)
# Examples and deadline: the hypothesis profile (tests/conftest.py).
PROPERTIES = settings(suppress_health_check=[HealthCheck.too_slow])


def node(ctx: pt.Context) -> None:
    """Every generated asset runs this; its dependencies are declared with ``deps=``."""


# -- strategies -----------------------------------------------------------------------------


def mapping_options(down: DailyPartitions | None, up: DailyPartitions | None) -> list[Any]:
    """The mappings that can join ``down`` to ``up`` (strategies or values)."""
    if down is not None and up is not None:
        return [Identity(), st.builds(lambda n: Window(size=n), st.integers(1, 3)), AllPartitions()]
    if down is None and up is not None:
        return [AllPartitions(), LastPartition()]
    return [Identity(), AllPartitions()]


@st.composite
def graphs(draw: st.DrawFn) -> AssetGraph:
    """2-6 assets, each reading some earlier ones; daily over a short range, or not."""
    timezone = draw(st.sampled_from(["UTC", "America/New_York"]))
    definitions: dict[str, DailyPartitions | None] = {}
    assets = []
    for i in range(draw(st.integers(2, 6))):
        name = f"a{i}"
        partitioned = i == 0 or draw(st.integers(0, 4)) > 0
        start = FIRST_DAY + dt.timedelta(days=draw(st.integers(0, 3)))
        mine = DailyPartitions(start=start, timezone=timezone) if partitioned else None
        earlier = sorted(definitions)
        ups = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3)) if earlier else []
        deps: dict[str, PartitionMapping] = {}
        for up in ups:
            option = draw(st.sampled_from(mapping_options(mine, definitions[up])))
            deps[up] = draw(option) if isinstance(option, st.SearchStrategy) else option
        version = draw(st.sampled_from(["1", "2"]))
        assets.append(pt.asset(key=name, partitions=mine, deps=deps, code_version=version)(node))
        definitions[name] = mine
    return AssetGraph(assets)


nows = st.builds(
    lambda days, hours: dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days, hours=hours),
    st.integers(1, 9),
    st.integers(0, 23),
)


def keys_of(graph: AssetGraph, asset: str, now: dt.datetime) -> list[str]:
    definition = graph.get(asset).partitions
    return [UNPARTITIONED] if definition is None else definition.space(now).keys()


def all_nodes(graph: AssetGraph, now: dt.datetime) -> list[Node]:
    return [(a, k) for a in graph.order for k in keys_of(graph, a, now)]


@st.composite
def catalogs(draw: st.DrawFn, graph: AssetGraph, now: dt.datetime) -> States:
    """Random catalog states, upstream first, so that some partitions are truly fresh."""
    states: States = {}
    for asset, key in all_nodes(graph, now):
        kind = draw(st.sampled_from(["missing", "built", "built", "old code", "other inputs"]))
        failure = draw(st.sampled_from([None, None, None, "ValueError: boom"]))
        if kind == "missing":
            if failure:
                states.setdefault(asset, {})[key] = PartitionState(None, None, None, None, failure)
            continue
        inputs = StatusResolver(graph, states, now).inputs(asset, key)
        states.setdefault(asset, {})[key] = PartitionState(
            version_id=f"old-{asset}-{key}",
            code_version="0" if kind == "old code" else graph.get(asset).code_version,
            data_version=draw(st.sampled_from(["x", "y"])),
            input_hash="elsewhere" if kind == "other inputs" else input_fingerprint(inputs),
            failure=failure,
        )
    return states


@st.composite
def targets(draw: st.DrawFn, graph: AssetGraph, now: dt.datetime) -> list[Target]:
    wanted = []
    for asset in draw(st.lists(st.sampled_from(graph.order), min_size=1, unique=True)):
        keys = keys_of(graph, asset, now)
        chosen = draw(st.lists(st.sampled_from(keys), min_size=1, unique=True)) if keys else []
        wanted.append(Target(asset=asset, partitions=tuple(chosen)))
    return wanted


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[AssetGraph, States, list[Target], dt.datetime]:
    graph = draw(graphs())
    now = draw(nows)
    return graph, draw(catalogs(graph, now)), draw(targets(graph, now)), now


# -- oracles --------------------------------------------------------------------------------


def space_of(graph: AssetGraph, asset: str, now: dt.datetime) -> KeySpace | None:
    definition = graph.get(asset).partitions
    return None if definition is None else definition.space(now)


def mapped_upstream(graph: AssetGraph, asset: str, key: str, now: dt.datetime) -> Iterable[Node]:
    down = space_of(graph, asset, now)
    for edge in graph.upstream(asset):
        up = space_of(graph, edge.upstream, now)
        for up_key in edge.mapping.upstream(key, down, up).keys:
            yield edge.upstream, up_key


def mapped_downstream(graph: AssetGraph, asset: str, key: str, now: dt.datetime) -> set[Node]:
    up = space_of(graph, asset, now)
    return {
        (edge.downstream, down_key)
        for edge in graph.downstream(asset)
        for down_key in edge.mapping.downstream(key, up, space_of(graph, edge.downstream, now))
    }


def reachable_upstream(graph: AssetGraph, targets: list[Target], now: dt.datetime) -> set[Node]:
    seen: set[Node] = set()
    todo = [(t.asset, k) for t in targets for k in t.partitions]
    while todo:
        found = todo.pop()
        if found not in seen:
            seen.add(found)
            todo.extend(mapped_upstream(graph, *found, now))
    return seen


def reachable_downstream(graph: AssetGraph, start: Node, now: dt.datetime) -> set[Node]:
    seen: set[Node] = set()
    todo = list(mapped_downstream(graph, *start, now))
    while todo:
        found = todo.pop()
        if found not in seen:
            seen.add(found)
            todo.extend(mapped_downstream(graph, *found, now))
    return seen


def content_hash(asset: str, key: str, code: str, inputs: dict[str, dict[str, Any]]) -> str:
    """A deterministic stand-in for the hash of the bytes a step writes."""
    blob = repr((asset, key, code, sorted((a, sorted(v.items())) for a, v in inputs.items())))
    return hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()


def apply(graph: AssetGraph, states: States, planned: Plan) -> States:
    """Simulate a successful run of ``planned`` (pure: returns new states)."""
    after = {asset: dict(recorded) for asset, recorded in states.items()}
    for number, step in enumerate(planned.steps):
        inputs = StatusResolver(graph, after, planned.now).inputs(step.asset, step.partition)
        code = graph.get(step.asset).code_version
        after.setdefault(step.asset, {})[step.partition] = PartitionState(
            version_id=f"new-{number}",
            code_version=code,
            data_version=content_hash(step.asset, step.partition, code, inputs),
            input_hash=input_fingerprint(inputs),
        )
    return after


def all_fresh(graph: AssetGraph, now: dt.datetime) -> States:
    everything = [Target(asset=a, partitions=tuple(keys_of(graph, a, now))) for a in graph.order]
    states = apply(graph, {}, plan(graph, {}, everything, now))
    resolver = StatusResolver(graph, states, now)
    assert all(resolver.status(*n).status == Freshness.FRESH for n in all_nodes(graph, now))
    return states


def statuses(graph: AssetGraph, states: States, now: dt.datetime) -> dict[Node, Any]:
    resolver = StatusResolver(graph, states, now)
    return {n: resolver.status(*n) for n in all_nodes(graph, now)}


# -- properties -----------------------------------------------------------------------------


@PROPERTIES
@given(scenarios())
def test_every_step_is_inside_the_targets_upstream_closure(scenario: Any) -> None:
    graph, states, wanted, now = scenario
    planned = plan(graph, states, wanted, now)
    closure = graph.closure_upstream([t.asset for t in wanted])
    reachable = reachable_upstream(graph, wanted, now)
    for step in planned.steps:
        assert step.asset in closure
        assert (step.asset, step.partition) in reachable
    # ... and it is exactly what is not fresh there: fresh partitions are never rerun.
    resolver = StatusResolver(graph, states, now)
    not_fresh = {n for n in reachable if resolver.status(*n).status != Freshness.FRESH}
    assert {(s.asset, s.partition) for s in planned.steps} == not_fresh
    for step in planned.steps:
        cause = resolver.status(step.asset, step.partition).cause
        assert cause is not None
        assert (step.kind, step.reason) == (cause.kind, str(cause))
    asked = [(t.asset, k) for t in wanted for k in t.partitions]
    assert set(planned.fresh) == {n for n in asked if n not in not_fresh}


@PROPERTIES
@given(scenarios(), st.booleans())
def test_steps_come_in_dependency_order(scenario: Any, force: bool) -> None:
    graph, states, wanted, now = scenario
    planned = plan(graph, states, wanted, now, force=force)
    position = {(s.asset, s.partition): i for i, s in enumerate(planned.steps)}
    assert len(position) == len(planned.steps)  # each partition once
    for i, step in enumerate(planned.steps):
        for upstream in mapped_upstream(graph, step.asset, step.partition, now):
            if upstream in position:
                assert position[upstream] < i
    for i, waits in enumerate(step_dependencies(graph, planned.steps, now)):
        assert all(w < i for w in waits)
    days = [(s.asset, s.partition) for s in planned.steps]
    for asset in graph.order:  # oldest first within an asset
        mine = [k for a, k in days if a == asset]
        assert mine == sorted(mine)


@PROPERTIES
@given(scenarios(), st.booleans())
def test_apply_then_plan_is_empty(scenario: Any, force: bool) -> None:
    graph, states, wanted, now = scenario
    planned = plan(graph, states, wanted, now, force=force)
    if force:
        asked = {(t.asset, k) for t in wanted for k in t.partitions}
        assert asked <= {(s.asset, s.partition) for s in planned.steps}
        assert planned.fresh == ()
    after = apply(graph, states, planned)
    again = plan(graph, after, wanted, now)
    assert again.steps == ()
    assert again.empty
    assert set(again.fresh) == {(t.asset, k) for t in wanted for k in t.partitions}
    resolver = StatusResolver(graph, after, now)
    assert all(
        resolver.status(s.asset, s.partition).status == Freshness.FRESH for s in planned.steps
    )


@PROPERTIES
@given(graphs(), nows, st.data())
def test_a_rewritten_upstream_makes_exactly_its_mapped_downstream_stale(
    graph: AssetGraph, now: dt.datetime, data: st.DataObject
) -> None:
    nodes = all_nodes(graph, now)
    if not nodes:
        return
    states = all_fresh(graph, now)
    asset, key = data.draw(st.sampled_from(nodes))
    before = statuses(graph, states, now)
    old = states[asset][key]

    rewritten = copy.deepcopy(states)
    rewritten[asset][key] = dataclasses.replace(old, version_id="re", data_version="changed")
    after = statuses(graph, rewritten, now)
    direct = mapped_downstream(graph, asset, key, now)
    downstream = reachable_downstream(graph, (asset, key), now)
    assert direct <= downstream
    for found, was in before.items():
        assert was.status == Freshness.FRESH
        now_status = after[found]
        if found in direct:
            assert (now_status.status, now_status.cause.kind) == (
                Freshness.STALE,
                CauseKind.UPSTREAM_CHANGED,
            )
        elif found in downstream:
            assert (now_status.status, now_status.cause.kind) == (
                Freshness.STALE,
                CauseKind.UPSTREAM_STALE,
            )
        else:
            assert now_status.status == Freshness.FRESH, found
    assert {n for n, s in after.items() if s.status != Freshness.FRESH} == downstream

    same = copy.deepcopy(states)
    same[asset][key] = dataclasses.replace(old, version_id="re")  # identical bytes
    assert statuses(graph, same, now) == before


@PROPERTIES
@given(scenarios(), st.data())
def test_a_rewrite_changes_nothing_outside_its_downstream(
    scenario: Any, data: st.DataObject
) -> None:
    graph, states, _, now = scenario
    built = [(a, k) for a, recorded in states.items() for k, s in recorded.items() if s.version_id]
    if not built:
        return
    asset, key = data.draw(st.sampled_from(sorted(built)))
    rewritten = copy.deepcopy(states)
    rewritten[asset][key] = dataclasses.replace(
        states[asset][key], version_id="re", data_version="changed"
    )
    before, after = statuses(graph, states, now), statuses(graph, rewritten, now)
    downstream = reachable_downstream(graph, (asset, key), now)
    for found, was in before.items():
        if found not in downstream:
            assert after[found] == was, found


@PROPERTIES
@given(scenarios(), st.booleans())
def test_planning_is_deterministic_and_pure(scenario: Any, force: bool) -> None:
    graph, states, wanted, now = scenario
    snapshot = copy.deepcopy(states)
    first = plan(graph, states, wanted, now, force=force)
    assert states == snapshot  # nothing written back
    assert plan(graph, snapshot, wanted, now, force=force) == first
    reordered = {a: dict(reversed(s.items())) for a, s in reversed(states.items())}
    assert plan(graph, reordered, wanted, now, force=force) == first
    assert Plan.model_validate_json(first.model_dump_json()) == first  # serializable
    assert first.targets == tuple(wanted)
    assert first.now == now
    assert first.force is force


# -- examples -------------------------------------------------------------------------------


def example_graph() -> AssetGraph:
    daily = DailyPartitions(start="2026-04-01")
    raw = pt.asset(key="raw", partitions=daily, code_version="1")(node)
    clean = pt.asset(key="clean", partitions=daily, deps=["raw"], code_version="1")(node)
    weekly = pt.asset(
        key="weekly", partitions=daily, deps={"clean": Window(days=3)}, code_version="1"
    )(node)
    return AssetGraph([weekly, clean, raw])


NOW = dt.datetime(2026, 4, 10, 12, tzinfo=dt.UTC)


def test_an_empty_catalog_builds_the_whole_upstream_window_first() -> None:
    graph = example_graph()
    planned = plan(graph, {}, [Target(asset="weekly", partitions=("2026-04-08",))], NOW)
    assert [(s.asset, s.partition) for s in planned.steps] == [
        ("raw", "2026-04-06"),
        ("raw", "2026-04-07"),
        ("raw", "2026-04-08"),
        ("clean", "2026-04-06"),
        ("clean", "2026-04-07"),
        ("clean", "2026-04-08"),
        ("weekly", "2026-04-08"),
    ]
    assert {s.kind for s in planned.steps} == {CauseKind.MISSING}
    assert planned.fresh == ()


def test_a_fresh_target_is_skipped_unless_forced() -> None:
    graph = example_graph()
    wanted = [Target(asset="clean", partitions=("2026-04-08",))]
    states = apply(graph, {}, plan(graph, {}, wanted, NOW))
    assert plan(graph, states, wanted, NOW).fresh == (("clean", "2026-04-08"),)
    forced = plan(graph, states, wanted, NOW, force=True)
    assert [(s.asset, s.partition, s.kind, s.reason) for s in forced.steps] == [
        ("clean", "2026-04-08", CauseKind.FORCED, "forced")
    ]


@pytest.mark.parametrize("partitions", [(), ("2026-04-01",)])
def test_targets_without_work(partitions: tuple[str, ...]) -> None:
    graph = example_graph()
    wanted = [Target(asset="raw", partitions=partitions)]
    states = apply(graph, {}, plan(graph, {}, wanted, NOW))
    assert plan(graph, states, wanted, NOW).empty


def test_forcing_two_targets_rebuilds_what_lies_between_them() -> None:
    graph = example_graph()
    day = "2026-04-08"
    everything = [Target(asset="weekly", partitions=(day,))]
    states = apply(graph, {}, plan(graph, {}, everything, NOW))
    wanted = [Target(asset="raw", partitions=(day,)), Target(asset="weekly", partitions=(day,))]
    forced = plan(graph, states, wanted, NOW, force=True)
    assert [(s.asset, s.partition, s.reason) for s in forced.steps] == [
        ("raw", day, "forced"),
        ("clean", day, f"forced: raw {day}"),  # re-checked by the materializer, not forced
        ("weekly", day, "forced"),
    ]
    assert {s.kind for s in forced.steps} == {CauseKind.FORCED}
