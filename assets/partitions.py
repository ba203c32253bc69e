"""Partitions definitions: which partition keys an asset has, and their time windows.

A time partition's window is half-open ``[start, end)`` in the definition's timezone;
a partition is due once its window has ended. Keys are canonical strings
(``2026-04-08``) rendered as hive path segments (``date=2026-04-08``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import pendulum
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from partita.assets.keys import check_safe_key
from partita.errors import DefinitionError, PartitionKeyError

_DATE_KEY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A partition's half-open time window ``[start, end)``."""

    start: pendulum.DateTime
    end: pendulum.DateTime


class DailyPartitions(BaseModel):
    """One partition per calendar day in a timezone.

    Args:
        start: the first day (``"2026-01-01"`` or a date).
        timezone: an IANA timezone name; a day runs from midnight to midnight there.
        end: the first day *not* included; ``None`` means the partitions go on to
            the last day that has ended.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: dt.date
    timezone: str = "UTC"
    end: dt.date | None = None
    dimension: str = "date"

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse_day(cls, value: Any) -> Any:
        if isinstance(value, str) and not _DATE_KEY.fullmatch(value):
            raise ValueError(f"{value!r} is not a date; use YYYY-MM-DD")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            pendulum.timezone(value)
        except Exception as exc:  # pendulum raises its own InvalidTimezone
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _end_after_start(self) -> DailyPartitions:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self

    # -- keys and indexes: integers (days since start) keep the hot paths cheap --

    def key_at(self, index: int) -> str:
        """The key of the partition ``index`` days after the start."""
        return dt.date.fromordinal(self.start.toordinal() + index).isoformat()

    def index(self, key: str) -> int:
        """Days from the start to ``key`` (negative before the start)."""
        return dt.date.fromisoformat(key).toordinal() - self.start.toordinal()

    def count(self, now: dt.datetime) -> int:
        """How many partitions are due at ``now`` (their window has ended)."""
        today = pendulum.instance(now).in_timezone(self.timezone).date()
        last = today if self.end is None else min(today, self.end)
        return max(0, last.toordinal() - self.start.toordinal())

    def keys(self, now: dt.datetime) -> list[str]:
        """Every due partition key at ``now``, oldest first."""
        first = self.start.toordinal()
        return [dt.date.fromordinal(first + i).isoformat() for i in range(self.count(now))]

    def keys_between(self, first: str, last: str, now: dt.datetime) -> list[str]:
        """Due keys from ``first`` to ``last`` inclusive, clipped to the definition."""
        lo = max(0, self.index(first))
        hi = min(self.count(now) - 1, self.index(last))
        return [self.key_at(i) for i in range(lo, hi + 1)]

    def contains(self, key: str, now: dt.datetime) -> bool:
        """Whether ``key`` is a due partition of this definition at ``now``."""
        return 0 <= self.index(key) < self.count(now)

    def parse(self, text: str, now: dt.datetime, *, asset: str = "") -> str:
        """Validate a user-given key and return it in canonical form.

        Raises:
            PartitionKeyError: the key is malformed, unsafe, before the start, or
                its window has not ended yet.
        """
        check_safe_key(text)
        if not _DATE_KEY.fullmatch(text):
            raise PartitionKeyError(f"{text!r} is not a daily partition key; use YYYY-MM-DD")
        try:
            day = dt.date.fromisoformat(text)
        except ValueError as exc:
            raise PartitionKeyError(
                f"{text!r} is not a valid date ({exc}); use YYYY-MM-DD"
            ) from exc
        owner = f"{asset}'s" if asset else "the"
        if day < self.start:
            raise PartitionKeyError(
                f"partition {text} is before {owner} first partition {self.start} "
                "(the start of its DailyPartitions)"
            )
        if self.end is not None and day >= self.end:
            raise PartitionKeyError(
                f"partition {text} is past {owner} last partition "
                f"{dt.date.fromordinal(self.end.toordinal() - 1)}"
            )
        if self.index(text) >= self.count(now):
            raise PartitionKeyError(
                f"partition {text} is not complete yet: its day has not ended in {self.timezone}"
            )
        return text

    def window(self, key: str) -> TimeWindow:
        """The partition's time window in the definition's timezone."""
        day = dt.date.fromisoformat(key)
        return TimeWindow(start=self._day_start(day), end=self._day_start(day + _ONE_DAY))

    def _day_start(self, day: dt.date) -> pendulum.DateTime:
        # The first instant of ``day`` there: the earlier midnight when a DST change repeats
        # it, and the moment clocks jump when a DST change skips midnight (Santiago, Cairo),
        # so that consecutive windows tile time (``start.add(days=1)`` would overlap them).
        early = pendulum.datetime(day.year, day.month, day.day, tz=self.timezone, fold=0)
        if early.date() == day:
            return early
        return pendulum.datetime(day.year, day.month, day.day, tz=self.timezone, fold=1)

    def segments(self, key: str) -> str:
        """The hive path segment(s) of ``key``: ``date=2026-04-08``."""
        return f"{self.dimension}={key}"

    def describe(self) -> str:
        """A short human description, for listings."""
        end = f" to {self.end}" if self.end else ""
        return f"daily from {self.start}{end} ({self.timezone})"


PartitionsDefinition = DailyPartitions
"""Every partitions definition partita supports; ``None`` means unpartitioned."""


def parse_day(text: str) -> dt.date:
    """Parse a ``YYYY-MM-DD`` bound given on the command line or to the API."""
    if not _DATE_KEY.fullmatch(text):
        raise PartitionKeyError(f"{text!r} is not a date; use YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise PartitionKeyError(f"{text!r} is not a valid date ({exc}); use YYYY-MM-DD") from exc


def check_compatible(down: DailyPartitions, up: DailyPartitions, what: str) -> None:
    """Raise :class:`DefinitionError` if two time definitions cannot be mapped key to key."""
    if down.timezone != up.timezone:
        raise DefinitionError(
            f"{what}: partitions in different timezones ({down.timezone} and {up.timezone}) "
            "cannot be mapped day to day"
        )
