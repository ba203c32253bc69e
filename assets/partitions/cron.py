"""Cron expressions: standard 5-field schedules and their fire times in a timezone.

Fire times are wall-clock times in an IANA timezone, and daylight saving time is handled
the way cron handles it:

- a wall time that does not exist (clocks jump forward over it) fires once, at the instant
  the clocks jump; several skipped wall times, or a skipped one and the jump instant itself,
  fire once there;
- a wall time that occurs twice (clocks fall back) fires once, at its first occurrence;
- except when the hour field starts with ``*`` (``*`` or ``*/n``, as ``@hourly`` or
  ``*/15 * * * *``): such a schedule fires at every instant whose wall time matches, so an
  hourly schedule fires 25 times on a fall-back day and 23 times on a spring-forward day.

Instants are compared as epoch seconds: two aware datetimes with the same ``tzinfo``
compare by wall time alone in Python, which is wrong across a fall-back.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field

import pendulum

from partita.errors import DefinitionError

_EPOCH = dt.datetime(1970, 1, 1)
_SECOND = dt.timedelta(seconds=1)
_MINUTE = dt.timedelta(minutes=1)
_HOUR = 3600
_DAY = 86400
_NEVER = 2**63  # later than any instant; parsing rejects expressions that never fire

_SHORTCUTS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_WEEKDAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}


@dataclass(frozen=True, slots=True)
class _Field:
    """One of the five fields: its name, its range, and the names it accepts."""

    name: str
    lowest: int
    highest: int
    names: dict[str, int] = field(default_factory=dict)
    hint: str = ""  # appended to messages about this field
    wraps_at: int | None = None  # where '*' and 'a/n' end, if before highest

    @property
    def end(self) -> int:
        """The last value ``*`` and ``a/n`` cover."""
        return self.highest if self.wraps_at is None else self.wraps_at


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTHS, " or a month name (JAN-DEC)"),
    # 7 is Sunday again: '*' and '1/2' stop at Saturday.
    _Field("day-of-week", 0, 7, _WEEKDAYS, " or a weekday name (SUN-SAT)", wraps_at=6),
)
_LONGEST_MONTH = {m: 29 if m == 2 else calendar.monthrange(2001, m)[1] for m in range(1, 13)}
_NUMBER = re.compile(r"[0-9]+")
_QUARTZ_LW = re.compile(r"L|LW|L-[0-9]+|[0-9]+[LW]", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Pattern:
    """The parsed fields: which wall-clock minutes match, with no timezone involved."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    days: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    either_day: bool  # both day fields restricted: a day matches if either matches
    every_hour: bool  # hour field starts with '*': fire at every matching instant

    def day_matches(self, day: dt.date) -> bool:
        """Whether the month and day fields accept ``day``."""
        if day.month not in self.months:
            return False
        in_days = day.day in self.days
        in_weekdays = day.toordinal() % 7 in self.weekdays  # ordinal 7 is a Sunday
        return (in_days or in_weekdays) if self.either_day else (in_days and in_weekdays)

    def next_wall(self, wall: dt.datetime) -> dt.datetime:
        """The first matching wall time at or after ``wall`` (a whole minute)."""
        y, mo, d, h, mi = wall.year, wall.month, wall.day, wall.hour, wall.minute
        while True:
            if mo > 12:
                y, mo = y + 1, 1
            if mo not in self.months:
                later = bisect_right(self.months, mo)
                y, mo = (y, self.months[later]) if later < len(self.months) else (y + 1, 1)
                d, h, mi = 1, 0, 0
                continue
            if d > calendar.monthrange(y, mo)[1]:
                mo, d, h, mi = mo + 1, 1, 0, 0
                continue
            if not self.day_matches(dt.date(y, mo, d)):
                d, h, mi = d + 1, 0, 0
                continue
            at = bisect_left(self.hours, h)
            if at == len(self.hours):
                d, h, mi = d + 1, 0, 0
                continue
            if self.hours[at] != h:
                h, mi = self.hours[at], 0
            at = bisect_left(self.minutes, mi)
            if at == len(self.minutes):
                h, mi = h + 1, 0
                continue
            return dt.datetime(y, mo, d, h, self.minutes[at])

    def previous_wall(self, wall: dt.datetime) -> dt.datetime:
        """The last matching wall time at or before ``wall`` (a whole minute)."""
        y, mo, d, h, mi = wall.year, wall.month, wall.day, wall.hour, wall.minute
        while True:
            if mo < 1:
                y, mo, d = y - 1, 12, 31
            if mo not in self.months:
                earlier = bisect_left(self.months, mo) - 1
                y, mo = (y, self.months[earlier]) if earlier >= 0 else (y - 1, self.months[-1])
                d, h, mi = calendar.monthrange(y, mo)[1], 23, 59
                continue
            if d < 1:
                mo, d, h, mi = mo - 1, 31, 23, 59
                if mo >= 1:
                    d = calendar.monthrange(y, mo)[1]
                continue
            if not self.day_matches(dt.date(y, mo, d)):
                d, h, mi = d - 1, 23, 59
                continue
            at = bisect_right(self.hours, h) - 1
            if at < 0:
                d, h, mi = d - 1, 23, 59
                continue
            if self.hours[at] != h:
                h, mi = self.hours[at], 59
            at = bisect_right(self.minutes, mi) - 1
            if at < 0:
                h, mi = h - 1, 59
                continue
            return dt.datetime(y, mo, d, h, self.minutes[at])


