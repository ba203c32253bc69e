"""Time partitions: hourly, daily, weekly, monthly and cron windows in a timezone.

Every time definition numbers its windows with integer *ordinals* (days since year 1,
months since year 0, hours since the epoch, ...), so keys, positions and mappings are
integer arithmetic. A window is half-open ``[start, end)`` in the definition's timezone;
consecutive windows tile time with no gap or overlap across DST changes (a day is 23 or
25 hours long then; an hourly definition has 23 or 25 partitions that day). A partition
is due once its window has ended; ``end_offset=1`` also includes the current, still-open
window.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from abc import abstractmethod
from functools import cached_property
from typing import Any, ClassVar, Literal

import pendulum
from pydantic import Field, field_validator, model_validator

from partita.assets.partitions.base import (
    NO_DYNAMIC_KEYS,
    DynamicKeys,
    PartitionsDefinition,
    TimeWindow,
)
from partita.assets.partitions.timekeys import (
    DATE_KEY,
    HOUR_KEY,
    MONTH_KEY,
    check_timezone,
    check_year,
    day_start,
    parse_date_key,
    parse_local_key,
    render_local_key,
)
from partita.assets.partitions.timespace import TimeSpace
from partita.errors import PartitionKeyError

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class TimePartitions(PartitionsDefinition):
    """What every time definition shares: a timezone, a range and an end offset."""

    granularity: ClassVar[str]
    key_hint: ClassVar[str]

    start: dt.date | dt.datetime
    end: dt.date | dt.datetime | None = None
    timezone: str = "UTC"
    end_offset: int = Field(default=0, ge=0)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return check_timezone(value)

    @model_validator(mode="after")
    def _end_after_start(self) -> TimePartitions:
        end = self._end_instant()
        if end is not None and self._stop(end) <= self._first:
            raise ValueError(f"end {self.end} leaves no partition after the start")
        return self

    # -- what each granularity defines -------------------------------------------------

    dimension: str

    @abstractmethod
    def ordinal_at(self, instant: dt.datetime) -> int:
        """The ordinal of the window that contains ``instant``."""

    @abstractmethod
    def start_of(self, ordinal: int) -> pendulum.DateTime:
        """The first instant of window ``ordinal``."""

    @abstractmethod
    def key_of(self, ordinal: int) -> str:
        """The canonical key of window ``ordinal``."""

    @abstractmethod
    def ordinal_of(self, key: str) -> int:
        """The ordinal of ``key``.

        Raises:
            PartitionKeyError: ``key`` is not a key of this granularity.
        """

    @abstractmethod
    def _start_instant(self) -> pendulum.DateTime: ...

    @abstractmethod
    def _end_instant(self) -> pendulum.DateTime | None: ...

    # -- shared behaviour ----------------------------------------------------------------

    @cached_property
    def _first(self) -> int:
        # The first window that starts at or after `start`.
        start = self._start_instant()
        ordinal = self.ordinal_at(start)
        return ordinal if self.start_of(ordinal).timestamp() >= start.timestamp() else ordinal + 1

    def _stop(self, instant: dt.datetime) -> int:
        # One past the last window that has ended at `instant`.
        return self.ordinal_at(instant)

    def first_ordinal(self) -> int:
        """The ordinal of the first partition."""
        return self._first

    def stop_ordinal(self, now: dt.datetime) -> int:
        """One past the ordinal of the last partition that exists at ``now``."""
        stop = self._stop(now) + self.end_offset
        end = self._end_instant()
        return stop if end is None else min(stop, self._stop(end))

    def space(self, now: dt.datetime, dynamic: DynamicKeys = NO_DYNAMIC_KEYS) -> TimeSpace:
        return TimeSpace(self, self._first, max(self._first, self.stop_ordinal(now)))

    def dimensions(self) -> dict[str, PartitionsDefinition]:
        return {self.dimension: self}

    def shape(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"start", "end", "end_offset"}) | {
            "kind": self.granularity
        }

    def window(self, key: str) -> TimeWindow:
        ordinal = self.ordinal_of(key)
        return TimeWindow(self.start_of(ordinal), self.start_of(ordinal + 1))

    def window_at(self, ordinal: int) -> TimeWindow:
        """The window of ``ordinal``."""
        return TimeWindow(self.start_of(ordinal), self.start_of(ordinal + 1))

    def describe(self) -> str:
        end = f" to {self.end}" if self.end else ""
        return f"{self.granularity} from {self.start}{end} ({self.timezone})"

    def _local_date(self, instant: dt.datetime) -> dt.date:
        return pendulum.instance(instant).in_timezone(self.timezone).date()

    @property
    def _a_granularity(self) -> str:
        return f"{'an' if self.granularity == 'hourly' else 'a'} {self.granularity}"

    def _bad_key(self, key: str, why: str = "") -> PartitionKeyError:
        reason = why or f"is not {self._a_granularity} partition key"
        return PartitionKeyError(f"{key!r} {reason}; use {self.key_hint}")


class _DayBased(TimePartitions):
    """Definitions whose windows start at midnight: daily, weekly and monthly."""

    start: dt.date
    end: dt.date | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse_day(cls, value: Any) -> Any:
        if isinstance(value, str) and not DATE_KEY.fullmatch(value):
            raise ValueError(f"{value!r} is not a date; use YYYY-MM-DD")
        return value

    def _start_instant(self) -> pendulum.DateTime:
        return day_start(self.start, self.timezone)

    def _end_instant(self) -> pendulum.DateTime | None:
        return None if self.end is None else day_start(self.end, self.timezone)


class DailyPartitions(_DayBased):
    """One partition per calendar day in a timezone.

    Args:
        start: the first day (``"2026-01-01"`` or a date).
        timezone: an IANA timezone name; a day runs from midnight to midnight there.
        end: the first day *not* included; ``None`` means the partitions go on.
        end_offset: how many windows past the last ended one to include (1 = today).
        dimension: the name of the key in paths (``date=2026-04-08``).
    """

    granularity: ClassVar[str] = "daily"
    key_hint: ClassVar[str] = "YYYY-MM-DD"
    dimension: str = "date"

    def ordinal_at(self, instant: dt.datetime) -> int:
        return self._local_date(instant).toordinal()

    def start_of(self, ordinal: int) -> pendulum.DateTime:
        return day_start(dt.date.fromordinal(ordinal), self.timezone)

    def key_of(self, ordinal: int) -> str:
        return dt.date.fromordinal(ordinal).isoformat()

    def ordinal_of(self, key: str) -> int:
        return parse_date_key(key, self).toordinal()


class WeeklyPartitions(_DayBased):
    """One partition per week, starting on ``first_weekday`` (Monday by default).

    The key is the date of the week's first day; the first partition is the first
    week that starts on or after ``start``.
    """

    granularity: ClassVar[str] = "weekly"
    key_hint: ClassVar[str] = "the YYYY-MM-DD of the week's first day"
    first_weekday: Weekday = "monday"
    dimension: str = "week"

    @property
    def _shift(self) -> int:
        # date.toordinal() is 1 on Monday 0001-01-01.
        return 1 + _WEEKDAYS.index(self.first_weekday)

    def ordinal_at(self, instant: dt.datetime) -> int:
        return (self._local_date(instant).toordinal() - self._shift) // 7

    def start_of(self, ordinal: int) -> pendulum.DateTime:
        return day_start(dt.date.fromordinal(ordinal * 7 + self._shift), self.timezone)

    def key_of(self, ordinal: int) -> str:
        return dt.date.fromordinal(ordinal * 7 + self._shift).isoformat()

    def ordinal_of(self, key: str) -> int:
        day = parse_date_key(key, self)
        week, offset = divmod(day.toordinal() - self._shift, 7)
        if offset:
            first = dt.date.fromordinal(week * 7 + self._shift)
            raise PartitionKeyError(
                f"{key!r} is a {day.strftime('%A')}, not the first day of a week: weekly "
                f"partitions start on {self.first_weekday.capitalize()}; use {first}"
            )
        return week


class MonthlyPartitions(_DayBased):
    """One partition per calendar month; keys are ``YYYY-MM``."""

    granularity: ClassVar[str] = "monthly"
    key_hint: ClassVar[str] = "YYYY-MM"
    dimension: str = "month"

    @field_validator("start", "end", mode="before")
    @classmethod
    def _month_start(cls, value: Any) -> Any:
        if isinstance(value, str) and MONTH_KEY.fullmatch(value):
            return f"{value}-01"
        return value

    def ordinal_at(self, instant: dt.datetime) -> int:
        day = self._local_date(instant)
        return day.year * 12 + day.month - 1

    def start_of(self, ordinal: int) -> pendulum.DateTime:
        year, month = divmod(ordinal, 12)
        return day_start(dt.date(year, month + 1, 1), self.timezone)

    def key_of(self, ordinal: int) -> str:
        year, month = divmod(ordinal, 12)
        return f"{year:04d}-{month + 1:02d}"

    def ordinal_of(self, key: str) -> int:
        if not MONTH_KEY.fullmatch(key):
            hint = " (a date: monthly keys name the month)" if DATE_KEY.fullmatch(key) else ""
            raise self._bad_key(key, f"is not a monthly partition key{hint}")
        year, month = int(key[:4]), int(key[5:])
        if not 1 <= month <= 12 or year < 1:
            raise self._bad_key(key, "is not a valid month")
        check_year(year, key)
        return year * 12 + month - 1


class _ClockBased(TimePartitions):
    """Definitions whose windows start at a time of day: hourly and cron."""

    start: dt.date | dt.datetime
    end: dt.date | dt.datetime | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse_moment(cls, value: Any) -> Any:
        if isinstance(value, str) and not (DATE_KEY.fullmatch(value) or HOUR_KEY.match(value)):
            raise ValueError(f"{value!r} is not a date or time; use YYYY-MM-DD or YYYY-MM-DDTHH:MM")
        return value

    def _moment(self, value: dt.date | dt.datetime) -> pendulum.DateTime:
        if not isinstance(value, dt.datetime):
            return day_start(value, self.timezone)
        if value.tzinfo is None:
            return pendulum.instance(value.replace(tzinfo=None), tz=self.timezone)
        return pendulum.instance(value).in_timezone(self.timezone)

    def _start_instant(self) -> pendulum.DateTime:
        return self._moment(self.start)

    def _end_instant(self) -> pendulum.DateTime | None:
        return None if self.end is None else self._moment(self.end)

    def ordinal_of(self, key: str) -> int:
        instant = parse_local_key(key, self.timezone, self)
        ordinal = self.ordinal_at(instant)
        if self.start_of(ordinal).timestamp() != instant.timestamp():
            raise self._bad_key(key, f"is not the start of {self._a_granularity} window")
        return ordinal

    def key_of(self, ordinal: int) -> str:
        return render_local_key(self.start_of(ordinal).timestamp(), self.timezone)


class HourlyPartitions(_ClockBased):
    """One partition per hour in a timezone; keys are local times ``2026-04-08T13:00``.

    An hour repeated by a DST change is spelled with its UTC offset
    (``2026-11-01T01:00-04:00`` and ``2026-11-01T01:00-05:00`` in New York).
    """

    granularity: ClassVar[str] = "hourly"
    key_hint: ClassVar[str] = "YYYY-MM-DDTHH:00 (local time)"
    dimension: str = "hour"

    @cached_property
    def _alignment(self) -> int:
        # Seconds past the UTC hour at which local hours start (1800 in India). From the
        # standard offset, so that a half-hour DST shift (Lord Howe) does not make the
        # keys depend on the season of `start`.
        start = self._start_instant()
        offset = (start.utcoffset() or dt.timedelta()) - (start.dst() or dt.timedelta())
        return int(offset.total_seconds()) % 3600

    def ordinal_at(self, instant: dt.datetime) -> int:
        # floor, not int(): int() truncates towards zero, which before 1970 puts the last
        # moments of an hour into the next one.
        return (math.floor(instant.timestamp()) - self._alignment) // 3600

    def start_of(self, ordinal: int) -> pendulum.DateTime:
        return pendulum.from_timestamp(ordinal * 3600 + self._alignment, tz=self.timezone)

    def key_of(self, ordinal: int) -> str:
        return render_local_key(ordinal * 3600 + self._alignment, self.timezone)


class CronPartitions(_ClockBased):
    """One partition per interval between consecutive fire times of a cron expression.

    ``CronPartitions(cron="0 6 * * *", start="2026-04-01", timezone="Europe/Berlin")``
    has windows from 06:00 to 06:00 the next day; keys are the local start times.
    """

    granularity: ClassVar[str] = "cron"
    key_hint: ClassVar[str] = "the YYYY-MM-DDTHH:MM of a fire time (local time)"
    cron: str
    dimension: str = "time"

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from partita.assets.partitions.cron import CronExpression

        CronExpression.parse(value)
        return value

    def describe(self) -> str:
        return f"cron {self.cron!r} from {self.start} ({self.timezone})"

    @cached_property
    def _timeline(self) -> _CronTimeline:
        return _CronTimeline(self.cron, self.timezone, self._start_instant())

    def ordinal_at(self, instant: dt.datetime) -> int:
        return self._timeline.ordinal_at(instant)

    def start_of(self, ordinal: int) -> pendulum.DateTime:
        return self._timeline.fire(ordinal)


class _CronTimeline:
    """Fire times of a cron expression numbered from the first one at or after an origin."""

    def __init__(self, cron: str, timezone: str, origin: pendulum.DateTime) -> None:
        from partita.assets.partitions.cron import CronExpression

        self._cron = CronExpression.parse(cron)
        self._tz = timezone
        first = self._cron.next_after(origin - dt.timedelta(microseconds=1), timezone)
        self._after = [first]  # ordinals 0, 1, 2, ...
        self._stamps = [first.timestamp()]  # their timestamps, for bisecting
        self._before: list[pendulum.DateTime] = []  # ordinals -1, -2, ...

    def fire(self, ordinal: int) -> pendulum.DateTime:
        if ordinal >= 0:
            while len(self._after) <= ordinal:
                self._after.append(self._cron.next_after(self._after[-1], self._tz))
                self._stamps.append(self._after[-1].timestamp())
            return self._after[ordinal]
        while len(self._before) < -ordinal:
            last = self._before[-1] if self._before else self._after[0]
            self._before.append(self._cron.previous_before(last, self._tz))
        return self._before[-ordinal - 1]

    def ordinal_at(self, instant: dt.datetime) -> int:
        # Timestamps, not datetimes: two datetimes in one timezone compare by wall time,
        # which cannot tell the two 01:30s of a DST change apart.
        moment = instant.timestamp()
        if moment >= self._stamps[0]:
            while self._stamps[-1] <= moment:
                self.fire(len(self._after))
            return bisect.bisect_right(self._stamps, moment) - 1
        ordinal = -1
        while self.fire(ordinal).timestamp() > moment:
            ordinal -= 1
        return ordinal
