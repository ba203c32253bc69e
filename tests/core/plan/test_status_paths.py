"""The whole-asset status path agrees with the per-key path, on random graphs and catalogs.

``StatusResolver.statuses`` computes an asset's partitions in bulk (the fast path that
status over a million partitions takes); ``status`` computes one partition at a time. Both
must give the same status, cause and failure for every partition of every kind of
partitions and mapping, including self-dependencies and partitions outside the definition.
"""

from __future__ import annotations

import datetime as dt
import gc
import random
import weakref

from hypothesis import given, settings
from hypothesis import strategies as st

import partita as pt
from partita.assets import (
    UNPARTITIONED,
    AllPartitions,
    AssetGraph,
    Containment,
    DailyPartitions,
    Dimensions,
    HourlyPartitions,
    Identity,
    LastPartition,
    MultiPartitions,
    Previous,
    StaticPartitions,
    WeeklyPartitions,
    Window,
)
from partita.core.plan import explain as report
from partita.core.plan.status import StatusResolver, input_fingerprint
from partita.errors import DefinitionError
from partita.storage.records import PartitionState, PartitionStates


def node(ctx: pt.Context) -> None:
    """x"""


def make_graph(rnd: random.Random, now: dt.datetime):
    tz = rnd.choice(["UTC", "America/New_York"])
    day0 = (now - dt.timedelta(days=rnd.randint(3, 20))).date()
    pool = [
        DailyPartitions(start=day0, timezone=tz),
        DailyPartitions(start=day0, timezone=tz),
        DailyPartitions(start=day0 + dt.timedelta(days=2), timezone=tz),
        HourlyPartitions(
            start=(now - dt.timedelta(hours=rnd.randint(5, 60))).strftime("%Y-%m-%dT%H:00"),
            timezone=tz,
        ),
        WeeklyPartitions(start=day0 - dt.timedelta(days=30), timezone=tz),
        None,
    ]
    static = StaticPartitions(["eu", "us", "apac"], dimension="region")
    pool += [static, MultiPartitions(date=pool[0], region=static)]
    weights = [6, 3, 2, 2, 1, 1, 2, 2]
    defs = {}
    assets = []
    for i in range(rnd.randint(2, 8)):
        name = f"a{i}"
        mine = rnd.choices(pool, weights)[0]
        deps = {}
        earlier = sorted(defs)
        for up in rnd.sample(earlier, k=min(len(earlier), rnd.randint(0, 3))):
            theirs = defs[up]
            opts = [
                Identity(),
                Identity(),
                Identity(),
                Containment(),
                Window(size=rnd.randint(1, 4), offset=rnd.randint(-3, 2)),
                Previous(),
                AllPartitions(),
                LastPartition(),
                Dimensions(),
                Dimensions(),
            ]
            rnd.shuffle(opts)
            for option in opts:
                try:
                    option.check(mine, theirs, "x")
                except (DefinitionError, AssertionError):
                    continue
                deps[up] = option
                break
        if (
            isinstance(mine, (DailyPartitions, HourlyPartitions, WeeklyPartitions))
            and rnd.random() < 0.15
        ):
            deps[name] = rnd.choice(
                [Previous(), Window(size=rnd.randint(1, 3), offset=-rnd.randint(1, 2))]
            )
        version = rnd.choice(["1", "2"])
        assets.append(pt.asset(key=name, partitions=mine, deps=deps, code_version=version)(node))
        defs[name] = mine
    return AssetGraph(assets)


def keys_of(graph, asset, now):
    d = graph.get(asset).partitions
    return [UNPARTITIONED] if d is None else d.space(now).keys()