@dataclass(frozen=True, slots=True)
class CronExpression:
    """A standard 5-field cron expression (``minute hour day-of-month month day-of-week``).

    Supports ``*``, numbers, ranges ``a-b``, lists ``a,b``, steps ``*/n``, ``a-b/n`` and
    ``a/n``, month names ``JAN``-``DEC``, weekday names ``SUN``-``SAT`` (0 and 7 are
    Sunday) and the shortcuts ``@yearly``, ``@annually``, ``@monthly``, ``@weekly``,
    ``@daily``, ``@midnight`` and ``@hourly``. As in cron, when neither day field starts
    with ``*``, a day matches if either field matches.

    Moments passed in may be in any timezone; naive ones are taken as UTC. Fire times are
    returned as pendulum DateTimes in ``tz``; see the module docstring for DST.

    Args:
        text: the expression; parsing it may raise :class:`DefinitionError`.
    """

    text: str
    _pattern: _Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pattern", _parse(self.text))

    @classmethod
    def parse(cls, text: str) -> CronExpression:
        """Parse ``text``, with surrounding and repeated whitespace removed.

        Raises:
            DefinitionError: the expression is malformed, uses an unsupported extension
                (seconds, years, ``L``, ``W``, ``#``, ``?``) or can never fire.
        """
        return cls(" ".join(text.split()))

    def next_after(self, moment: dt.datetime, tz: str) -> pendulum.DateTime:
        """The first fire time strictly after ``moment``."""
        zone = _zone(tz)
        return _local(self._next(_floor_seconds(moment), zone), zone)

    def previous_before(self, moment: dt.datetime, tz: str) -> pendulum.DateTime:
        """The last fire time strictly before ``moment``."""
        zone = _zone(tz)
        return _local(self._previous(_ceil_seconds(moment), zone), zone)

    def fires_between(
        self, start: dt.datetime, end: dt.datetime, tz: str
    ) -> Iterator[pendulum.DateTime]:
        """Every fire time ``t`` with ``start <= t < end``, in ascending order."""
        zone = _zone(tz)
        end_at = _ceil_seconds(end)
        found = self._next(_ceil_seconds(start) - 1, zone)
        while found < end_at:
            yield _local(found, zone)
            rest = self._rest_of_plain_day(found, zone)
            for later in rest:
                if later >= end_at:
                    return
                yield _local(later, zone)
            found = self._next(rest[-1] if rest else found, zone)

    def matches(self, moment: dt.datetime, tz: str) -> bool:
        """Whether ``moment`` is one of the fire times."""
        seconds = _floor_seconds(moment)
        exact = moment.microsecond == 0
        return exact and self._next(seconds - 1, _zone(tz)) == seconds

    # -- instants are epoch seconds; wall times are naive datetimes in the zone --

    def _instants(self, wall: dt.datetime, zone: dt.tzinfo) -> tuple[int, ...]:
        """The fire instants a matching wall time stands for, ascending."""
        seconds = (wall - _EPOCH) // _SECOND
        first = _offset(wall.replace(tzinfo=zone))
        second = _offset(wall.replace(tzinfo=zone, fold=1))
        if first == second:
            return (seconds - first,)
        if first > second:  # clocks fell back: the wall time occurs twice
            if self._pattern.every_hour:
                return (seconds - first, seconds - second)
            return (seconds - first,)
        if self._pattern.every_hour:  # clocks jumped forward over the wall time
            return ()
        return (_transition(zone, seconds - second, seconds - first),)

    def _next(self, after: int, zone: dt.tzinfo) -> int:
        """The first fire instant strictly after ``after``."""
        low, high = _offset_bounds(zone, after, after + _DAY)
        wall = self._pattern.next_wall(_wall(after + low))
        best = _NEVER
        # A later wall time can fire earlier only within a fall-back, so stop once no
        # later wall time can beat the best instant found.
        while (wall - _EPOCH) // _SECOND - high < best:
            for instant in self._instants(wall, zone):
                if after < instant < best:
                    best = instant
            wall = self._pattern.next_wall(wall + _MINUTE)
        return best

    def _previous(self, before: int, zone: dt.tzinfo) -> int:
        """The last fire instant strictly before ``before``."""
        low, high = _offset_bounds(zone, before - _DAY, before)
        wall = self._pattern.previous_wall(_wall(before + high))
        best = -_NEVER
        while (wall - _EPOCH) // _SECOND - low > best:
            for instant in self._instants(wall, zone):
                if best < instant < before:
                    best = instant
            wall = self._pattern.previous_wall(wall - _MINUTE)
        return best

    def _rest_of_plain_day(self, fire: int, zone: dt.tzinfo) -> list[int]:
        """The fire instants after ``fire`` on its local day, if that day has one UTC offset.

        The fast path of :meth:`fires_between`: on such a day every wall time occurs once,
        so fire instants are plain arithmetic. Days with a transition return ``[]``.
        """
        offset = _offset_at(zone, fire)
        wall = _EPOCH + dt.timedelta(seconds=fire + offset)
        midnight = fire - (wall.hour * _HOUR + wall.minute * 60 + wall.second)
        plain = all(_offset_at(zone, midnight + t) == offset for t in (0, _DAY // 2, _DAY))
        if not plain or wall.second or not self._pattern.day_matches(wall.date()):
            return []
        now = wall.hour * _HOUR + wall.minute * 60
        return [
            midnight + t
            for h in self._pattern.hours[bisect_left(self._pattern.hours, wall.hour) :]
            for m in self._pattern.minutes
            if (t := h * _HOUR + m * 60) > now
        ]


# -- time zones ------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _zone(tz: str) -> pendulum.Timezone:
    try:
        return pendulum.timezone(tz)
    except ValueError as exc:  # pendulum's InvalidTimezone, zoneinfo's bad keys
        raise DefinitionError(
            f"unknown timezone {tz!r}: use an IANA name such as 'Europe/Berlin'"
        ) from exc


def _offset(moment: dt.datetime) -> int:
    offset = moment.utcoffset()
    return 0 if offset is None else offset // _SECOND


def _offset_at(zone: dt.tzinfo, instant: int) -> int:
    return _offset(dt.datetime.fromtimestamp(instant, zone))


def _offset_bounds(zone: dt.tzinfo, start: int, end: int) -> tuple[int, int]:
    """The lowest and highest UTC offset in ``[start, end]`` (sampled: transitions are
    at least hours apart)."""
    offsets = [_offset_at(zone, t) for t in range(start, end, _DAY // 4)]
    offsets.append(_offset_at(zone, end))
    return min(offsets), max(offsets)


def _transition(zone: dt.tzinfo, before: int, after: int) -> int:
    """The instant in ``(before, after]`` at which the zone's offset changes."""
    offset = _offset_at(zone, before)
    while after - before > 1:
        middle = (before + after) // 2
        if _offset_at(zone, middle) == offset:
            before = middle
        else:
            after = middle
    return after


def _wall(local_seconds: int) -> dt.datetime:
    """The whole-minute wall time at or before ``local_seconds`` past the local epoch."""
    return _EPOCH + dt.timedelta(seconds=local_seconds - local_seconds % 60)


def _local(instant: int, zone: pendulum.Timezone) -> pendulum.DateTime:
    at = dt.datetime.fromtimestamp(instant, zone)
    return pendulum.DateTime(
        at.year, at.month, at.day, at.hour, at.minute, at.second, tzinfo=zone, fold=at.fold
    )


def _floor_seconds(moment: dt.datetime) -> int:
    """Whole epoch seconds at or before ``moment``; naive moments are UTC, as in pendulum.

    Computed from the fields: subtracting datetimes would give pendulum Intervals.
    """
    offset = moment.utcoffset()
    local = (moment.toordinal() - _EPOCH.toordinal()) * _DAY + (
        moment.hour * _HOUR + moment.minute * 60 + moment.second
    )
    return local - (0 if offset is None else offset // _SECOND)


def _ceil_seconds(moment: dt.datetime) -> int:
    return _floor_seconds(moment) + (moment.microsecond > 0)


# -- parsing ---------------------------------------------------------------------------


def _error(text: str, problem: str) -> DefinitionError:
    return DefinitionError(f"cron expression {text!r}: {problem}")


def _parse(text: str) -> _Pattern:
    body = text.strip()
    if body.startswith("@"):
        if body.lower() not in _SHORTCUTS:
            raise _error(text, f"unknown shortcut {body!r}; use one of {', '.join(_SHORTCUTS)}")
        body = _SHORTCUTS[body.lower()]
    fields = body.split()
    if len(fields) != 5:
        extra = "; seconds and year fields are not supported" if len(fields) > 5 else ""
        raise _error(
            text,
            "expected 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(fields)}{extra}",
        )
    minutes, hours, days, months, weekdays = (
        _parse_field(text, spec, value) for spec, value in zip(_FIELDS, fields, strict=True)
    )
    day_star, weekday_star = fields[2].startswith("*"), fields[4].startswith("*")
    if not day_star and weekday_star and all(d > _LONGEST_MONTH[m] for m in months for d in days):
        raise _error(
            text,
            f"day-of-month {fields[2]!r} never occurs in "
            f"{', '.join(calendar.month_abbr[m] for m in sorted(months))}, "
            "so the expression would never fire",
        )
    return _Pattern(
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        months=tuple(sorted(months)),
        days=frozenset(days),
        weekdays=frozenset(w % 7 for w in weekdays),
        either_day=not (day_star or weekday_star),
        every_hour=fields[1].startswith("*"),
    )


def _parse_field(text: str, spec: _Field, value: str) -> set[int]:
    """The numbers one field allows."""
    found: set[int] = set()
    for item in value.split(","):
        for mark, meaning in (("?", "'?' (no specific value)"), ("#", "'#' (nth weekday)")):
            if mark in item:
                raise _error(
                    text,
                    f"{spec.name} {item!r} uses {meaning}, which standard cron does not support",
                )
        if not item:
            raise _error(
                text, f"{spec.name} {value!r} has an empty list item; separate values with one ','"
            )
        base, slash, step_text = item.partition("/")
        step = _number(text, spec, step_text, item, step=True) if slash else 1
        if base == "*":
            first, last = spec.lowest, spec.end
        elif "-" in base:
            low_text, _, high_text = base.partition("-")
            first, last = _number(text, spec, low_text, item), _number(text, spec, high_text, item)
            if first > last:
                sunday = " (7 is Sunday too, e.g. 5-7)" if spec.names is _WEEKDAYS else ""
                raise _error(
                    text,
                    f"{spec.name} range {base!r} goes backwards; put the lower bound first{sunday}",
                )
        else:
            first = _number(text, spec, base, item)
            last = max(first, spec.end) if slash else first
        found.update(range(first, last + 1, step))
    return found


def _number(text: str, spec: _Field, token: str, item: str, *, step: bool = False) -> int:
    """One number or name in ``item`` of a field, range-checked."""
    what = f"{spec.name} step" if step else spec.name
    if _NUMBER.fullmatch(token):
        number = int(token)
    elif not step and token.upper() in spec.names:
        return spec.names[token.upper()]
    elif not token:
        raise _error(text, f"{what} is missing a number in {item!r}")
    elif _QUARTZ_LW.fullmatch(token):
        raise _error(
            text,
            f"{spec.name} {token!r} uses the 'L'/'W' (last day, nearest weekday) extension, "
            "which standard cron does not support",
        )
    else:
        hint = "" if step else spec.hint
        raise _error(text, f"{what} {token!r} is not a number{hint}")
    if step and number < 1:
        raise _error(text, f"{what} in {item!r} must be at least 1")
    if not step and not spec.lowest <= number <= spec.highest:
        sunday = " (0 and 7 are Sunday)" if spec.names is _WEEKDAYS else ""
        raise _error(text, f"{what} {number} is out of range {spec.lowest}-{spec.highest}{sunday}")
    return number
