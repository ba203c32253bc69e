"""DailyPartitions: keys, indexes, due partitions, parsing and time windows across DST."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from zoneinfo import ZoneInfo

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from partita.assets import DailyPartitions, TimeWindow, parse_day
from partita.assets.partitions import check_compatible
from partita.errors import DefinitionError, PartitionKeyError

UTC = dt.UTC
NOW = dt.datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
DAILY = DailyPartitions(start="2026-04-01")

# Zones with DST at 02:00/03:00 (New York, Berlin), in the southern hemisphere (Sydney),
# with a half-hour shift (Lord Howe), and where DST skips or repeats midnight itself
# (Santiago, Havana, Asuncion, Beirut, Cairo).
TIMEZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Havana",
    "America/Asuncion",
    "Asia/Beirut",
    "Africa/Cairo",
    "Asia/Kolkata",
]

days = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2035, 12, 31))
instants = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2036, 1, 1), timezones=st.just(UTC)
)
timezones = st.sampled_from(TIMEZONES)


def _dst_days(timezone: str, years: range) -> list[dt.date]:
    """The days on which the UTC offset of ``timezone`` changes (found by the stdlib)."""
    zone = ZoneInfo(timezone)
    found = []
    day = dt.date(years.start, 1, 1)
    offset = dt.datetime.combine(day, dt.time(), zone).utcoffset()
    while day.year < years.stop:
        day += dt.timedelta(days=1)
        following = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).utcoffset()
        if following != offset:
            found.append(day)
        offset = following
    return found


DST_DAYS = [(tz, day) for tz in TIMEZONES for day in _dst_days(tz, range(2024, 2028))]
zoned_days = st.one_of(st.tuples(timezones, days), st.sampled_from(DST_DAYS))
FAST = settings(max_examples=150, deadline=None)


def local_date(instant: dt.datetime, timezone: str) -> dt.date:
    """The calendar date of an instant in ``timezone``, by the standard library (an oracle)."""
    return dt.datetime.fromtimestamp(instant.timestamp(), ZoneInfo(timezone)).date()


def just_before(instant: dt.datetime) -> dt.datetime:
    """One microsecond earlier, in absolute time."""
    return dt.datetime.fromtimestamp(instant.timestamp(), UTC) - dt.timedelta(microseconds=1)


def hours(window: TimeWindow) -> float:
    return (window.end.timestamp() - window.start.timestamp()) / 3600


# -- construction ---------------------------------------------------------------------------


def test_start_accepts_a_string_or_a_date() -> None:
    assert DailyPartitions(start="2026-01-01").start == dt.date(2026, 1, 1)
    assert DailyPartitions(start=dt.date(2026, 1, 1)) == DailyPartitions(start="2026-01-01")


@pytest.mark.parametrize("start", ["2026-1-1", "01/01/2026", "20260101", "yesterday"])
def test_a_malformed_start_is_rejected(start: str) -> None:
    with pytest.raises(ValidationError, match="use YYYY-MM-DD"):
        DailyPartitions(start=start)


def test_an_unknown_timezone_is_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown timezone 'Mars/Olympus'"):
        DailyPartitions(start="2026-01-01", timezone="Mars/Olympus")


@pytest.mark.parametrize("end", ["2026-01-01", "2025-12-31"])
def test_end_must_be_after_start(end: str) -> None:
    with pytest.raises(ValidationError, match="must be after start"):
        DailyPartitions(start="2026-01-01", end=end)


def test_unknown_fields_are_rejected_and_definitions_are_frozen() -> None:
    with pytest.raises(ValidationError):
        DailyPartitions(start="2026-01-01", tz="UTC")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        DAILY.start = dt.date(2020, 1, 1)  # type: ignore[misc]


def test_describe() -> None:
    assert DAILY.describe() == "daily from 2026-04-01 (UTC)"
    bounded = DailyPartitions(start="2026-04-01", end="2026-05-01", timezone="Europe/Berlin")
    assert bounded.describe() == "daily from 2026-04-01 to 2026-05-01 (Europe/Berlin)"


# -- keys, indexes and due partitions -------------------------------------------------------


def test_keys_are_the_days_that_have_ended() -> None:
    assert DAILY.count(NOW) == 9
    assert DAILY.keys(NOW) == [f"2026-04-0{d}" for d in range(1, 10)]
    assert DAILY.contains("2026-04-09", NOW)
    assert not DAILY.contains("2026-04-10", NOW)  # today: not over yet
    assert not DAILY.contains("2026-03-31", NOW)


def test_nothing_is_due_before_the_first_day_ends() -> None:
    assert DAILY.count(dt.datetime(2026, 4, 1, 23, 59, tzinfo=UTC)) == 0
    assert DAILY.keys(dt.datetime(2020, 1, 1, tzinfo=UTC)) == []
    assert DAILY.count(dt.datetime(2026, 4, 2, tzinfo=UTC)) == 1


def test_end_bounds_the_keys() -> None:
    bounded = DailyPartitions(start="2026-04-01", end="2026-04-04")
    assert bounded.keys(NOW) == ["2026-04-01", "2026-04-02", "2026-04-03"]
    assert not bounded.contains("2026-04-04", NOW)


def test_a_day_is_due_at_midnight_in_the_definitions_timezone() -> None:
    sydney = DailyPartitions(start="2026-04-01", timezone="Australia/Sydney")
    # 2026-04-01 14:00 UTC is 2026-04-02 01:00 in Sydney (UTC+11): April 1st is over there.
    assert sydney.keys(dt.datetime(2026, 4, 1, 14, 0, tzinfo=UTC)) == ["2026-04-01"]
    new_york = DailyPartitions(start="2026-04-01", timezone="America/New_York")
    # 2026-04-02 03:00 UTC is still April 1st, 23:00, in New York.
    assert new_york.keys(dt.datetime(2026, 4, 2, 3, 0, tzinfo=UTC)) == []


def test_keys_between_is_inclusive_and_clipped() -> None:
    assert DAILY.keys_between("2026-04-03", "2026-04-05", NOW) == [
        "2026-04-03",
        "2026-04-04",
        "2026-04-05",
    ]
    assert DAILY.keys_between("2026-03-01", "2026-04-02", NOW) == ["2026-04-01", "2026-04-02"]
    assert DAILY.keys_between("2026-04-08", "2026-12-31", NOW) == ["2026-04-08", "2026-04-09"]
    assert DAILY.keys_between("2026-04-05", "2026-04-03", NOW) == []


def test_segments_are_hive_style() -> None:
    assert DAILY.segments("2026-04-08") == "date=2026-04-08"
    assert DailyPartitions(start="2026-04-01", dimension="day").segments("2026-04-08") == (
        "day=2026-04-08"
    )


@FAST
@given(start=days, offset=st.integers(-400, 400))
def test_key_at_and_index_are_inverse(start: dt.date, offset: int) -> None:
    definition = DailyPartitions(start=start)
    key = definition.key_at(offset)
    assert definition.index(key) == offset
    assert dt.date.fromisoformat(key) == start + dt.timedelta(days=offset)
    assert definition.key_at(definition.index(key)) == key


@FAST
@given(start=days, now=instants, timezone=timezones, length=st.none() | st.integers(1, 60))
def test_keys_round_trip_through_parse_index_and_segments(
    start: dt.date, now: dt.datetime, timezone: str, length: int | None
) -> None:
    end = None if length is None else start + dt.timedelta(days=length)
    definition = DailyPartitions(start=start, timezone=timezone, end=end)
    keys = definition.keys(now)
    assert len(keys) == definition.count(now)
    assert keys == sorted(keys)
    assert [definition.index(k) for k in keys] == list(range(len(keys)))
    for key in keys[:3] + keys[-3:]:
        assert definition.parse(key, now) == key
        assert definition.key_at(definition.index(key)) == key
        assert definition.contains(key, now)
        assert definition.segments(key) == f"date={key}"
        assert definition.segments(key).split("=", 1)[1] == key
    if keys:
        assert definition.keys_between(keys[0], keys[-1], now) == keys


@FAST
@given(start=days, now=instants, timezone=timezones, offset=st.integers(-5, 5000))
def test_a_partition_is_due_exactly_when_its_window_has_ended(
    start: dt.date, now: dt.datetime, timezone: str, offset: int
) -> None:
    definition = DailyPartitions(start=start, timezone=timezone)
    key = definition.key_at(offset)
    ended = definition.window(key).end.timestamp() <= now.timestamp()
    assert definition.contains(key, now) == (offset >= 0 and ended)


# -- parsing user-given keys ----------------------------------------------------------------


def test_parse_returns_the_canonical_key() -> None:
    assert DAILY.parse("2026-04-08", NOW) == "2026-04-08"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-13-45", "'2026-13-45' is not a valid date"),
        ("2026-02-30", "'2026-02-30' is not a valid date"),
        ("2026-4-8", "'2026-4-8' is not a daily partition key; use YYYY-MM-DD"),
        ("20260408", "is not a daily partition key"),
        ("2026-04-08T00:00", "is not a daily partition key"),
        ("", "is not a daily partition key"),
        ("../x", "unsafe partition key '../x'"),
        ("a/b", "unsafe partition key 'a/b'"),
        ("..", "unsafe partition key"),
        (".hidden", "unsafe partition key"),
        ("a\\b", "unsafe partition key"),
        ("2026-04-08\n", "unsafe partition key"),
        ("2026-04\x0008", "unsafe partition key"),
    ],
)
def test_malformed_or_unsafe_keys_are_rejected(text: str, message: str) -> None:
    with pytest.raises(PartitionKeyError, match=re.escape(message)):
        DAILY.parse(text, NOW)


def test_a_key_before_the_start_names_the_first_partition() -> None:
    with pytest.raises(PartitionKeyError) as info:
        DAILY.parse("2026-03-31", NOW, asset="sales")
    assert str(info.value) == (
        "partition 2026-03-31 is before sales's first partition 2026-04-01 "
        "(the start of its DailyPartitions)"
    )


def test_a_key_after_the_end_names_the_last_partition() -> None:
    bounded = DailyPartitions(start="2026-04-01", end="2026-04-05")
    with pytest.raises(PartitionKeyError) as info:
        bounded.parse("2026-04-05", NOW)
    assert str(info.value) == "partition 2026-04-05 is past the last partition 2026-04-04"


@pytest.mark.parametrize("key", ["2026-04-10", "2026-04-11", "2027-01-01"])
def test_a_key_whose_day_has_not_ended_is_not_complete(key: str) -> None:
    with pytest.raises(PartitionKeyError) as info:
        DAILY.parse(key, NOW)
    assert str(info.value) == (f"partition {key} is not complete yet: its day has not ended in UTC")


def test_partition_key_errors_are_definition_errors() -> None:
    with pytest.raises(DefinitionError):
        DAILY.parse("nope", NOW)


def test_parse_day() -> None:
    assert parse_day("2026-04-08") == dt.date(2026, 4, 8)
    with pytest.raises(PartitionKeyError, match="'2026-4-8' is not a date; use YYYY-MM-DD"):
        parse_day("2026-4-8")
    with pytest.raises(PartitionKeyError, match="'2026-13-45' is not a valid date"):
        parse_day("2026-13-45")


def test_check_compatible_refuses_different_timezones() -> None:
    berlin = DailyPartitions(start="2026-01-01", timezone="Europe/Berlin")
    check_compatible(DAILY, DailyPartitions(start="2025-01-01"), "a <- b")
    with pytest.raises(DefinitionError, match=r"a <- b: partitions in different timezones"):
        check_compatible(DAILY, berlin, "a <- b")


# -- time windows ---------------------------------------------------------------------------


def test_a_window_is_midnight_to_midnight() -> None:
    window = DailyPartitions(start="2026-01-01", timezone="Europe/Berlin").window("2026-04-08")
    assert window.start == pendulum.datetime(2026, 4, 8, tz="Europe/Berlin")
    assert window.end == pendulum.datetime(2026, 4, 9, tz="Europe/Berlin")
    assert window.start.timezone_name == "Europe/Berlin"
    assert hours(window) == 24


@pytest.mark.parametrize(
    ("timezone", "day", "length"),
    [
        ("America/New_York", "2026-03-08", 23),  # spring forward at 02:00
        ("America/New_York", "2026-11-01", 25),  # fall back at 02:00
        ("America/New_York", "2026-03-09", 24),
        ("Europe/Berlin", "2026-03-29", 23),
        ("Europe/Berlin", "2026-10-25", 25),
        ("Australia/Sydney", "2026-04-05", 25),  # southern hemisphere: DST ends in April
        ("Australia/Sydney", "2026-10-04", 23),
        ("Australia/Lord_Howe", "2026-04-05", 24.5),  # a half-hour shift
        ("America/Santiago", "2026-09-06", 23),  # midnight itself is skipped
        ("America/Havana", "2026-11-01", 25),  # midnight itself happens twice
        ("UTC", "2026-03-29", 24),
    ],
)
def test_windows_across_dst(timezone: str, day: str, length: float) -> None:
    definition = DailyPartitions(start="2026-01-01", timezone=timezone)
    window = definition.window(day)
    assert hours(window) == length
    key = dt.date.fromisoformat(day)
    assert window.start.date() == key
    assert window.end.date() == key + dt.timedelta(days=1)
    assert local_date(window.start, timezone) == key
    assert local_date(just_before(window.start), timezone) < key
    assert window.end == definition.window((key + dt.timedelta(days=1)).isoformat()).start


@pytest.mark.parametrize("timezone", ["America/New_York", "Europe/Berlin", "Australia/Sydney"])
def test_windows_start_at_midnight_on_dst_days(timezone: str) -> None:
    definition = DailyPartitions(start="2026-01-01", timezone=timezone)
    for key in definition.keys_between("2026-01-01", "2026-12-31", dt.datetime(2027, 1, 2)):
        window = definition.window(key)
        assert (window.start.hour, window.start.minute) == (0, 0)
        assert (window.end.hour, window.end.minute) == (0, 0)
        assert window.start.date().isoformat() == key
        assert hours(window) in (23, 24, 25)


@settings(max_examples=200, deadline=None)
@given(zoned=zoned_days, span=st.integers(1, 4))
def test_consecutive_windows_tile_time(zoned: tuple[str, dt.date], span: int) -> None:
    timezone, day = zoned
    day -= dt.timedelta(days=1)
    definition = DailyPartitions(start="2000-01-01", timezone=timezone)
    keys = [(day + dt.timedelta(days=i)).isoformat() for i in range(span + 1)]
    windows = [definition.window(key) for key in keys]
    for before, after in itertools.pairwise(windows):
        assert before.end == after.start
    for key, window in zip(keys, windows, strict=True):
        assert window.start < window.end
        # Exactly the instants whose local date is the key: first and last microsecond.
        assert local_date(window.start, timezone).isoformat() == key
        assert local_date(just_before(window.end), timezone).isoformat() == key
        assert 22 <= hours(window) <= 26


@FAST
@given(day=days, timezone=timezones)
def test_a_windows_bounds_are_midnights_where_midnight_exists(day: dt.date, timezone: str) -> None:
    window = DailyPartitions(start="2000-01-01", timezone=timezone).window(day.isoformat())
    naive_midnight = dt.datetime.combine(day, dt.time(), ZoneInfo(timezone))
    round_trip = naive_midnight.astimezone(UTC).astimezone(ZoneInfo(timezone))
    if round_trip.replace(tzinfo=None) == naive_midnight.replace(tzinfo=None):  # it exists
        assert (window.start.hour, window.start.minute) == (0, 0)


def test_time_windows_are_frozen() -> None:
    window = DAILY.window("2026-04-08")
    with pytest.raises(AttributeError):
        window.start = window.end  # type: ignore[misc]
