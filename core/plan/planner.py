"""Plan, then apply: ``plan(...)`` decides what to build and why, as frozen data.

The planner is pure — no clock, no I/O. The materializer is the only writer: it
executes a :class:`Plan` and re-checks each step just before running it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from partita.assets import AssetGraph, DynamicKeys
from partita.core.plan.status import Cause, CauseKind, Freshness, States, StatusResolver


class Target(BaseModel):
    """An asset and the partitions of it that were asked for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    asset: str
    partitions: tuple[str, ...]


class Step(BaseModel):
    """Build one partition of one asset, for a reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    asset: str
    partition: str
    reason: str
    kind: CauseKind


class Plan(BaseModel):
    """What a materialization will do: steps in dependency order, and what was fresh.

    Attributes:
        steps: the partitions to build, upstream before downstream, oldest first.
        fresh: the asked-for partitions that are already fresh (nothing to do).
        targets: what was asked for.
        now: the time the plan was made for (which partitions were due).
        dynamic: the dynamic partition keys the plan was made with.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: tuple[Step, ...]
    fresh: tuple[tuple[str, str], ...]
    targets: tuple[Target, ...]
    now: dt.datetime
    force: bool = False
    dynamic: dict[str, tuple[str, ...]] = {}

    @property
    def empty(self) -> bool:
        """True when there is nothing to build."""
        return not self.steps


def plan(
    graph: AssetGraph,
    states: States,
    targets: Sequence[Target],
    now: dt.datetime,
    *,
    force: bool = False,
    dynamic: DynamicKeys | None = None,
) -> Plan:
    """Plan the builds that make ``targets`` fresh.

    Missing or stale partitions in the targets' upstream closure are built first;
    fresh ones are never rerun. With ``force``, the targets themselves are rebuilt
    even when fresh (their upstream only when it is not fresh), and so are the
    partitions that read a forced target on the way to another target.
    """
    resolver = StatusResolver(graph, states, now, dynamic)
    fresh = Freshness.FRESH  # a local: compared once per asked-for partition
    chosen: dict[tuple[str, str], Cause] = {}
    already: list[tuple[str, str]] = []  # asked for and fresh
    todo: list[tuple[str, str]] = []
    for target in targets:
        # A whole asset at a time: a backfill's range is computed in one pass.
        keys = list(target.partitions)
        for key, status in zip(keys, resolver.statuses(target.asset, keys), strict=True):
            if status.status == fresh and not force:
                already.append((target.asset, key))
                continue
            chosen[(target.asset, key)] = status.cause or Cause(CauseKind.FORCED)
            todo.append((target.asset, key))
    while todo:
        asset, key = todo.pop()
        for edge in graph.upstream(asset):
            for up_key in resolver.upstream_keys(edge, key):
                node = (edge.upstream, up_key)
                if node in chosen:
                    continue
                status = resolver.status(*node)
                if status.status != fresh:
                    chosen[node] = status.cause or Cause(CauseKind.FORCED)
                    todo.append(node)
    rank = {asset: index for index, asset in enumerate(graph.order)}
    if force:
        _add_readers_of_forced(graph, resolver, targets, chosen, rank)
    ordered = sorted(chosen, key=lambda node: (rank[node[0]], _position(resolver, *node), node[1]))
    steps = tuple(
        Step(asset=a, partition=p, reason=str(chosen[(a, p)]), kind=chosen[(a, p)].kind)
        for a, p in ordered
    )
    return Plan(
        steps=steps,
        fresh=tuple(already),
        targets=tuple(targets),
        now=now,
        force=force,
        dynamic={name: tuple(keys) for name, keys in (dynamic or {}).items()},
    )


def _position(resolver: StatusResolver, asset: str, key: str) -> int:
    # Oldest first: a partition's place in its asset's key order (time order).
    space = resolver.space(asset)
    position = space.index(key) if space is not None else None
    return -1 if position is None else position


def _add_readers_of_forced(
    graph: AssetGraph,
    resolver: StatusResolver,
    targets: Sequence[Target],
    chosen: dict[tuple[str, str], Cause],
    rank: dict[str, int],
) -> None:
    """Plan the fresh partitions between a forced target and another target.

    A forced rebuild may write new data, so what reads it must be rebuilt too or the
    other targets would end up stale; the materializer re-checks these steps and skips
    the ones whose inputs did not change.
    """
    closure: set[tuple[str, str]] = set()
    todo = [(target.asset, key) for target in targets for key in target.partitions]
    while todo:
        node = todo.pop()
        if node not in closure:
            closure.add(node)
            for edge in graph.upstream(node[0]):
                todo.extend((edge.upstream, k) for k in resolver.upstream_keys(edge, node[1]))
    for asset, key in sorted(closure - set(chosen), key=lambda node: (rank[node[0]], node[1])):
        for edge in graph.upstream(asset):
            read = [k for k in resolver.upstream_keys(edge, key) if (edge.upstream, k) in chosen]
            if read:
                chosen[(asset, key)] = Cause(CauseKind.FORCED, edge.upstream, read[0])
                break


def step_dependencies(
    graph: AssetGraph, steps: Sequence[Step], now: dt.datetime, dynamic: DynamicKeys | None = None
) -> list[list[int]]:
    """For each step, the indexes of the steps it must wait for."""
    index = {(s.asset, s.partition): i for i, s in enumerate(steps)}
    resolver = StatusResolver(graph, {}, now, dynamic)
    waits: list[list[int]] = []
    for step in steps:
        mine: list[int] = []
        for edge in graph.upstream(step.asset):
            for up_key in resolver.upstream_keys(edge, step.partition):
                found = index.get((edge.upstream, up_key))
                if found is not None:
                    mine.append(found)
        waits.append(mine)
    return waits
