"""Eager automation: rebuild an asset's recent partitions when what they read changes.

An asset declared with ``automation=Eager(window=N)`` is looked at on every tick by an
:class:`EagerEvaluator` (source ``eager:<asset>``). Among its ``N`` most recent partitions
(for multi-dimensional partitions: its ``N`` most recent keys of the time dimension, with
every key of the other dimensions) it requests those that are missing or stale, for any
cause, when:

* every upstream partition they read is present, fresh, not failed and not being built
  (an upstream that is not ready is built first by its own automation or schedule; the
  asset's own earlier partitions requested on the same tick count as ready, since the
  planner builds them first);
* they are not being built right now (their lease is held);
* they did not fail with the same inputs: a partition whose last attempt failed is not
  requested again until an upstream data version or the asset's code version changes.

Failure suppression keeps, in the cursor, the fingerprint of what each requested
partition was requested with (the asset's code version and its upstream data versions):
``{"requested": {partition: fingerprint}}``. A partition whose last attempt failed and
whose fingerprint is still the one it was requested with is left alone. Entries are kept
only for partitions of the window that are not fresh, so the cursor stays small.

Older partitions are never requested: switching automation on over a long stale history
rebuilds the window, and the notes say how many were left alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from partita.assets import UNPARTITIONED, Eager, KeySpace
from partita.assets.partitions.multi import ProductSpace
from partita.core.automation.decisions import Decision, Request, TickContext
from partita.core.plan.status import (
    Freshness,
    PartitionStatus,
    StatusResolver,
    input_fingerprint,
)

if TYPE_CHECKING:
    from partita.core.project import Project

SOURCE_PREFIX = "eager:"


class EagerEvaluator:
    """Requests the missing or stale partitions in the window of one eager asset.

    Args:
        asset: The key of an asset declared with ``automation=Eager(...)``; its window
            is read from the graph of each tick.
    """

    def __init__(self, asset: str) -> None:
        self.asset = asset

    @property
    def source(self) -> str:
        """``eager:<asset>``."""
        return f"{SOURCE_PREFIX}{self.asset}"

    def __repr__(self) -> str:
        return f"EagerEvaluator({self.asset!r})"

    def evaluate(self, tick: TickContext, cursor: str | None) -> Decision:
        """Request what the window needs and can have now (see the module docstring)."""
        resolver = tick.resolver
        window = (tick.graph.get(self.asset).automation or Eager()).window
        keys = resolver.keys(self.asset)
        size = window_size(resolver.space(self.asset), window)
        statuses = resolver.statuses(self.asset, keys)
        split = len(keys) - size
        fresh = Freshness.FRESH  # a local: compared once per partition
        older = [s.status for s in statuses[:split] if s.status != fresh]
        previous = _read_cursor(cursor)
        triage = self._triage(tick, keys[split:], statuses[split:], previous)
        notes = [_summary(triage, size, older, _window_words(resolver.space(self.asset), window))]
        notes.extend(triage.details())
        return Decision(
            source=self.source,
            requests=(Request(self.asset, tuple(triage.requested)),) if triage.requested else (),
            cursor=None if triage.cursor == previous else _write_cursor(triage.cursor),
            notes=tuple(notes),
        )

    def _triage(
        self,
        tick: TickContext,
        keys: Sequence[str],
        statuses: Sequence[PartitionStatus],
        previous: dict[str, str],
    ) -> _Triage:
        # Oldest first, so that a self-dependent partition sees its requested predecessors.
        resolver = tick.resolver
        code = tick.graph.get(self.asset).code_version or ""
        triage = _Triage()
        fresh = Freshness.FRESH  # a local: compared once per partition
        for key, status in zip(keys, statuses, strict=True):
            if status.status == fresh:
                continue
            triage.not_fresh.append((key, status.status))
            if key in previous:
                triage.cursor[key] = previous[key]
            if (self.asset, key) in tick.leased:
                triage.in_progress.append(key)
                continue
            blocker = self._blocker(tick, key, triage.requested)
            if blocker is not None:
                triage.waiting.append((key, blocker))
                continue
            fingerprint = _fingerprint(code, resolver, self.asset, key)
            failed = resolver.state(self.asset, key).failure is not None
            if failed and previous.get(key) == fingerprint:
                triage.suppressed.append(key)
                continue
            triage.requested.append(key)
            triage.cursor[key] = fingerprint
        return triage

    def _blocker(self, tick: TickContext, key: str, requested: Sequence[str]) -> str | None:
        # The first upstream partition that is not ready, described; None if all are.
        resolver = tick.resolver
        for edge in tick.graph.upstream(self.asset):
            up = edge.upstream
            for up_key in resolver.upstream_keys(edge, key):
                if up == self.asset and up_key in requested:
                    continue
                if (up, up_key) in tick.leased:
                    return f"{_where(up, up_key)} is being built"
                status = resolver.status(up, up_key)
                if status.status != Freshness.FRESH:
                    return f"{_where(up, up_key)} is {status.status}"
                if status.failure is not None:
                    return f"{_where(up, up_key)} failed"
        return None


def eager_evaluators(project: Project) -> list[EagerEvaluator]:
    """One evaluator per asset declared with ``automation=Eager(...)``, in graph order."""
    return [EagerEvaluator(item.key) for item in project.graph.assets if item.automation]


def window_size(space: KeySpace | None, window: int) -> int:
    """How many of an asset's most recent keys its window covers.

    Keys are ordered with the first dimension (the time dimension, when there is one)
    varying slowest, so the window is always a suffix of the keys: the last ``window``
    keys of the first dimension, times every key of the others.
    """
    if space is None:
        return 1
    first = _first_dimension(space)
    if first is None:
        return min(window, len(space))
    if not len(first):
        return 0
    return min(window, len(first)) * (len(space) // len(first))


@dataclass(slots=True)
class _Triage:
    """The window's partitions that are not fresh, sorted by what happens to them."""

    not_fresh: list[tuple[str, Freshness]] = field(default_factory=list)  # (key, status)
    requested: list[str] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)
    waiting: list[tuple[str, str]] = field(default_factory=list)  # (key, why)
    suppressed: list[str] = field(default_factory=list)
    cursor: dict[str, str] = field(default_factory=dict)

    def details(self) -> list[str]:
        """One note each on the partitions not requested, and why."""
        notes = []
        if self.waiting:
            key, why = self.waiting[-1]
            span = _span([k for k, _ in self.waiting])
            example = f"{_key(key)}: {why}" if len(self.waiting) == 1 else f"{span}; e.g. {why}"
            notes.append(f"{len(self.waiting)} waiting for upstream ({example})")
        if self.in_progress:
            notes.append(f"{len(self.in_progress)} in progress ({_span(self.in_progress)})")
        if self.suppressed:
            notes.append(
                f"{len(self.suppressed)} failed with unchanged inputs, not retried until an "
                f"upstream or the code changes ({_span(self.suppressed)})"
            )
        return notes


