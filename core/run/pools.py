"""Concurrency limits: named pools shared by assets, and an asset's own ``max_concurrency``.

A limit of size ``n`` is ``n`` slot leases in the catalog (``pool:api/0``,
``asset:raw_sales/0``...). A step whose asset has limits takes one slot of each before
it runs and gives them back after, so the limit holds across every run and process that
shares the catalog. Slots are owned by the run id, renewed by its heartbeat and freed by
``Catalog.release_all``, so a crashed run's slots are taken over like its partition leases.

Within one run, the materializer never hands a worker a step whose limit its own steps
in flight already fill (:class:`ReadySteps`): the worker would only wait, while steps of
other assets could run.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from partita.assets import Asset, AssetGraph
from partita.errors import DefinitionError

if TYPE_CHECKING:
    from partita.storage.catalog.leases import Leases

SLOT_POLL_S = 0.05
SLOT_POLL_MAX_S = 1.0


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``size`` steps at once among those sharing the lease prefix ``name``."""

    name: str
    size: int
    label: str


def limits_of(item: Asset, pools: Mapping[str, int]) -> tuple[Limit, ...]:
    """The limits a step of ``item`` is subject to, in the order their slots are taken.

    Every step takes its slots in one global order (by name), so two steps each holding
    one slot never wait for each other's.
    """
    limits = []
    if item.pool is not None:
        if item.pool not in pools:
            raise DefinitionError(_undefined_pool(item.key, item.pool))
        limits.append(Limit(f"pool:{item.pool}", pools[item.pool], f"pool {item.pool}"))
    if item.max_concurrency is not None:
        limits.append(
            Limit(f"asset:{item.key}", item.max_concurrency, f"max_concurrency of {item.key}")
        )
    return tuple(sorted(limits, key=lambda limit: limit.name))


def run_limits(
    graph: AssetGraph, assets: Iterable[str], pools: Mapping[str, int]
) -> dict[str, tuple[Limit, ...]]:
    """The limits of those ``assets`` that have any."""
    found = {key: limits_of(graph.get(key), pools) for key in set(assets)}
    return {key: limits for key, limits in found.items() if limits}


def check_pools(graph: AssetGraph, pools: Mapping[str, int]) -> None:
    """Check that every pool an asset names is defined in the settings.

    Raises:
        DefinitionError: an asset uses a pool ``[pools]`` does not define.
    """
    for key in graph.order:
        pool = graph.get(key).pool
        if pool is not None and pool not in pools:
            raise DefinitionError(_undefined_pool(key, pool))


def _undefined_pool(asset: str, pool: str) -> str:
    return (
        f"asset {asset} uses pool {pool!r}, which partita.toml does not define; "
        f"add [pools] {pool} = N"
    )


