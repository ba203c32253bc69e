"""How times are spelled in keys and bounds: dates, months and local times, DST-exact."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pendulum

from partita.errors import PartitionKeyError

if TYPE_CHECKING:
    from partita.assets.partitions.timed import TimePartitions

DATE_KEY = re.compile(r"\d{4}-\d{2}-\d{2}")
MONTH_KEY = re.compile(r"\d{4}-\d{2}")
HOUR_KEY = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2})?([+-]\d{2}:\d{2}|Z)?")
_ONE_DAY = dt.timedelta(days=1)
_TICK = dt.timedelta(microseconds=1)


def check_timezone(value: str) -> str:
    """``value`` if it names a timezone pendulum knows, else a ``ValueError`` (for field
    validators) naming it."""
    try:
        pendulum.timezone(value)
    except Exception as exc:  # pendulum raises its own InvalidTimezone
        raise ValueError(f"unknown timezone {value!r}: use an IANA name such as 'UTC'") from exc
    return value


def day_start(day: dt.date, timezone: str) -> pendulum.DateTime:
    """The first instant of ``day`` in ``timezone``.

    The earlier midnight when a DST change repeats it, and the moment clocks jump when
    a DST change skips midnight (Santiago, Cairo), so that consecutive days tile time.
    """
    early = pendulum.datetime(day.year, day.month, day.day, tz=timezone, fold=0)
    if early.date() == day:
        return early
    return pendulum.datetime(day.year, day.month, day.day, tz=timezone, fold=1)


def parse_day(text: str) -> dt.date:
    """Parse a ``YYYY-MM-DD`` date given on the command line or to the API."""
    if not DATE_KEY.fullmatch(text):
        raise PartitionKeyError(f"{text!r} is not a date; use YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise PartitionKeyError(f"{text!r} is not a valid date ({exc}); use YYYY-MM-DD") from exc


LAST_YEAR = 9998  # the end of a window in it, and the bound after it, are still dates


def check_year(year: int, text: str) -> None:
    """Refuse keys and bounds after ``LAST_YEAR``: the window after them cannot be held."""
    if year > LAST_YEAR:
        raise PartitionKeyError(
            f"{text!r} is after {LAST_YEAR}-12-31, the last date partita handles"
        )


def parse_date_key(key: str, definition: TimePartitions) -> dt.date:
    """The date of a day-based key, with a message naming the granularity when it is not."""
    if not DATE_KEY.fullmatch(key):
        if HOUR_KEY.fullmatch(key):
            why = f"is a time, but these partitions are {definition.granularity}"
        elif MONTH_KEY.fullmatch(key):
            why = f"is a month, but these partitions are {definition.granularity}"
        else:
            why = f"is not a {definition.granularity} partition key"
        raise definition._bad_key(key, why)
    try:
        day = dt.date.fromisoformat(key)
    except ValueError as exc:
        raise definition._bad_key(key, f"is not a valid date ({exc})") from exc
    check_year(day.year, key)
    return day


def render_local_key(timestamp: float, timezone: str) -> str:
    """``2026-04-08T13:00`` in ``timezone``, with the UTC offset when the time is ambiguous."""
    local = dt.datetime.fromtimestamp(timestamp, ZoneInfo(timezone))
    text = f"{local:%Y-%m-%dT%H:%M}"
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        text += _offset(local)
    return text


def _offset(local: dt.datetime) -> str:
    seconds = int((local.utcoffset() or dt.timedelta()).total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def parse_local_key(key: str, timezone: str, definition: TimePartitions) -> pendulum.DateTime:
    """The instant a local-time key names in ``timezone``.

    Raises:
        PartitionKeyError: the key is malformed, names a time that DST skips, or names a
            repeated time without its UTC offset.
    """
    match = HOUR_KEY.fullmatch(key)
    if match is None or match.group(3):
        if DATE_KEY.fullmatch(key):
            raise definition._bad_key(
                key, f"is a date, but these partitions are {definition.granularity}"
            )
        raise definition._bad_key(key)
    day, clock, _, offset = match.groups()
    try:
        naive = dt.datetime.fromisoformat(f"{day}T{clock}")
    except ValueError as exc:
        raise definition._bad_key(key, f"is not a valid time ({exc})") from exc
    check_year(naive.year, key)
    zone = ZoneInfo(timezone)
    if offset:
        local = dt.datetime.fromisoformat(key).astimezone(zone)
        if local.replace(tzinfo=None) != naive:
            raise definition._bad_key(key, f"is not a local time in {timezone}")
        return pendulum.instance(local)
    early, late = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if early.utcoffset() != late.utcoffset():
        if early.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != naive:
            raise PartitionKeyError(
                f"{key!r} does not exist in {timezone}: clocks skip it when DST starts"
            )
        raise PartitionKeyError(
            f"{key!r} occurs twice in {timezone} (DST ends): write "
            f"{key}{_offset(early)} or {key}{_offset(late)}"
        )
    return pendulum.instance(early)


def parse_bound(text: str, timezone: str) -> tuple[pendulum.DateTime, pendulum.DateTime]:
    """The time a ``--from``/``--to`` bound covers: a day, a month, or an instant.

    Raises:
        PartitionKeyError: the bound is not a date, a month or a time.
    """
    if re.match(r"\d{4}", text):
        check_year(int(text[:4]), text)
    try:
        if DATE_KEY.fullmatch(text):
            day = dt.date.fromisoformat(text)
            return day_start(day, timezone), day_start(day + _ONE_DAY, timezone)
        if MONTH_KEY.fullmatch(text):
            first = dt.date.fromisoformat(f"{text}-01")
            following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
            return day_start(first, timezone), day_start(following, timezone)
        if HOUR_KEY.fullmatch(text):
            moment = dt.datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=ZoneInfo(timezone))
            instant = pendulum.instance(moment).in_timezone(timezone)
            return instant, instant + _TICK
    except ValueError as exc:
        raise PartitionKeyError(f"{text!r} is not a valid date or time ({exc})") from exc
    raise PartitionKeyError(
        f"{text!r} is not a date or time; use YYYY-MM-DD, YYYY-MM or YYYY-MM-DDTHH:MM"
    )