def _summary(triage: _Triage, size: int, older: list[Freshness], scope: str | None) -> str:
    statuses = [status for _, status in triage.not_fresh]
    keys = [key for key, _ in triage.not_fresh]
    if scope is None:  # unpartitioned
        if not keys:
            return str(Freshness.FRESH)
        return f"{_word(statuses)}, {'requested' if triage.requested else 'not requested'}"
    if keys:
        text = (
            f"{len(keys)} {_word(statuses)} in {scope} ({_span(keys)}), "
            f"{len(triage.requested)} requested"
        )
    elif size:
        text = f"{scope} {'is' if size == 1 else 'are'} fresh"
    else:
        text = "no partitions yet"
    if older:
        text += (
            f"; {len(older)} older {_word(older)} partition{'s' if len(older) > 1 else ''} "
            "outside the window left alone"
        )
    return text


def _window_words(space: KeySpace | None, window: int) -> str | None:
    # How the window is named in notes: "the last 7 partitions", "the last 7 date keys".
    if space is None:
        return None
    first = _first_dimension(space)
    if first is None:
        count = min(window, len(space))
        return f"the last {count} partition{'s' if count != 1 else ''}"
    name = next(iter(first.definition.dimensions()))
    count = min(window, len(first))
    return f"the last {count} {name} key{'s' if count != 1 else ''}"


def _first_dimension(space: KeySpace) -> KeySpace | None:
    # The space of the slowest-varying dimension of a multi-dimensional space, else None.
    if not isinstance(space, ProductSpace):
        return None
    return space.dimension_spaces()[space.definition.order()[0]]


def _word(statuses: Sequence[Freshness]) -> str:
    kinds = set(statuses)
    if kinds == {Freshness.MISSING}:
        return str(Freshness.MISSING)
    return str(Freshness.STALE) if Freshness.MISSING not in kinds else "missing or stale"


def _span(keys: Sequence[str]) -> str:
    if len(keys) == 1:
        return _key(keys[0])
    return f"{_key(keys[0])}..{_key(keys[-1])}"


def _key(key: str) -> str:
    return "unpartitioned" if key == UNPARTITIONED else key


def _where(asset: str, key: str) -> str:
    return asset if key == UNPARTITIONED else f"{asset} {key}"


def _fingerprint(code: str, resolver: StatusResolver, asset: str, key: str) -> str:
    # What a partition is built from: the asset's code and its upstream data versions.
    inputs = input_fingerprint(resolver.inputs(asset, key))
    return hashlib.blake2b(f"{code}\n{inputs}".encode(), digest_size=12).hexdigest()


def _read_cursor(cursor: str | None) -> dict[str, str]:
    # A cursor that cannot be read is taken as none: at worst a failed partition is retried once.
    if not cursor:
        return {}
    try:
        found = json.loads(cursor).get("requested", {})
    except (ValueError, AttributeError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(key): str(value) for key, value in found.items()}


def _write_cursor(requested: dict[str, str]) -> str:
    return json.dumps({"requested": requested}, sort_keys=True)


__all__ = ["EagerEvaluator", "eager_evaluators", "window_size"]