def make_states(rnd, graph, now):
    states = {}
    for asset in graph.order:
        keys = keys_of(graph, asset, now)
        extra = []
        d = graph.get(asset).partitions
        if d is not None and rnd.random() < 0.2:
            extra = ["2020-01-01", "1999-01-01T00:00"]
        for key in keys + extra:
            kind = rnd.choice(
                ["missing", "built", "built", "built", "built", "old code", "other inputs"]
            )
            failure = rnd.choice([None, None, None, None, "ValueError: boom"])
            if kind == "missing":
                if failure:
                    states.setdefault(asset, {})[key] = PartitionState(
                        None, None, None, None, failure
                    )
                continue
            inputs = StatusResolver(graph, states, now).inputs(asset, key) if key in keys else {}
            states.setdefault(asset, {})[key] = PartitionState(
                version_id=f"v-{asset}-{key}",
                code_version="0" if kind == "old code" else graph.get(asset).code_version,
                data_version=rnd.choice(["x", "y", "z"]),
                input_hash="elsewhere" if kind == "other inputs" else input_fingerprint(inputs),
                failure=failure,
            )
    # sometimes rewrite an upstream data version afterwards (upstream changed)
    for _ in range(rnd.randint(0, 3)):
        asset = rnd.choice(list(graph.order))
        if states.get(asset):
            key = rnd.choice(list(states[asset]))
            s = states[asset][key]
            if s.version_id:
                states[asset][key] = PartitionState(
                    s.version_id, s.code_version, "w", s.input_hash, s.failure
                )
    return states


def norm(status):
    cause = status.cause
    return (
        status.status,
        None if cause is None else (cause.kind, cause.upstream, cause.partition),
        status.failure,
    )


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32))
def test_whole_asset_statuses_equal_per_key_statuses(seed: int) -> None:
    rnd = random.Random(seed)
    now = dt.datetime(2026, 3, 10, tzinfo=dt.UTC) + dt.timedelta(hours=rnd.randint(0, 24 * 300))
    graph = make_graph(rnd, now)
    states = make_states(rnd, graph, now)
    rows = {
        asset: PartitionStates(
            {
                key: (
                    asset,
                    key,
                    s.version_id,
                    s.code_version,
                    s.data_version,
                    s.input_hash,
                    s.failure,
                )
                for key, s in recorded.items()
            }
        )
        for asset, recorded in states.items()
    }
    order = list(graph.order)
    for variant in (states, rows):
        shared = StatusResolver(graph, variant, now)
        for asset in order if rnd.random() < 0.5 else reversed(order):
            keys = keys_of(graph, asset, now)
            per_key = [norm(StatusResolver(graph, variant, now).status(asset, k)) for k in keys]
            assert [norm(s) for s in shared.statuses(asset, keys)] == per_key
            alone = StatusResolver(graph, variant, now).statuses(asset, keys)
            assert [norm(s) for s in alone] == per_key
            if len(keys) > 2:
                some = sorted(rnd.sample(range(len(keys)), rnd.randint(1, len(keys))))
                subset = StatusResolver(graph, variant, now).statuses(
                    asset, [keys[i] for i in some]
                )
                assert [norm(s) for s in subset] == [per_key[i] for i in some]
            space = shared.space(asset)
            recorded = states.get(asset, {})
            outside = (
                0
                if space is None
                else sum(1 for k, v in recorded.items() if v.version_id and k not in space)
            )
            assert shared.outside(asset) == outside
            assert shared.keys(asset) == keys
            bulk = report.asset_status(StatusResolver(graph, variant, now), asset, keys)
            assert bulk.counts == {s: sum(1 for p in per_key if p[0] == s) for s in report.STATUSES}


def test_a_resolver_and_its_snapshot_are_freed_as_soon_as_dropped() -> None:
    # Without a reference cycle: a million rows must not wait for the cycle collector.
    rnd = random.Random(7)
    now = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    graph = make_graph(rnd, now)
    resolver = StatusResolver(graph, make_states(rnd, graph, now), now)
    for asset in graph.order:
        resolver.statuses(asset, keys_of(graph, asset, now))
        resolver.status(asset, keys_of(graph, asset, now)[0])
    dropped = weakref.ref(resolver)
    gc.disable()
    try:
        del resolver
        assert dropped() is None
    finally:
        gc.enable()
