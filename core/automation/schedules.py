"""Schedules as a source of automation: which closed windows a cron schedule requests.

A schedule fires at its cron expression's times in its timezone; a fire at ``f`` runs
at ``f + delay`` and asks, for each of its assets, for the partitions whose window has
closed by ``f`` (window end ``<= f``). On a tick at ``T`` the latest fire that may run is
the last ``f`` with ``f + delay <= T``.

The cursor remembers, per asset, the end of the newest window already requested (for an
asset without a time dimension: the last fire it was requested for), so after downtime
the missed windows are requested oldest first, at most ``max_per_tick`` per asset per
tick, and the rest on the next ticks.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pendulum

from partita.assets import (
    UNPARTITIONED,
    MultiPartitions,
    PartitionsDefinition,
    Schedule,
    TimePartitions,
)
from partita.core.automation.decisions import Decision, Request, TickContext

# Fire times are whole seconds: "at or before T" is "strictly before T plus a moment".
_MOMENT = dt.timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class _Due:
    """What one asset asks for at a fire: its partitions, a new cursor value, a note."""

    partitions: tuple[str, ...]
    cursor: float | None
    note: str | None


class ScheduleEvaluator:
    """Evaluates one :class:`~partita.Schedule` on each tick (see the module docstring).

    Args:
        schedule: the declaration.
    """

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self._cron = schedule.expression

    @property
    def source(self) -> str:
        """``schedule:<name>``."""
        return f"schedule:{self.schedule.name}"

    def latest_fire(self, now: dt.datetime) -> pendulum.DateTime:
        """The last fire time whose run time (fire + delay) is at or before ``now``."""
        ready = now - dt.timedelta(seconds=self.schedule.delay) + _MOMENT
        return self._cron.previous_before(ready, self.schedule.timezone)

    def evaluate(self, tick: TickContext, cursor: str | None) -> Decision:
        """Request the windows closed by the latest fire that were not requested yet."""
        state = _read_cursor(cursor)
        fire = self.latest_fire(tick.now)
        label = f"fire {fire.strftime('%Y-%m-%d %H:%M')} {self.schedule.timezone}"
        requests: list[Request] = []
        notes: list[str] = []
        marks: dict[str, float] = dict(state.get("assets", {}))
        for asset in self.schedule.assets:
            due = self._due(tick, asset, fire, marks.get(asset))
            if due.partitions:
                requests.append(Request(asset, due.partitions))
            if due.cursor is not None:
                marks[asset] = due.cursor
            if due.note:
                notes.append(f"{label}: {due.note}")
        if not notes:
            notes.append(f"nothing due; {self._next_fire_note(fire)}")
        new_state = {"fire": fire.timestamp(), "assets": marks}
        changed = new_state != state
        return Decision(
            source=self.source,
            requests=tuple(requests),
            cursor=json.dumps(new_state, sort_keys=True) if changed else None,
            notes=tuple(notes),
        )

    def _next_fire_note(self, fire: pendulum.DateTime) -> str:
        following = self._cron.next_after(fire, self.schedule.timezone)
        runs = following + dt.timedelta(seconds=self.schedule.delay)
        text = f"next fire {following.strftime('%Y-%m-%d %H:%M')} {self.schedule.timezone}"
        if self.schedule.delay:
            text += f" (runs at {runs.strftime('%Y-%m-%d %H:%M')})"
        return text

    def _due(
        self,
        tick: TickContext,
        asset: str,
        fire: pendulum.DateTime,
        mark: float | None,
    ) -> _Due:
        definition = tick.graph.get(asset).partitions
        time = _time_dimension(definition)
        if definition is None or time is None:
            if mark is not None and fire.timestamp() <= mark:
                return _Due((), None, None)  # already requested for this fire
            return self._untimed(tick, asset, definition, fire)
        return self._windows(tick, asset, definition, time, fire, mark)

    def _untimed(
        self,
        tick: TickContext,
        asset: str,
        definition: PartitionsDefinition | None,
        fire: pendulum.DateTime,
    ) -> _Due:
        """An asset without a time dimension: every key, once per new fire (the planner
        builds only the missing or stale ones)."""
        if definition is None:
            keys = [UNPARTITIONED]
        else:
            keys = definition.space(tick.now, tick.dynamic).keys()
        free = tuple(key for key in keys if (asset, key) not in tick.leased)
        busy = len(keys) - len(free)
        what = asset if definition is None else f"{len(free)} partitions of {asset}"
        note = f"{what} requested (built if missing or stale)"
        if busy:
            note += f", {busy} being built by another run left out"
        return _Due(free, fire.timestamp(), note if free or busy else None)

    def _windows(
        self,
        tick: TickContext,
        asset: str,
        definition: PartitionsDefinition,
        time: TimePartitions,
        fire: pendulum.DateTime,
        mark: float | None,
    ) -> _Due:
        """A time-partitioned asset: the windows ending in (mark, fire], oldest first."""
        first = time.first_ordinal()
        stop = min(time.ordinal_at(fire), time.space(fire).stop)  # windows ended by `fire`
        low = first if mark is None else max(first, time.ordinal_at(_instant(mark)))
        skipped = 0
        if not self.schedule.catchup:
            # Only the windows this fire is for: those closed since the fire before it.
            since = self._cron.previous_before(fire, self.schedule.timezone)
            latest = max(first, min(time.ordinal_at(since), stop - 1))
            if latest > low:
                skipped = latest - low if mark is not None else 0
                low = latest
        if stop <= low:
            return _Due((), None, None)
        due = list(range(low, stop))
        taken = due[: self.schedule.max_per_tick]
        busy = next((o for o in taken if self._leased(tick, asset, definition, time, o)), None)
        if busy is not None:
            taken = taken[: taken.index(busy)]
        keys = self._keys(tick, definition, time, taken)
        end = time.start_of(taken[-1] + 1).timestamp() if taken else None
        note = self._note(asset, time, due, taken, skipped, busy)
        return _Due(tuple(keys), end if end is not None else _skip_mark(time, skipped, low), note)

    def _leased(
        self,
        tick: TickContext,
        asset: str,
        definition: PartitionsDefinition,
        time: TimePartitions,
        ordinal: int,
    ) -> bool:
        if not tick.leased:
            return False
        return any(
            (asset, key) in tick.leased for key in self._keys(tick, definition, time, [ordinal])
        )

    def _keys(
        self,
        tick: TickContext,
        definition: PartitionsDefinition,
        time: TimePartitions,
        ordinals: list[int],
    ) -> list[str]:
        windows = [time.key_of(ordinal) for ordinal in ordinals]
        if not isinstance(definition, MultiPartitions):
            return windows
        space = definition.space(tick.now, tick.dynamic)
        keys = {name: space.dimension_spaces()[name].keys() for name in definition.order()}
        keys[str(definition.time_dimension)] = windows
        return space.combine(keys)

    def _note(
        self,
        asset: str,
        time: TimePartitions,
        due: list[int],
        taken: list[int],
        skipped: int,
        busy: int | None,
    ) -> str:
        span = _span(time, due)
        text = f"{_count(len(due))} of {asset} due ({span}), {len(taken)} requested"
        left = len(due) - len(taken)
        if left:
            why = (
                f"{time.key_of(busy)} is being built by another run"
                if busy is not None
                else f"max_per_tick={self.schedule.max_per_tick}"
            )
            text += f", {left} left for the next tick ({why})"
        if skipped:
            text += f"; {_count(skipped)} missed while the daemon was down skipped (catchup=False)"
        return text


def _time_dimension(definition: PartitionsDefinition | None) -> TimePartitions | None:
    if isinstance(definition, TimePartitions):
        return definition
    if isinstance(definition, MultiPartitions) and definition.time_dimension is not None:
        found = definition.dimensions()[definition.time_dimension]
        return found if isinstance(found, TimePartitions) else None
    return None


def _skip_mark(time: TimePartitions, skipped: int, low: int) -> float | None:
    # Nothing requested: only windows skipped by catchup=False move the cursor.
    return time.start_of(low).timestamp() if skipped else None


def _span(time: TimePartitions, ordinals: list[int]) -> str:
    first, last = time.key_of(ordinals[0]), time.key_of(ordinals[-1])
    return first if first == last else f"{first}..{last}"


def _count(n: int) -> str:
    return f"{n} partition" + ("" if n == 1 else "s")


def _instant(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def _read_cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        state = json.loads(cursor)
    except ValueError:
        return {}  # an unreadable cursor counts as none: the schedule starts over
    return state if isinstance(state, dict) else {}


__all__ = ["ScheduleEvaluator"]
