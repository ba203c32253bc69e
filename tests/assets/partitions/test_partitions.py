"""Time, static and dynamic partitions: keys, key spaces, parsing and windows across DST."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from zoneinfo import ZoneInfo

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from partita.assets import (
    CronPartitions,
    DailyPartitions,
    DynamicPartitions,
    HourlyPartitions,
    Identity,
    MonthlyPartitions,
    PartitionsDefinition,
    StaticPartitions,
    TimeWindow,
    WeeklyPartitions,
    parse_day,
)
from partita.errors import DefinitionError, PartitionKeyError

UTC = dt.UTC
NOW = dt.datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
LATER = dt.datetime(2027, 1, 2, tzinfo=UTC)
DAILY = DailyPartitions(start="2026-04-01")
REGIONS = StaticPartitions(["eu", "us"], dimension="region")
CUSTOMERS = DynamicPartitions("customers")

# Zones where DST skips or repeats midnight itself (Santiago, Havana, Asuncion, Beirut,
# Cairo), besides the usual 02:00 changes and a half-hour shift (Lord Howe).
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


def hours(window: TimeWindow) -> float:
    return (window.end.timestamp() - window.start.timestamp()) / 3600


def local_date(instant: dt.datetime, timezone: str) -> dt.date:
    """The calendar date of an instant in ``timezone``, by the standard library (an oracle)."""
    return dt.datetime.fromtimestamp(instant.timestamp(), ZoneInfo(timezone)).date()


def message(definition: PartitionsDefinition, text: str, **kwargs: object) -> str:
    """The message ``parse`` gives for ``text`` at ``NOW``."""
    with pytest.raises(PartitionKeyError) as info:
        definition.space(NOW, {"customers": ("acme",)}).parse(text, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


# -- construction ---------------------------------------------------------------------------


def test_start_accepts_a_string_or_a_date() -> None:
    assert DailyPartitions(start="2026-01-01").start == dt.date(2026, 1, 1)
    assert DailyPartitions(start=dt.date(2026, 1, 1)) == DailyPartitions(start="2026-01-01")
    assert MonthlyPartitions(start="2026-04") == MonthlyPartitions(start="2026-04-01")
    assert HourlyPartitions(start="2026-04-08T13:00").start == dt.datetime(2026, 4, 8, 13)


@pytest.mark.parametrize("start", ["2026-1-1", "01/01/2026", "20260101", "yesterday"])
def test_a_malformed_start_is_rejected(start: str) -> None:
    with pytest.raises(ValidationError, match="is not a date; use YYYY-MM-DD"):
        DailyPartitions(start=start)
    with pytest.raises(ValidationError, match="use YYYY-MM-DD or YYYY-MM-DDTHH:MM"):
        HourlyPartitions(start=start)


def test_an_unknown_timezone_is_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown timezone 'Mars/Olympus'"):
        DailyPartitions(start="2026-01-01", timezone="Mars/Olympus")


@pytest.mark.parametrize(
    ("definition", "end"),
    [
        (DailyPartitions, "2026-01-01"),
        (DailyPartitions, "2025-12-31"),
        (WeeklyPartitions, "2026-01-07"),  # the first week starts on Monday 2026-01-05
        (MonthlyPartitions, "2026-01-31"),
    ],
)
def test_end_must_leave_a_partition(definition: type[DailyPartitions], end: str) -> None:
    with pytest.raises(ValidationError, match=f"end {end} leaves no partition after the start"):
        definition(start="2026-01-01", end=end)


def test_invalid_fields_are_rejected_and_definitions_are_frozen() -> None:
    with pytest.raises(ValidationError):
        DailyPartitions(start="2026-01-01", tz="UTC")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        DAILY.start = dt.date(2020, 1, 1)  # type: ignore[misc]
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        DailyPartitions(start="2026-01-01", end_offset=-1)
    with pytest.raises(ValidationError, match="'monday', 'tuesday'"):
        WeeklyPartitions(start="2026-01-01", first_weekday="funday")  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match="hour 25 is out of range 0-23"):
        CronPartitions(cron="0 25 * * *", start="2026-01-01")


def test_static_and_dynamic_definitions_are_validated() -> None:
    with pytest.raises(ValidationError, match="needs at least one key"):
        StaticPartitions([])
    with pytest.raises(ValidationError, match=r"duplicate keys \['eu'\]"):
        StaticPartitions(["eu", "us", "eu"])
    with pytest.raises(PartitionKeyError, match=re.escape("without '|', ',' or '='")):
        StaticPartitions(["a|b"])
    with pytest.raises(PartitionKeyError, match=re.escape("unsafe partition key '../x'")):
        StaticPartitions(["../x"])
    with pytest.raises(ValidationError, match="invalid dynamic partitions name 'Customers'"):
        DynamicPartitions("Customers")
    with pytest.raises(PartitionKeyError, match="unsafe partition key"):
        CUSTOMERS.check_new_key("../../etc")
    assert CUSTOMERS.check_new_key("acme") == "acme"


def test_describe() -> None:
    assert DAILY.describe() == "daily from 2026-04-01 (UTC)"
    bounded = DailyPartitions(start="2026-04-01", end="2026-05-01", timezone="Europe/Berlin")
    assert bounded.describe() == "daily from 2026-04-01 to 2026-05-01 (Europe/Berlin)"
    assert HourlyPartitions(start="2026-04-08T13:00").describe() == (
        "hourly from 2026-04-08 13:00:00 (UTC)"
    )
    cron = CronPartitions(cron="0 6 * * *", start="2026-04-01", timezone="Europe/Berlin")
    assert cron.describe() == "cron '0 6 * * *' from 2026-04-01 (Europe/Berlin)"
    assert REGIONS.describe() == "static [eu, us]"
    assert CUSTOMERS.describe() == "dynamic 'customers'"


def test_the_shape_leaves_out_the_range() -> None:
    moved = DailyPartitions(start="2020-01-01", end="2030-01-01", end_offset=1)
    assert (
        moved.shape() == DAILY.shape() == {"kind": "daily", "timezone": "UTC", "dimension": "date"}
    )
    assert DailyPartitions(start="2026-04-01", timezone="Europe/Berlin").shape() != DAILY.shape()
    assert WeeklyPartitions(start="2026-04-01", first_weekday="sunday").shape() != (
        WeeklyPartitions(start="2026-04-01").shape()
    )
    assert StaticPartitions(["eu"]).shape() == StaticPartitions(["eu", "us"]).shape()
    assert CUSTOMERS.shape() == {"kind": "dynamic", "name": "customers", "dimension": "customers"}


# -- key spaces -----------------------------------------------------------------------------


def test_keys_are_the_days_that_have_ended() -> None:
    space = DAILY.space(NOW)
    assert len(space) == 9
    assert space.keys() == [f"2026-04-0{d}" for d in range(1, 10)]
    assert list(space) == space.keys()
    assert "2026-04-09" in space
    assert "2026-04-10" not in space  # today: not over yet
    assert "2026-03-31" not in space
    assert space.key_at(0) == "2026-04-01"


def test_positions_of_keys_outside_the_space() -> None:
    space = DAILY.space(NOW)
    assert space.index("2026-04-03") == 2
    assert space.index("2026-03-31") == -1  # before the start
    assert space.index("2026-04-10") == 9  # not due yet
    assert space.index("2026-4-10") is None  # not a key of this shape
    assert space.index("eu") is None


def test_nothing_is_due_before_the_first_day_ends() -> None:
    assert len(DAILY.space(dt.datetime(2026, 4, 1, 23, 59, tzinfo=UTC))) == 0
    assert DAILY.space(dt.datetime(2020, 1, 1, tzinfo=UTC)).keys() == []
    assert len(DAILY.space(dt.datetime(2026, 4, 2, tzinfo=UTC))) == 1


def test_end_bounds_the_keys() -> None:
    bounded = DailyPartitions(start="2026-04-01", end="2026-04-04")
    assert bounded.space(NOW).keys() == ["2026-04-01", "2026-04-02", "2026-04-03"]
    assert "2026-04-04" not in bounded.space(NOW)


def test_end_offset_1_includes_the_open_window() -> None:
    today = DailyPartitions(start="2026-04-01", end_offset=1)
    assert today.space(NOW).keys()[-1] == "2026-04-10"
    assert today.space(NOW).parse("2026-04-10") == "2026-04-10"
    assert "2026-04-11" not in today.space(NOW)
    hourly = HourlyPartitions(start="2026-04-10", end_offset=1)
    assert hourly.space(NOW).keys()[-2:] == ["2026-04-10T11:00", "2026-04-10T12:00"]
    bounded = DailyPartitions(start="2026-04-01", end="2026-04-05", end_offset=1)
    assert bounded.space(NOW).keys()[-1] == "2026-04-04"  # the end still bounds it


def test_a_day_is_due_at_midnight_in_the_definitions_timezone() -> None:
    sydney = DailyPartitions(start="2026-04-01", timezone="Australia/Sydney")
    # 2026-04-01 14:00 UTC is 2026-04-02 01:00 in Sydney (UTC+11): April 1st is over there.
    assert sydney.space(dt.datetime(2026, 4, 1, 14, 0, tzinfo=UTC)).keys() == ["2026-04-01"]
    new_york = DailyPartitions(start="2026-04-01", timezone="America/New_York")
    # 2026-04-02 03:00 UTC is still April 1st, 23:00, in New York.
    assert new_york.space(dt.datetime(2026, 4, 2, 3, 0, tzinfo=UTC)).keys() == []


def test_hourly_weekly_monthly_and_cron_keys() -> None:
    hourly = HourlyPartitions(start="2026-04-10T09:00")
    assert hourly.space(NOW).keys() == ["2026-04-10T09:00", "2026-04-10T10:00", "2026-04-10T11:00"]
    # The first week is the first that starts on or after the start (Monday 2026-03-02).
    weekly = WeeklyPartitions(start="2026-03-01")
    assert weekly.space(NOW).keys() == [
        "2026-03-02",
        "2026-03-09",
        "2026-03-16",
        "2026-03-23",
        "2026-03-30",
    ]
    sunday = WeeklyPartitions(start="2026-03-01", first_weekday="sunday")
    assert sunday.space(NOW).keys()[0] == "2026-03-01"
    assert MonthlyPartitions(start="2026-01-15").space(NOW).keys() == ["2026-02", "2026-03"]
    cron = CronPartitions(cron="0 */6 * * *", start="2026-04-09")
    assert cron.space(NOW).keys() == [
        "2026-04-09T00:00",
        "2026-04-09T06:00",
        "2026-04-09T12:00",
        "2026-04-09T18:00",
        "2026-04-10T00:00",
        "2026-04-10T06:00",  # its window ended at noon, NOW
    ]


def test_static_and_dynamic_keys() -> None:
    assert REGIONS.space(NOW).keys() == ["eu", "us"]
    assert REGIONS.space(NOW).index("us") == 1
    assert REGIONS.space(NOW).index("apac") is None
    assert CUSTOMERS.space(NOW).keys() == []
    space = CUSTOMERS.space(NOW, {"customers": ("globex", "acme"), "other": ("x",)})
    assert space.keys() == ["globex", "acme"]  # in the order they were added
    assert "acme" in space and "x" not in space
    assert REGIONS.window("eu") is None


def test_select_is_inclusive_and_clipped() -> None:
    space = DAILY.space(NOW)
    assert space.select("2026-04-03", "2026-04-05") == ["2026-04-03", "2026-04-04", "2026-04-05"]
    assert space.select("2026-03-01", "2026-04-02") == ["2026-04-01", "2026-04-02"]
    assert space.select("2026-04-08", "2026-12-31") == ["2026-04-08", "2026-04-09"]
    assert space.select("2026-04-08", None) == ["2026-04-08", "2026-04-09"]
    assert space.select(None, "2026-04-01") == ["2026-04-01"]
    assert space.select("2026-04", "2026-04") == space.keys()  # a month bound
    assert space.select("2026-04-03T12:00", "2026-04-04T00:00") == ["2026-04-03", "2026-04-04"]


def test_select_by_time_and_month() -> None:
    hourly = HourlyPartitions(start="2026-04-01", timezone="America/New_York").space(NOW)
    assert hourly.select("2026-04-08T13:00", "2026-04-08T14:00") == [
        "2026-04-08T13:00",
        "2026-04-08T14:00",
    ]
    assert hourly.select("2026-04-08T17:00Z", "2026-04-08T17:30Z") == ["2026-04-08T13:00"]
    assert len(hourly.select("2026-04-08", "2026-04-08")) == 24
    monthly = MonthlyPartitions(start="2025-01").space(NOW)
    assert monthly.select("2025-12-31", "2026-01-01") == ["2025-12", "2026-01"]
    assert monthly.select("2025-03", "2025-04") == ["2025-03", "2025-04"]


@pytest.mark.parametrize(
    ("first", "last", "text"),
    [
        ("2026-04-09", "2026-04-08", "--from 2026-04-09 is after --to 2026-04-08"),
        ("2026/04/09", None, "'2026/04/09' is not a date or time; use YYYY-MM-DD, YYYY-MM or"),
        ("2026-02-30", None, "'2026-02-30' is not a valid date or time"),
    ],
)
def test_select_rejects_bad_bounds(first: str, last: str | None, text: str) -> None:
    with pytest.raises(PartitionKeyError, match=re.escape(text)):
        DAILY.space(NOW).select(first, last)


def test_select_needs_a_time_dimension() -> None:
    with pytest.raises(PartitionKeyError) as info:
        REGIONS.space(NOW).select("2026-04-01", None, asset="sales")
    assert str(info.value) == (
        "sales has no time dimension, so --from/--to cannot select them; "
        "name partitions with --partition"
    )


def test_segments_are_hive_style() -> None:
    assert DAILY.segments("2026-04-08") == "date=2026-04-08"
    assert DailyPartitions(start="2026-04-01", dimension="day").segments("2026-04-08") == (
        "day=2026-04-08"
    )
    assert HourlyPartitions(start="2026-04-01").segments("2026-04-08T13:00") == (
        "hour=2026-04-08T13:00"
    )
    assert REGIONS.segments("eu") == "region=eu"
    assert CUSTOMERS.segments("acme") == "customers=acme"
    assert DAILY.from_segments("date=2026-04-08") == "2026-04-08"
    with pytest.raises(PartitionKeyError, match="'day=2026-04-08' is not a partition path"):
        DAILY.from_segments("day=2026-04-08")


# -- parsing user-given keys ----------------------------------------------------------------


def test_parse_returns_the_canonical_key() -> None:
    assert DAILY.space(NOW).parse("2026-04-08") == "2026-04-08"
    hourly = HourlyPartitions(start="2026-04-01", timezone="America/New_York").space(NOW)
    assert hourly.parse("2026-04-08T13:00") == "2026-04-08T13:00"
    assert hourly.parse("2026-04-08T13:00-04:00") == "2026-04-08T13:00"  # the offset is implied


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-13-45", "'2026-13-45' is not a valid date"),
        ("2026-02-30", "'2026-02-30' is not a valid date"),
        ("2026-4-8", "'2026-4-8' is not a daily partition key; use YYYY-MM-DD"),
        ("20260408", "is not a daily partition key"),
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
def test_malformed_or_unsafe_keys_are_rejected(text: str, expected: str) -> None:
    assert expected in message(DAILY, text)


@pytest.mark.parametrize(
    ("definition", "text", "expected"),
    [
        (
            REGIONS,
            "../../etc",
            "unsafe partition key '../../etc': keys must not contain '/', '\\', '..' or "
            "control characters, nor start with '.'",
        ),
        (
            WeeklyPartitions(start="2026-01-01"),
            "2026-04-08",
            "'2026-04-08' is a Wednesday, not the first day of a week: weekly partitions "
            "start on Monday; use 2026-04-06",
        ),
        (
            WeeklyPartitions(start="2026-01-01", first_weekday="sunday"),
            "2026-04-06",
            "'2026-04-06' is a Monday, not the first day of a week: weekly partitions "
            "start on Sunday; use 2026-04-05",
        ),
        (
            DAILY,
            "2026-04-08T13:00",
            "'2026-04-08T13:00' is a time, but these partitions are daily; use YYYY-MM-DD",
        ),
        (
            HourlyPartitions(start="2026-04-01"),
            "2026-04-08",
            "'2026-04-08' is a date, but these partitions are hourly; "
            "use YYYY-MM-DDTHH:00 (local time)",
        ),
        (
            DAILY,
            "2026-04",
            "'2026-04' is a month, but these partitions are daily; use YYYY-MM-DD",
        ),
        (
            MonthlyPartitions(start="2026-01"),
            "2026-04-01",
            "'2026-04-01' is not a monthly partition key (a date: monthly keys name the "
            "month); use YYYY-MM",
        ),
        (
            MonthlyPartitions(start="2026-01"),
            "2026-13",
            "'2026-13' is not a valid month; use YYYY-MM",
        ),
        (
            HourlyPartitions(start="2026-04-01"),
            "2026-04-08T13:30",
            "'2026-04-08T13:30' is not the start of an hourly window; "
            "use YYYY-MM-DDTHH:00 (local time)",
        ),
        (
            HourlyPartitions(start="2026-04-01"),
            "2026-04-08T25:00",
            "'2026-04-08T25:00' is not a valid time (hour must be in 0..23); "
            "use YYYY-MM-DDTHH:00 (local time)",
        ),
        (
            CronPartitions(cron="0 6 * * *", start="2026-04-01"),
            "2026-04-08T07:00",
            "'2026-04-08T07:00' is not the start of a cron window; "
            "use the YYYY-MM-DDTHH:MM of a fire time (local time)",
        ),
        (
            CUSTOMERS,
            "globex",
            "'globex' is not a partition: the dynamic partitions set 'customers' has the keys "
            "acme; add keys with `partita partitions add ASSET KEY...`",
        ),
        (
            DynamicPartitions("suppliers"),
            "globex",
            "'globex' is not a partition: the dynamic partitions set 'suppliers' has no keys "
            "yet; add keys with `partita partitions add ASSET KEY...`",
        ),
        (
            REGIONS,
            "apac",
            "'apac' is not a partition: StaticPartitions([eu, us]) has the keys eu, us",
        ),
    ],
)
def test_each_wrong_key_has_one_clear_message(
    definition: PartitionsDefinition, text: str, expected: str
) -> None:
    assert message(definition, text) == expected


def test_a_key_before_the_start_names_the_first_partition() -> None:
    assert message(DAILY, "2026-03-31", asset="sales") == (
        "partition 2026-03-31 is before sales's first partition 2026-04-01 "
        "(the start of its DailyPartitions)"
    )
    assert message(DAILY, "2026-03-31") == (
        "partition 2026-03-31 is before the first partition 2026-04-01 "
        "(the start of its DailyPartitions)"
    )


def test_a_key_after_the_end_names_the_last_partition() -> None:
    bounded = DailyPartitions(start="2026-04-01", end="2026-04-05")
    assert message(bounded, "2026-04-05", asset="sales") == (
        "partition 2026-04-05 is past sales's last partition 2026-04-04"
    )


@pytest.mark.parametrize(
    ("key", "end"),
    [
        ("2026-04-10", "2026-04-11T00:00:00+00:00"),
        ("2026-04-11", "2026-04-12T00:00:00+00:00"),
        ("2027-01-01", "2027-01-02T00:00:00+00:00"),
    ],
)
def test_a_key_whose_window_has_not_ended_is_not_complete(key: str, end: str) -> None:
    assert message(DAILY, key) == f"partition {key} is not complete yet: its window ends at {end}"


def test_a_named_key_of_a_dynamic_set_names_the_asset() -> None:
    assert message(CUSTOMERS, "globex", asset="sales").startswith(
        "'globex' is not a partition of sales: the dynamic partitions set 'customers'"
    )


def test_partition_key_errors_are_definition_errors() -> None:
    with pytest.raises(DefinitionError):
        DAILY.space(NOW).parse("nope")


def test_parse_day() -> None:
    assert parse_day("2026-04-08") == dt.date(2026, 4, 8)
    with pytest.raises(PartitionKeyError, match="'2026-4-8' is not a date; use YYYY-MM-DD"):
        parse_day("2026-4-8")
    with pytest.raises(PartitionKeyError, match="'2026-13-45' is not a valid date"):
        parse_day("2026-13-45")


def test_identity_refuses_different_timezones() -> None:
    berlin = DailyPartitions(start="2026-01-01", timezone="Europe/Berlin")
    Identity().check(DAILY, DailyPartitions(start="2025-01-01"), "a <- b")
    with pytest.raises(DefinitionError, match=r"^a <- b: Identity\(\) maps a key to the same"):
        Identity().check(DAILY, berlin, "a <- b")


# -- DST: local-time keys -------------------------------------------------------------------


def test_an_hourly_definition_has_23_and_25_hours_on_dst_days() -> None:
    space = HourlyPartitions(start="2026-01-01", timezone="America/New_York").space(LATER)
    spring = space.select("2026-03-08", "2026-03-08")
    assert len(spring) == 23
    assert spring[1:3] == ["2026-03-08T01:00", "2026-03-08T03:00"]  # 02:00 does not exist
    autumn = space.select("2026-11-01", "2026-11-01")
    assert len(autumn) == 25
    assert autumn[:4] == [
        "2026-11-01T00:00",
        "2026-11-01T01:00-04:00",  # the repeated hour carries its offset
        "2026-11-01T01:00-05:00",
        "2026-11-01T02:00",
    ]
    assert [space.parse(key) for key in autumn] == autumn


def test_ambiguous_and_nonexistent_local_times_are_refused() -> None:
    hourly = HourlyPartitions(start="2026-01-01", timezone="America/New_York")
    assert message(hourly, "2026-11-01T01:00") == (
        "'2026-11-01T01:00' occurs twice in America/New_York (DST ends): write "
        "2026-11-01T01:00-04:00 or 2026-11-01T01:00-05:00"
    )
    with pytest.raises(PartitionKeyError) as info:
        hourly.space(LATER).parse("2026-03-08T02:00")
    assert str(info.value) == (
        "'2026-03-08T02:00' does not exist in America/New_York: clocks skip it when DST starts"
    )
    with pytest.raises(PartitionKeyError, match="is not a local time in America/New_York"):
        hourly.space(LATER).parse("2026-11-01T01:00-03:00")


def test_hourly_keys_are_local_hours_with_a_half_hour_offset() -> None:
    kolkata = HourlyPartitions(start="2026-04-08", timezone="Asia/Kolkata")
    keys = kolkata.space(dt.datetime(2026, 4, 7, 21, 0, tzinfo=UTC)).keys()
    assert keys == ["2026-04-08T00:00", "2026-04-08T01:00"]  # 18:30 and 19:30 UTC
    assert kolkata.window("2026-04-08T00:00").start == pendulum.datetime(
        2026, 4, 7, 18, 30, tz="UTC"
    )


@pytest.mark.parametrize("start", ["2026-01-01", "2026-07-01", "2026-04-05T01:00"])
def test_hourly_keys_do_not_depend_on_the_start(start: str) -> None:
    # Lord Howe shifts by half an hour for DST: local hours are :00 in winter, :30 in summer.
    hourly = HourlyPartitions(start=start, timezone="Australia/Lord_Howe")
    assert hourly.window("2026-07-01T10:00").start == pendulum.datetime(2026, 6, 30, 23, 30)
    assert hourly.window("2026-01-01T10:30").start == pendulum.datetime(2025, 12, 31, 23, 30)


def test_hourly_windows_before_1970_are_exact() -> None:
    hourly = HourlyPartitions(start="1969-12-01")
    window = hourly.window("1969-12-31T05:00")
    assert hourly.ordinal_at(window.end - dt.timedelta(microseconds=1)) == hourly.ordinal_of(
        "1969-12-31T05:00"
    )


# -- time windows ---------------------------------------------------------------------------


def test_a_window_is_midnight_to_midnight() -> None:
    window = DailyPartitions(start="2026-01-01", timezone="Europe/Berlin").window("2026-04-08")
    assert window.start == pendulum.datetime(2026, 4, 8, tz="Europe/Berlin")
    assert window.end == pendulum.datetime(2026, 4, 9, tz="Europe/Berlin")
    assert window.start.timezone_name == "Europe/Berlin"
    assert hours(window) == 24


def test_weekly_monthly_and_cron_windows() -> None:
    week = WeeklyPartitions(start="2026-01-01", timezone="Europe/Berlin").window("2026-03-23")
    assert (week.start, week.end) == (
        pendulum.datetime(2026, 3, 23, tz="Europe/Berlin"),
        pendulum.datetime(2026, 3, 30, tz="Europe/Berlin"),
    )
    assert hours(week) == 7 * 24 - 1  # DST starts on 2026-03-29
    month = MonthlyPartitions(start="2026-01").window("2026-02")
    assert (month.start, month.end) == (
        pendulum.datetime(2026, 2, 1),
        pendulum.datetime(2026, 3, 1),
    )
    cron = CronPartitions(cron="0 6 * * *", start="2026-01-01", timezone="Europe/Berlin")
    window = cron.window("2026-03-28T06:00")
    assert window.end == pendulum.datetime(2026, 3, 29, 6, tz="Europe/Berlin")
    assert hours(window) == 23


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
    assert local_date(window.start - dt.timedelta(microseconds=1), timezone) < key
    following = definition.window((key + dt.timedelta(days=1)).isoformat())
    assert window.end.timestamp() == following.start.timestamp()


def test_santiago_starts_the_day_when_clocks_jump() -> None:
    window = DailyPartitions(start="2026-01-01", timezone="America/Santiago").window("2026-09-06")
    assert (window.start.hour, window.start.minute) == (1, 0)  # 00:00 does not exist


@pytest.mark.parametrize("timezone", ["America/New_York", "Europe/Berlin", "Australia/Sydney"])
def test_windows_start_at_midnight_on_dst_days(timezone: str) -> None:
    definition = DailyPartitions(start="2026-01-01", timezone=timezone)
    for key in definition.space(LATER).select("2026-01-01", "2026-12-31"):
        window = definition.window(key)
        assert (window.start.hour, window.start.minute) == (0, 0)
        assert (window.end.hour, window.end.minute) == (0, 0)
        assert window.start.date().isoformat() == key
        assert hours(window) in (23, 24, 25)


@given(day=days, timezone=st.sampled_from(TIMEZONES), span=st.integers(1, 4))
def test_consecutive_days_tile_time(day: dt.date, timezone: str, span: int) -> None:
    definition = DailyPartitions(start="2000-01-01", timezone=timezone)
    keys = [(day + dt.timedelta(days=i)).isoformat() for i in range(span + 1)]
    windows = [definition.window(key) for key in keys]
    for before, after in itertools.pairwise(windows):
        assert before.end.timestamp() == after.start.timestamp()
    for key, window in zip(keys, windows, strict=True):
        # Exactly the instants whose local date is the key: first and last microsecond.
        assert local_date(window.start, timezone).isoformat() == key
        assert local_date(window.end - dt.timedelta(microseconds=1), timezone).isoformat() == key
        assert 22 <= hours(window) <= 26


@given(day=days, timezone=st.sampled_from(TIMEZONES))
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


@pytest.mark.parametrize(
    "definition",
    [
        HourlyPartitions(start="2026-01-01", timezone="America/New_York"),
        DailyPartitions(start="2025-06-01"),
        CronPartitions(cron="0 */6 * * *", start="2026-01-01", timezone="Europe/Berlin"),
    ],
)
def test_listed_keys_match_rendering_each_key_across_cached_blocks(definition) -> None:
    """Keys come from blocks rendered once per definition: a space that starts and ends
    inside blocks, and a later (longer) space, list exactly what rendering each key gives."""
    first = definition.space(dt.datetime(2026, 3, 1, tzinfo=dt.UTC), {})
    later = definition.space(dt.datetime(2026, 11, 2, 7, tzinfo=dt.UTC), {})
    for space in (first, later, first):
        expected = [space.key_at(i) for i in range(len(space))]
        assert space.keys() == expected
        assert [space.index(key) for key in expected[::97]] == list(range(0, len(expected), 97))


@pytest.mark.parametrize(
    ("definition", "key"),
    [
        (DailyPartitions(start="2026-01-01"), "9999-12-31"),
        (WeeklyPartitions(start="2026-01-05"), "9999-12-27"),
        (MonthlyPartitions(start="2026-01-01"), "9999-12"),
        (HourlyPartitions(start="2026-01-01", timezone="Europe/Berlin"), "9999-12-31T23:00"),
    ],
)
def test_keys_after_the_last_supported_year_are_refused_by_name(definition, key) -> None:
    """The window after 9999-12-31 cannot be held in a date: one clear error, not a crash."""
    now = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    with pytest.raises(PartitionKeyError, match="after 9998-12-31"):
        definition.space(now, {}).parse(key)
    with pytest.raises(PartitionKeyError, match="after 9998-12-31"):
        definition.space(now, {}).select(key, key)
