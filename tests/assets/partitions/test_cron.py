"""CronExpression: parsing, fire times, DST in four hemispheres' rules, and properties.

Fire times are compared as ISO strings or timestamps, never with ``<``/``==`` between
DateTimes: two datetimes in the same zone compare by wall time alone, fold ignored.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from partita.assets.partitions import cron
from partita.assets.partitions.cron import CronExpression
from partita.errors import DefinitionError

UTC = dt.UTC
NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"
SYDNEY = "Australia/Sydney"
SANTIAGO = "America/Santiago"


def fires(expr: str, tz: str, start: str, end: str) -> list[str]:
    """Fire times in ``[start, end)`` (local dates or datetimes in ``tz``) as ISO strings."""
    lo, hi = pendulum.parse(start, tz=tz), pendulum.parse(end, tz=tz)
    return [t.isoformat() for t in CronExpression.parse(expr).fires_between(lo, hi, tz)]


def day(expr: str, tz: str, date: str) -> list[str]:
    """The fire times on one local day."""
    following = (dt.date.fromisoformat(date) + dt.timedelta(days=1)).isoformat()
    return fires(expr, tz, date, following)


# -- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@MIDNIGHT", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("0 0 * * 7", "0 0 * * 0"),
        ("0 0 * * sun", "0 0 * * 0"),
        ("0 9 * * MON-FRI", "0 9 * * 1-5"),
        ("0 9 * * mon,Wed,FRI", "0 9 * * 1,3,5"),
        ("0 0 1 jan,JUL *", "0 0 1 1,7 *"),
        ("0 0 1 Feb-Apr *", "0 0 1 2,3,4 *"),
        ("5/20 * * * *", "5,25,45 * * * *"),
        ("10-30/10 1 * * *", "10,20,30 1 * * *"),
        ("0 0-23/6 * * *", "0 0,6,12,18 * * *"),
        ("0 0 * * 5-7", "0 0 * * 0,5,6"),
        ("0 0 * * 1/2", "0 0 * * 1,3,5"),
        ("0 0 * * */3", "0 0 * * 0,3,6"),
        ("0 0 */10 * *", "0 0 1,11,21,31 * *"),
        ("  0  0   * * *  ", "0 0 * * *"),
    ],
)
def test_equivalent_spellings_fire_alike(text: str, same_as: str) -> None:
    assert fires(text, "UTC", "2026-01-01", "2027-01-01") == fires(
        same_as, "UTC", "2026-01-01", "2027-01-01"
    )


def test_parse_keeps_the_text_normalized_and_compares_by_it() -> None:
    parsed = CronExpression.parse("  0   9 * *  MON ")
    assert parsed.text == "0 9 * * MON"
    assert parsed == CronExpression("0 9 * * MON")
    assert hash(parsed) == hash(CronExpression("0 9 * * MON"))
    assert repr(parsed) == "CronExpression(text='0 9 * * MON')"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 25 * * *", "cron expression '0 25 * * *': hour 25 is out of range 0-23"),
        ("60 * * * *", "minute 60 is out of range 0-59"),
        ("0 0 0 * *", "day-of-month 0 is out of range 1-31"),
        ("0 0 * 13 *", "month 13 is out of range 1-12"),
        ("0 0 * * 8", "day-of-week 8 is out of range 0-7 (0 and 7 are Sunday)"),
        (
            "0 0 * * * *",
            "expected 5 fields (minute hour day-of-month month day-of-week), got 6;"
            " seconds and year fields are not supported",
        ),
        ("0 0 * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"),
        ("", "expected 5 fields (minute hour day-of-month month day-of-week), got 0"),
        ("@reboot", "unknown shortcut '@reboot'; use one of @yearly, @annually, @monthly,"),
        ("0 0 L * *", "day-of-month 'L' uses the 'L'/'W' (last day, nearest weekday) extension"),
        ("0 0 15W * *", "day-of-month '15W' uses the 'L'/'W'"),
        ("0 0 * * 5L", "day-of-week '5L' uses the 'L'/'W'"),
        ("0 0 * * MON#2", "day-of-week 'MON#2' uses '#' (nth weekday), which standard cron"),
        ("0 0 ? * MON", "day-of-month '?' uses '?' (no specific value)"),
        ("x * * * *", "minute 'x' is not a number"),
        ("0 0 * FOO *", "month 'FOO' is not a number or a month name (JAN-DEC)"),
        ("0 0 * * FUNDAY", "day-of-week 'FUNDAY' is not a number or a weekday name (SUN-SAT)"),
        ("0 JAN * * *", "hour 'JAN' is not a number"),
        ("5-1 * * * *", "minute range '5-1' goes backwards; put the lower bound first"),
        (
            "0 0 * * FRI-SUN",
            "range 'FRI-SUN' goes backwards; put the lower bound first (7 is Sunday too, e.g. 5-7)",
        ),
        ("*/0 * * * *", "minute step in '*/0' must be at least 1"),
        ("*/x * * * *", "minute step 'x' is not a number"),
        ("*/ * * * *", "minute step is missing a number in '*/'"),
        ("-5 * * * *", "minute is missing a number in '-5'"),
        ("1,,2 * * * *", "minute '1,,2' has an empty list item"),
        ("0 0 30 2 *", "day-of-month '30' never occurs in Feb, so the expression would never"),
        ("0 0 31 4,6 *", "day-of-month '31' never occurs in Apr, Jun"),
    ],
)
def test_invalid_expressions_name_the_field_and_the_fix(text: str, message: str) -> None:
    with pytest.raises(DefinitionError, match=re.escape(message)) as caught:
        CronExpression.parse(text)
    assert str(caught.value).startswith(f"cron expression {text.strip()!r}: ")


def test_day_30_with_a_weekday_is_valid_because_either_day_field_may_match() -> None:
    assert day("0 0 30 2 MON", "UTC", "2026-02-02") == ["2026-02-02T00:00:00+00:00"]


def test_unknown_timezone_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError, match="unknown timezone 'Mars/Olympus'"):
        CronExpression.parse("@daily").next_after(
            dt.datetime(2026, 1, 1, tzinfo=UTC), "Mars/Olympus"
        )


# -- examples ------------------------------------------------------------------------------


def test_daily_and_hourly() -> None:
    assert fires("@daily", BERLIN, "2026-04-01", "2026-04-03") == [
        "2026-04-01T00:00:00+02:00",
        "2026-04-02T00:00:00+02:00",
    ]
    hourly = day("@hourly", BERLIN, "2026-04-01")
    assert len(hourly) == 24
    assert hourly[:2] == ["2026-04-01T00:00:00+02:00", "2026-04-01T01:00:00+02:00"]


def test_weekly_on_monday_at_six() -> None:
    assert fires("0 6 * * MON", NEW_YORK, "2026-04-01", "2026-04-21") == [
        "2026-04-06T06:00:00-04:00",
        "2026-04-13T06:00:00-04:00",
        "2026-04-20T06:00:00-04:00",
    ]


def test_nine_on_the_first_of_each_month() -> None:
    assert fires("0 9 1 * *", "UTC", "2026-01-15", "2026-04-15") == [
        "2026-02-01T09:00:00+00:00",
        "2026-03-01T09:00:00+00:00",
        "2026-04-01T09:00:00+00:00",
    ]


def test_every_fifteen_minutes() -> None:
    assert fires("*/15 * * * *", "UTC", "2026-01-01T10:50", "2026-01-01T11:31") == [
        "2026-01-01T11:00:00+00:00",
        "2026-01-01T11:15:00+00:00",
        "2026-01-01T11:30:00+00:00",
    ]


def test_restricted_day_of_month_and_weekday_match_either() -> None:
    # The 13th, and every Friday: 2026-03-13 is both, and fires once.
    assert [t[:10] for t in fires("0 0 13 * FRI", "UTC", "2026-03-01", "2026-04-01")] == [
        "2026-03-06",
        "2026-03-13",
        "2026-03-20",
        "2026-03-27",
    ]


def test_a_star_day_field_makes_both_day_fields_required() -> None:
    # As in Vixie cron: a day field starting with '*' (here '*/2') is ANDed with the other.
    assert [t[:10] for t in fires("0 0 */2 * MON", "UTC", "2026-03-01", "2026-04-01")] == [
        "2026-03-09",
        "2026-03-23",
    ]


def test_leap_day_schedule_jumps_over_years() -> None:
    leap = CronExpression.parse("0 0 29 2 *")
    after = leap.next_after(dt.datetime(2025, 1, 1, tzinfo=UTC), "UTC")
    assert after.isoformat() == "2028-02-29T00:00:00+00:00"
    before = leap.previous_before(dt.datetime(2028, 2, 29, tzinfo=UTC), "UTC")
    assert before.isoformat() == "2024-02-29T00:00:00+00:00"


def test_next_and_previous_are_strict_and_take_any_timezone() -> None:
    daily = CronExpression.parse("@daily")
    midnight = pendulum.datetime(2026, 4, 8, tz=BERLIN)
    assert daily.next_after(midnight, BERLIN).isoformat() == "2026-04-09T00:00:00+02:00"
    assert daily.previous_before(midnight, BERLIN).isoformat() == "2026-04-07T00:00:00+02:00"
    just_after = midnight.in_timezone("Asia/Tokyo").add(microseconds=1)
    assert daily.previous_before(just_after, BERLIN).isoformat() == "2026-04-08T00:00:00+02:00"
    assert daily.matches(midnight, BERLIN)
    assert not daily.matches(just_after, BERLIN)
    assert daily.next_after(midnight, "UTC").timezone_name == "UTC"


def test_naive_moments_are_utc() -> None:
    hourly = CronExpression.parse("@hourly")
    assert hourly.next_after(dt.datetime(2026, 1, 1, 10, 30), BERLIN).isoformat() == (
        "2026-01-01T12:00:00+01:00"
    )


# -- daylight saving time ------------------------------------------------------------------


def test_new_york_skipped_wall_time_fires_when_clocks_jump() -> None:
    assert day("30 2 * * *", NEW_YORK, "2026-03-08") == ["2026-03-08T03:00:00-04:00"]
    # Skipped times and the jump instant itself fire once, there.
    assert day("0,30 2-3 * * *", NEW_YORK, "2026-03-08") == [
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T03:30:00-04:00",
    ]


def test_new_york_repeated_wall_time_fires_at_the_first_occurrence() -> None:
    assert day("30 1 * * *", NEW_YORK, "2026-11-01") == ["2026-11-01T01:30:00-04:00"]
    assert day("0 1-2 * * *", NEW_YORK, "2026-11-01") == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T02:00:00-05:00",
    ]


def test_new_york_hourly_fires_at_every_matching_instant() -> None:
    assert len(day("@hourly", NEW_YORK, "2026-03-08")) == 23
    fall = day("@hourly", NEW_YORK, "2026-11-01")
    assert len(fall) == 25
    assert fall[1:4] == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T02:00:00-05:00",
    ]
    assert len(day("*/15 * * * *", NEW_YORK, "2026-03-08")) == 92
    assert len(day("*/15 * * * *", NEW_YORK, "2026-11-01")) == 100


def test_hour_steps_over_all_hours_follow_instants_but_hour_lists_follow_wall_times() -> None:
    # '*/2' in the hour field is a step over all hours: both 02:00s fire, the skipped one
    # does not. '0-23' restricts the hour field: wall-time rules apply.
    assert day("0 */2 * * *", BERLIN, "2026-10-25")[1:3] == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
    ]
    assert "2026-03-29T03:00:00+02:00" not in day("0 */2 * * *", BERLIN, "2026-03-29")
    assert len(day("0 0-23 * * *", BERLIN, "2026-10-25")) == 24
    assert day("0 0-23 * * *", BERLIN, "2026-03-29")[2] == "2026-03-29T03:00:00+02:00"


def test_berlin() -> None:
    assert day("30 2 * * *", BERLIN, "2026-03-29") == ["2026-03-29T03:00:00+02:00"]
    assert day("30 2 * * *", BERLIN, "2026-10-25") == ["2026-10-25T02:30:00+02:00"]
    assert len(day("@hourly", BERLIN, "2026-03-29")) == 23
    assert len(day("@hourly", BERLIN, "2026-10-25")) == 25


def test_sydney_southern_hemisphere() -> None:
    # Clocks go back in April and forward in October.
    assert day("30 2 * * *", SYDNEY, "2026-04-05") == ["2026-04-05T02:30:00+11:00"]
    assert day("30 2 * * *", SYDNEY, "2026-10-04") == ["2026-10-04T03:00:00+11:00"]
    assert len(day("@hourly", SYDNEY, "2026-04-05")) == 25
    assert len(day("@hourly", SYDNEY, "2026-10-04")) == 23


def test_santiago_where_midnight_is_skipped_and_repeated() -> None:
    # 2026-09-06 starts at 01:00: the daily fire moves there.
    assert fires("@daily", SANTIAGO, "2026-09-05", "2026-09-08") == [
        "2026-09-05T00:00:00-04:00",
        "2026-09-06T01:00:00-03:00",
        "2026-09-07T00:00:00-03:00",
    ]
    # On 2026-04-04 the hour before midnight happens twice.
    assert day("0 23 * * *", SANTIAGO, "2026-04-04") == ["2026-04-04T23:00:00-03:00"]
    assert day("@daily", SANTIAGO, "2026-04-05") == ["2026-04-05T00:00:00-04:00"]
    assert len(day("@hourly", SANTIAGO, "2026-04-04")) == 25


def test_fold_aware_moments_are_read_as_instants() -> None:
    second_130 = pendulum.datetime(2026, 11, 1, 1, 30, tz=NEW_YORK, fold=1)  # 01:30 EST
    assert CronExpression.parse("30 1 * * *").matches(second_130, NEW_YORK) is False
    assert (
        CronExpression.parse("*/10 1 * * *").previous_before(second_130, NEW_YORK).isoformat()
        == "2026-11-01T01:50:00-04:00"
    )
    assert (
        CronExpression.parse("*/10 * * * *").next_after(second_130, NEW_YORK).isoformat()
        == "2026-11-01T01:40:00-05:00"
    )


# Each expression with an independent predicate on wall times, and whether it follows
# instants (hour field starting with '*') rather than wall times.
ORACLE: dict[str, tuple[Callable[[dt.datetime], bool], bool]] = {
    "@hourly": (lambda w: w.minute == 0, True),
    "*/15 * * * *": (lambda w: w.minute % 15 == 0, True),
    "0 */2 * * *": (lambda w: w.minute == 0 and w.hour % 2 == 0, True),
    "@daily": (lambda w: (w.hour, w.minute) == (0, 0), False),
    "30 2 * * *": (lambda w: (w.hour, w.minute) == (2, 30), False),
    "0,30 1-3 * * *": (lambda w: w.minute in (0, 30) and 1 <= w.hour <= 3, False),
    "*/20 23,0 * * *": (lambda w: w.minute % 20 == 0 and w.hour in (23, 0), False),
}


def _minute_by_minute(expr: str, tz: str, start: int, end: int) -> list[int]:
    """The documented DST rules applied to every minute: the slow, obvious oracle."""
    matches, every_instant = ORACLE[expr]
    zone = ZoneInfo(tz)
    found = []
    for instant in range(start, end, 60):
        here = dt.datetime.fromtimestamp(instant, zone)
        wall = here.replace(tzinfo=None)
        if every_instant:
            fire = matches(wall)
        else:
            first = int(wall.replace(tzinfo=zone, fold=0).timestamp()) == instant
            fire = matches(wall) and first
            before = dt.datetime.fromtimestamp(instant - 60, zone)
            skipped = before.replace(tzinfo=None) + dt.timedelta(minutes=1)
            while not fire and skipped < wall:  # wall times the clocks jumped over
                fire = matches(skipped)
                skipped += dt.timedelta(minutes=1)
        if fire:
            found.append(instant)
    return found


def _transitions(tz: str, first_year: int, last_year: int) -> list[int]:
    """The instants at which ``tz`` changes its UTC offset (found by the stdlib)."""
    zone = ZoneInfo(tz)
    instant = int(dt.datetime(first_year, 1, 1, tzinfo=UTC).timestamp())
    stop = int(dt.datetime(last_year + 1, 1, 1, tzinfo=UTC).timestamp())
    found = []
    offset = dt.datetime.fromtimestamp(instant, zone).utcoffset()
    while instant < stop:
        step = 86400
        following = dt.datetime.fromtimestamp(instant + step, zone).utcoffset()
        if following != offset:
            while step > 1:  # narrow down to the second
                step //= 2
                if dt.datetime.fromtimestamp(instant + step, zone).utcoffset() == offset:
                    instant += step
            found.append(instant + 1)
            offset = following
        instant += step
    return found


DST_ZONES = [NEW_YORK, BERLIN, SYDNEY, SANTIAGO, "Australia/Lord_Howe"]


@pytest.mark.parametrize("tz", DST_ZONES)
@pytest.mark.parametrize("expr", list(ORACLE))
def test_transition_days_agree_with_the_minute_by_minute_oracle(expr: str, tz: str) -> None:
    for change in _transitions(tz, 2026, 2026):
        start, end = change - change % 60 - 14 * 3600, change + 14 * 3600
        got = CronExpression.parse(expr).fires_between(
            dt.datetime.fromtimestamp(start, UTC), dt.datetime.fromtimestamp(end, UTC), tz
        )
        assert [int(t.timestamp()) for t in got] == _minute_by_minute(expr, tz, start, end)


def test_ten_years_of_hourly_fires_jump_rather_than_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Counted, not timed: how many times the next matching wall time is searched for.
    searches = [0]
    search = cron._Pattern.next_wall

    def counted(pattern: cron._Pattern, wall: dt.datetime) -> dt.datetime:
        searches[0] += 1
        return search(pattern, wall)

    monkeypatch.setattr(cron._Pattern, "next_wall", counted)
    count = sum(
        1
        for _ in CronExpression.parse("@hourly").fires_between(
            dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2036, 1, 1, tzinfo=UTC), NEW_YORK
        )
    )
    assert count == 87_648  # 3652 days of 24 hours; the DST days' 23 and 25 cancel out
    # A plain day's hours are arithmetic: a few searches a day, where stepping would
    # search once per fire (87,648) or per minute (5.2 million).
    assert searches[0] < count // 4


# -- properties ------------------------------------------------------------------------------

EXPRESSIONS = [
    "@hourly",
    "*/15 * * * *",
    "30 * * * *",
    "0 */2 * * *",
    "@daily",
    "30 2 * * *",
    "30 1 * * *",
    "0,30 1-3 * * *",
    "*/20 23,0 * * *",
    "0 6 * * MON",
    "0 9 1 * *",
    "0 12 13 * FRI",
    "0 0 29 2 *",
]
PROPERTY_ZONES = ["UTC", "Asia/Kolkata", *DST_ZONES]
_TRANSITIONS = {tz: _transitions(tz, 2020, 2035) for tz in PROPERTY_ZONES}
_LOW = dt.datetime(2020, 1, 1)
_HIGH = dt.datetime(2035, 12, 31)


@st.composite
def cases(draw: st.DrawFn) -> tuple[CronExpression, str, dt.datetime]:
    """An expression, a zone, and a moment in 2020-2035, often within hours of a DST change."""
    expr = CronExpression.parse(draw(st.sampled_from(EXPRESSIONS)))
    tz = draw(st.sampled_from(PROPERTY_ZONES))
    changes = _TRANSITIONS[tz]
    if changes and draw(st.booleans()):
        seconds = draw(st.sampled_from(changes)) + draw(st.integers(-4 * 3600, 4 * 3600))
        if draw(st.booleans()):
            seconds -= seconds % 60  # whole minutes are where fire times are
        moment = dt.datetime.fromtimestamp(seconds, UTC)
    else:
        moment = draw(st.datetimes(min_value=_LOW, max_value=_HIGH, timezones=st.just(UTC)))
    return expr, tz, moment


def _seconds(moments: list[pendulum.DateTime]) -> list[float]:
    return [m.timestamp() for m in moments]


@given(cases(), st.integers(1, 72))
def test_fires_are_strictly_increasing_and_each_matches(
    case: tuple[CronExpression, str, dt.datetime], hours: int
) -> None:
    expr, tz, start = case
    found = list(expr.fires_between(start, start + dt.timedelta(hours=hours), tz))
    assert all(a < b for a, b in zip(_seconds(found), _seconds(found)[1:], strict=False))
    assert all(expr.matches(t, tz) and t.timezone_name == tz for t in found)
    assert all(start.timestamp() <= t.timestamp() < start.timestamp() + hours * 3600 for t in found)


@given(cases())
def test_next_and_previous_are_inverse_neighbours(
    case: tuple[CronExpression, str, dt.datetime],
) -> None:
    expr, tz, moment = case
    after, before = expr.next_after(moment, tz), expr.previous_before(moment, tz)
    assert before.timestamp() < moment.timestamp() < after.timestamp()
    assert expr.matches(after, tz) and expr.matches(before, tz)
    if expr.matches(moment, tz):
        assert expr.previous_before(after, tz).timestamp() == moment.timestamp()
        assert expr.next_after(before, tz).timestamp() == moment.timestamp()
    else:
        assert expr.previous_before(after, tz).timestamp() == before.timestamp()
        assert expr.next_after(before, tz).timestamp() == after.timestamp()
    # Nothing fires strictly between the neighbours but the moment itself.
    between = _seconds(list(expr.fires_between(before.add(seconds=1), after, tz)))
    assert between == ([moment.timestamp()] if expr.matches(moment, tz) else [])


@given(cases(), st.integers(0, 48 * 60), st.integers(0, 48 * 60))
def test_fires_between_tiles_and_agrees_with_next_after(
    case: tuple[CronExpression, str, dt.datetime], first: int, second: int
) -> None:
    expr, tz, start = case
    middle = start + dt.timedelta(minutes=first)
    end = middle + dt.timedelta(minutes=second)
    whole = _seconds(list(expr.fires_between(start, end, tz)))
    parts = _seconds(list(expr.fires_between(start, middle, tz)))
    parts += _seconds(list(expr.fires_between(middle, end, tz)))
    assert whole == parts
    chained: list[float] = []
    current = expr.next_after(start - dt.timedelta(microseconds=1), tz)
    while current.timestamp() < end.timestamp():
        chained.append(current.timestamp())
        current = expr.next_after(current, tz)
    assert whole == chained
