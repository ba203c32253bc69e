"""Finish what dead writers left, before a command reads or writes partitions.

A writer holds a partition's lease until the version it committed is published, so a
writer killed anywhere leaves its lease behind (see
:mod:`partita.storage.catalog.leftovers`). The next command that touches partitions
(``status``, planning a run, ``gc``, ``doctor``, each daemon tick) takes those leases
over, tidies the folders (:mod:`partita.core.run.tidy`) and gives the leases back: a
committed version gets its visible name, a superseded one goes out of sight, and what
was never committed is removed, without waiting for garbage collection's grace period.

When nothing was left, this costs one query.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from partita.assets import AssetGraph, PartitionsDefinition
from partita.core.run.heartbeat import Heartbeat
from partita.core.run.tidy import GRACE_S, Tidier
from partita.errors import PartitaError, StorageError
from partita.storage.catalog.leftovers import AbandonedLease, CatalogLeftovers

if TYPE_CHECKING:
    from partita.storage import Catalog, DataStore

logger = logging.getLogger("partita")


def process_owner() -> str:
    """A lease holder's id for this process: ``<host>:<pid>:<random>`` (alive as long as
    the process is, for the rule that takes leases over)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Recoverer:
    """Takes over the leases dead writers left and tidies their partitions' folders.

    Args:
        graph: The definitions, to find a partition's folder (partitions of assets they
            no longer define are left to garbage collection).
        catalog: The leases and the current versions.
        store: Opens the store of the folders (only when there is something to tidy).
        grace: Seconds a retired file is kept.
        clock: Seconds since the epoch, to age retired files by.
    """

    def __init__(
        self,
        graph: AssetGraph,
        catalog: Catalog,
        store: Callable[[], DataStore],
        *,
        grace: float = GRACE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._graph = graph
        self._catalog = catalog
        self._leftovers = CatalogLeftovers(catalog)
        self._store = store
        self._grace = grace
        self._clock = clock

    def recover(self) -> int:
        """Tidy every partition whose lease a dead writer left; returns how many.

        A folder that cannot be tidied now (storage unavailable) keeps its files; the
        next command tries again.
        """
        left = [lease for lease in self._leftovers.abandoned() if lease.asset in self._graph]
        if not left:
            return 0
        owner = process_owner()
        pairs = [(lease.asset, lease.partition) for lease in left]
        tokens = self._catalog.acquire_many(pairs, owner)
        taken = [(pair, token) for pair, token in zip(pairs, tokens, strict=True) if token]
        every = self._catalog.lease_seconds / 3
        with Heartbeat(lambda: self._catalog.heartbeat(owner), every, "partita-recovery"):
            try:
                return self._tidy([pair for pair, _ in taken])
            finally:
                held = [(asset, key, token) for (asset, key), token in taken]
                self._catalog.release_many(owner, held)

    def _tidy(self, pairs: Sequence[tuple[str, str]]) -> int:
        wanted: dict[str, set[str]] = {}
        for asset, key in pairs:
            wanted.setdefault(asset, set()).add(key)
        states = self._catalog.states_of(wanted)
        tidier = Tidier(self._catalog, self._store(), grace=self._grace, clock=self._clock)
        tidied = 0
        for asset, key in pairs:
            segments = _segments(self._graph.get(asset).partitions, key)
            if segments is None:
                continue
            current = states[asset].get(key)
            try:
                tidier.tidy(asset, segments, current.version_id if current else None)
            except StorageError as exc:
                logger.warning("%s [%s]: could not tidy its folder: %s", asset, key, exc)
                continue
            tidied += 1
        return tidied


def _segments(definition: PartitionsDefinition | None, key: str) -> str | None:
    """A partition's folder segments, ``None`` for a key its definition cannot place."""
    if definition is None:
        return ""
    try:
        return definition.segments(key)
    except (PartitaError, ValueError, KeyError):
        return None


__all__ = ["AbandonedLease", "Recoverer", "process_owner"]
