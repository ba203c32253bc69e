"""What every source of automation (a schedule, an eager asset, a file sensor) hands the
daemon on a tick: requests to materialize partitions, a new cursor, and notes saying why.

A source is an :class:`Evaluator`. The daemon reads the catalog once per tick into a
:class:`TickContext`, asks each evaluator for a :class:`Decision`, records every
decision in the tick, runs the requests, and stores each source's new cursor.
Evaluators only decide: they never write to the catalog or the store.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from partita.assets import AssetGraph, DynamicKeys
    from partita.core.plan.status import StatusResolver


@dataclass(frozen=True, slots=True)
class Request:
    """Materialize some partitions of one asset.

    Attributes:
        asset: The asset key.
        partitions: Canonical keys (``UNPARTITIONED`` for an unpartitioned asset),
            oldest first.
        force: Rebuild them even if fresh (a sensor's new file is new data); otherwise
            only missing or stale ones are built, with their missing or stale upstream.
    """

    asset: str
    partitions: tuple[str, ...]
    force: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """What one source decided on one tick.

    Attributes:
        source: ``schedule:<name>``, ``eager:<asset>`` or ``sensor:<name>``.
        requests: What to materialize now (empty: nothing due).
        cursor: The source's new cursor (JSON text), stored once the requests have been
            handed to a run; ``None`` leaves the stored cursor as it is.
        notes: One line each on what was decided and why, shown by ``partita ticks``
            (e.g. ``"5 partitions due, 3 requested, 2 left for the next ticks
            (max_per_tick=3)"``).
    """

    source: str
    requests: tuple[Request, ...] = ()
    cursor: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TickContext:
    """What evaluators see on a tick: one consistent reading of the world.

    Attributes:
        now: The daemon's clock at the tick (injectable: tests simulate days).
        graph: The asset graph.
        dynamic: The keys of dynamic partition sets, read once for the tick.
        resolver: Partition statuses over every asset, from one catalog read at ``now``.
        leased: ``(asset, partition)`` pairs whose lease is held right now (in progress
            in some run): never requested again while they run.
    """

    now: dt.datetime
    graph: AssetGraph
    dynamic: DynamicKeys
    resolver: StatusResolver
    leased: frozenset[tuple[str, str]] = frozenset()


class Evaluator(Protocol):
    """A source of automation."""

    @property
    def source(self) -> str:
        """``schedule:<name>``, ``eager:<asset>`` or ``sensor:<name>``: also the key of
        the source's stored cursor."""
        ...

    def evaluate(self, tick: TickContext, cursor: str | None) -> Decision:
        """Decide what to materialize on this tick, given the cursor stored last time
        (``None`` on the first tick)."""
        ...


__all__ = ["Decision", "Evaluator", "Request", "TickContext"]