class ReadySteps:
    """The steps of a run ready to start, in the order they became ready.

    A step is held back while this run's steps in flight already fill one of its
    asset's limits; :meth:`take` then returns a step of another asset instead. Steps of
    one asset start in the order they became ready.

    Args:
        assets: the asset of each step, by step index.
        limits: the limits of each asset that has any.
    """

    def __init__(self, assets: Sequence[str], limits: Mapping[str, tuple[Limit, ...]]) -> None:
        self._assets = assets
        self._limits = limits
        self._ready: deque[int] = deque()
        self._held: dict[str, deque[int]] = {}  # by asset, oldest first
        self._busy: dict[str, int] = {}  # steps in flight per limit name

    def __bool__(self) -> bool:
        return bool(self._ready or self._held)

    def extend(self, indexes: Iterable[int]) -> None:
        """Add steps that became ready."""
        self._ready.extend(indexes)

    def append(self, index: int) -> None:
        """Add a step that became ready."""
        self._ready.append(index)

    def take(self) -> int | None:
        """The next step that may start now (counted as in flight), or ``None``."""
        for asset, held in self._held.items():
            if self._free(asset):
                index = held.popleft()
                if not held:
                    del self._held[asset]
                return self._start(index)
        while self._ready:
            index = self._ready.popleft()
            asset = self._assets[index]
            if asset in self._held or not self._free(asset):
                self._held.setdefault(asset, deque()).append(index)
            else:
                return self._start(index)
        return None

    def take_unlimited(self) -> int | None:
        """The next ready step if its asset has no limits (to join a batch), else ``None``."""
        if self._ready and self._assets[self._ready[0]] not in self._limits:
            return self._ready.popleft()
        return None

    def waiting(self) -> int:
        """How many steps are ready and not yet taken."""
        return len(self._ready) + sum(len(held) for held in self._held.values())

    def finished(self, index: int) -> None:
        """A step that :meth:`take` returned has ended: its slots are free again."""
        for limit in self._limits.get(self._assets[index], ()):
            self._busy[limit.name] -= 1

    def _free(self, asset: str) -> bool:
        return all(self._busy.get(lim.name, 0) < lim.size for lim in self._limits.get(asset, ()))

    def _start(self, index: int) -> int:
        for limit in self._limits.get(self._assets[index], ()):
            self._busy[limit.name] = self._busy.get(limit.name, 0) + 1
        return index


@dataclass(frozen=True, slots=True)
class HeldSlots:
    """The slots a step took, and how long it waited for each limit (seconds asked of
    ``sleep``)."""

    slots: tuple[tuple[str, int], ...]
    waited: tuple[tuple[Limit, float], ...]

    def notes(self) -> list[str]:
        """One line per limit the step waited for, for its logs."""
        return [
            f"waited {round(seconds, 2):g} s for {limit.label}" for limit, seconds in self.waited
        ]


class SlotKeeper:
    """Takes and gives back the slots of concurrency limits for one run, in the catalog.

    Slots are owned by the run id (so its heartbeat renews them and a crashed run's are
    taken over), but a lease counts its own holder's as free: the keeper remembers which
    slots the run's steps hold and offers only the others.

    Args:
        leases: the catalog's leases.
        owner: the run id.
        sleep: how to wait between tries (injectable so tests never sleep).
    """

    def __init__(self, leases: Leases, owner: str, sleep: Callable[[float], None]) -> None:
        self._leases = leases
        self._owner = owner
        self._sleep = sleep
        self._mine: set[str] = set()
        self._lock = threading.Lock()

    def acquire(self, limits: Sequence[Limit]) -> HeldSlots:
        """Take one slot of each limit, in order, waiting (with backoff) while all of a
        limit's slots are held."""
        from partita.storage.catalog.leases import pool_slots

        slots: list[tuple[str, int]] = []
        waited: list[tuple[Limit, float]] = []
        try:
            for limit in limits:
                delay, total = SLOT_POLL_S, 0.0
                while (taken := self._take(pool_slots(limit.name, limit.size))) is None:
                    self._sleep(delay)
                    total += delay
                    delay = min(delay * 2, SLOT_POLL_MAX_S)
                slots.append(taken)
                if total:
                    waited.append((limit, total))
        except BaseException:
            self.release(HeldSlots(tuple(slots), ()))
            raise
        return HeldSlots(tuple(slots), tuple(waited))

    def _take(self, names: list[str]) -> tuple[str, int] | None:
        with self._lock:
            free = [name for name in names if name not in self._mine]
            taken = self._leases.acquire_any(free, self._owner) if free else None
            if taken is not None:
                self._mine.add(taken[0])
            return taken

    def release(self, held: HeldSlots) -> None:
        """Give the slots back (a slot lost meanwhile is left to its new holder)."""
        for name, token in reversed(held.slots):
            with self._lock:
                self._mine.discard(name)
                self._leases.release(name, self._owner, token)


__all__ = [
    "HeldSlots",
    "Limit",
    "ReadySteps",
    "SlotKeeper",
    "check_pools",
    "limits_of",
    "run_limits",
]
