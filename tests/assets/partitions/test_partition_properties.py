"""Partition properties: mappings agree both ways, windows tile time, keys round-trip.

Every mapping is checked over the whole key space of both sides at a generated moment:
``p in upstream(d).keys`` exactly when ``d in downstream(p)``; upstream keys exist
upstream and out-of-range keys do not. Time definitions are drawn around DST changes in
several timezones (a skipped midnight in Santiago, a half-hour offset in Kolkata, a
half-hour DST shift on Lord Howe Island).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partita.assets import (
    UNPARTITIONED,
    AllPartitions,
    Containment,
    CronPartitions,
    DailyPartitions,
    Dimensions,
    DynamicKeys,
    DynamicPartitions,
    HourlyPartitions,
    Identity,
    KeySpace,
    LastPartition,
    MonthlyPartitions,
    MultiPartitions,
    PartitionsDefinition,
    Previous,
    StaticPartitions,
    TimePartitions,
    TimeWindow,
    WeeklyPartitions,
    Window,
)
from partita.assets.partitions.timekeys import day_start
from partita.errors import PartitionKeyError

# Examples and deadline: the hypothesis profile (tests/conftest.py).
PROPERTIES = settings(suppress_health_check=[HealthCheck.too_slow])

UTC = dt.UTC
TICK = dt.timedelta(microseconds=1)
# DST at 02:00 (New York, Berlin), in the southern hemisphere (Sydney), at midnight
# (Santiago skips it), and by half an hour (Lord Howe); a half-hour offset (Kolkata).
DST_ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Sydney",
    "America/Santiago",
    "Australia/Lord_Howe",
]
TIMEZONES = ["UTC", "Asia/Kolkata", *DST_ZONES]
WHOLE_HOURS = [tz for tz in TIMEZONES if tz != "Australia/Lord_Howe"]  # local hours at :00
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
GRANULARITIES = ["hourly", "daily", "weekly", "monthly", "cron 0 6 * * *", "cron 0 */6 * * *"]
# The shortest end - start (in days) that always leaves a partition (cron: 3).
MIN_SPAN = {"hourly": 1, "daily": 1, "weekly": 14, "monthly": 62}
REGIONS = ["eu", "us", "apac", "latam"]
CUSTOMERS = ["acme", "globex", "initech", "umbrella"]

Definition = PartitionsDefinition | None
Join = tuple[Any, Definition, Definition, dt.datetime, DynamicKeys]


def dst_days(timezone: str, years: range) -> list[dt.date]:
    """The days on which the UTC offset of ``timezone`` changes (found by the stdlib)."""
    zone = ZoneInfo(timezone)
    found = []
    day = dt.date(years.start, 1, 1)
    offset = dt.datetime.combine(day, dt.time(), zone).utcoffset()
    while day.year < years.stop:
        following = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).utcoffset()
        if following != offset:
            found.append(day)
        offset = following
        day += dt.timedelta(days=1)
    return found


DST_DAYS = [(tz, day) for tz in DST_ZONES for day in dst_days(tz, range(2025, 2028))]
days = st.dates(dt.date(2024, 1, 1), dt.date(2030, 12, 31))
# Days near a DST change (in any of the zones), or any day.
near_dst = st.one_of(
    st.tuples(st.sampled_from(DST_DAYS), st.integers(-20, 3)).map(
        lambda pair: pair[0][1] + dt.timedelta(days=pair[1])
    ),
    days,
)
timezones = st.sampled_from(TIMEZONES)


# -- definitions ----------------------------------------------------------------------------


@st.composite
def shapes(draw: st.DrawFn, granularity: str, timezone: str) -> dict[str, Any]:
    """What a time definition's keys look like: its granularity, timezone, first weekday."""
    shape: dict[str, Any] = {"granularity": granularity, "timezone": timezone}
    if granularity == "weekly":
        shape["first_weekday"] = draw(st.sampled_from(WEEKDAYS))
    return shape


@st.composite
def time_definitions(draw: st.DrawFn, shape: dict[str, Any], first: dt.date) -> TimePartitions:
    """A time definition of ``shape`` starting near ``first``, maybe with an end."""
    granularity = shape["granularity"]
    start: dt.date | dt.datetime = first + dt.timedelta(days=draw(st.integers(-3, 3)))
    if granularity == "monthly" and draw(st.booleans()):
        start = first.replace(day=1)  # so that a month is complete soon after `first`
    if granularity == "hourly" or granularity.startswith("cron"):
        hour = draw(st.none() | st.integers(0, 23))
        if hour is not None:
            start = dt.datetime.combine(start, dt.time(hour))
    span = MIN_SPAN.get(granularity, 3)
    length = draw(st.none() | st.integers(span, span + 40))
    end = None if length is None else _date(start) + dt.timedelta(days=length)
    fields: dict[str, Any] = {
        "start": start,
        "end": end,
        "timezone": shape["timezone"],
        "end_offset": draw(st.sampled_from([0, 0, 1])),
    }
    if granularity == "hourly":
        return HourlyPartitions(**fields)
    if granularity == "daily":
        return DailyPartitions(**fields)
    if granularity == "weekly":
        return WeeklyPartitions(first_weekday=shape["first_weekday"], **fields)
    if granularity == "monthly":
        return MonthlyPartitions(**fields)
    return CronPartitions(cron=granularity.removeprefix("cron "), **fields)


def _date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


@st.composite
def moments(draw: st.DrawFn, granularities: list[str]) -> tuple[dt.date, dt.datetime]:
    """A first day and a ``now`` after it: longer ranges for coarser granularities."""
    first = draw(near_dst)
    coarse = "monthly" in granularities
    fine = "hourly" in granularities or "cron 0 */6 * * *" in granularities
    longest = 75 if coarse and not fine else 45 if coarse else 25 if fine else 40
    # Mostly after every generated start (up to three days after ``first``), sometimes before.
    hours = draw(st.integers(72, 72 + longest * 24) | st.integers(-48, 72))
    midnight = dt.datetime.combine(first, dt.time(), UTC)
    return first, midnight + dt.timedelta(hours=hours, minutes=draw(st.sampled_from([0, 30])))


def keyed(dimension: str, regions: list[str], dynamic: bool) -> PartitionsDefinition:
    if dynamic:
        return DynamicPartitions("customers", dimension=dimension)
    return StaticPartitions(regions, dimension=dimension)


region_lists = st.lists(st.sampled_from(REGIONS), min_size=1, max_size=4, unique=True)
dynamic_keys = st.lists(st.sampled_from(CUSTOMERS), max_size=4, unique=True).map(
    lambda keys: {"customers": tuple(keys)}
)


# -- joins: a mapping, two definitions it can join, a moment and the dynamic keys ---------


@st.composite
def identity_joins(draw: st.DrawFn) -> Join:
    kind = draw(st.sampled_from([*GRANULARITIES, "static", "dynamic", "multi", "none"]))
    first, now = draw(moments([kind]))
    if kind in GRANULARITIES:
        shape = draw(shapes(kind, draw(timezones)))
        down = draw(time_definitions(shape, first))
        up: Definition = draw(st.none() | time_definitions(shape, first))
    elif kind in ("static", "dynamic"):
        down = keyed("region", draw(region_lists), kind == "dynamic")
        up = keyed("region", draw(region_lists), draw(st.booleans()))
    elif kind == "multi":
        shape = draw(shapes("daily", draw(timezones)))
        down = MultiPartitions(
            date=draw(time_definitions(shape, first)),
            region=keyed("region", draw(region_lists), draw(st.booleans())),
        )
        up = MultiPartitions(
            date=draw(time_definitions(shape, first)),
            region=keyed("region", draw(region_lists), draw(st.booleans())),
        )
    else:
        down = draw(
            st.none() | time_definitions({"granularity": "daily", "timezone": "UTC"}, first)
        )
        up = None
    return Identity(), down, up, now, draw(dynamic_keys)


@st.composite
def containment_joins(draw: st.DrawFn) -> Join:
    down_kind, up_kind = draw(st.sampled_from(GRANULARITIES)), draw(st.sampled_from(GRANULARITIES))
    first, now = draw(moments([down_kind, up_kind]))
    down = draw(time_definitions(draw(shapes(down_kind, draw(timezones))), first))
    up = draw(time_definitions(draw(shapes(up_kind, draw(timezones))), first))
    return Containment(), down, up, now, {}


@st.composite
def window_joins(draw: st.DrawFn) -> Join:
    kind = draw(st.sampled_from(GRANULARITIES))
    first, now = draw(moments([kind]))
    shape = draw(shapes(kind, draw(timezones)))
    down, up = draw(time_definitions(shape, first)), draw(time_definitions(shape, first))
    mapping: Any = draw(
        st.just(Previous()) | st.builds(Window, size=st.integers(1, 5), offset=st.integers(-3, 3))
    )
    if isinstance(mapping, Previous) or draw(st.booleans()):
        up = down  # a self-dependency reads the asset's own space
    return mapping, down, up, now, {}


@st.composite
def any_definitions(draw: st.DrawFn, first: dt.date) -> Definition:
    kind = draw(st.sampled_from(["none", "daily", "hourly", "static", "dynamic", "multi"]))
    if kind == "none":
        return None
    if kind in ("daily", "hourly"):
        return draw(time_definitions(draw(shapes(kind, draw(timezones))), first))
    if kind in ("static", "dynamic"):
        return keyed("region", draw(region_lists), kind == "dynamic")
    return MultiPartitions(
        date=draw(time_definitions(draw(shapes("daily", draw(timezones))), first)),
        region=keyed("region", draw(region_lists), draw(st.booleans())),
    )


@st.composite
def whole_set_joins(draw: st.DrawFn) -> Join:
    first, now = draw(moments(["hourly"]))
    down, up = draw(any_definitions(first)), draw(any_definitions(first))
    mapping = draw(st.sampled_from([AllPartitions(), LastPartition()]))
    return mapping, down, up, now, draw(dynamic_keys)


@st.composite
def dimensions_joins(draw: st.DrawFn) -> Join:
    case = draw(st.sampled_from(["sum", "fan-out", "hourly", "hourly-reversed", "window"]))
    timezone = draw(timezones)
    fine = case.startswith("hourly")
    first, now = draw(moments(["hourly" if fine else "daily"]))
    daily = shapes("daily", timezone)

    def region() -> PartitionsDefinition:
        return keyed("region", draw(region_lists), draw(st.booleans()))

    def by_region(shape: dict[str, Any]) -> MultiPartitions:
        return MultiPartitions(date=draw(time_definitions(shape, first)), region=region())

    mapping = Dimensions()
    if case == "sum":  # date x region -> date, summing regions
        down, up = draw(time_definitions(draw(daily), first)), by_region(draw(daily))
    elif case == "fan-out":  # date -> date x region
        down, up = by_region(draw(daily)), draw(time_definitions(draw(daily), first))
    elif fine:  # hourly x region -> daily x region, and back
        hourly = draw(shapes("hourly", draw(timezones)))
        down, up = by_region(draw(daily)), by_region(hourly)
        if case == "hourly-reversed":
            down, up = up, down
    else:
        shape = draw(daily)
        down, up = by_region(shape), by_region(shape)
        window = draw(st.builds(Window, size=st.integers(1, 5), offset=st.integers(-3, 3)))
        mapping = Dimensions(date=draw(st.sampled_from([Window(size=3), window])))
    return mapping, down, up, now, draw(dynamic_keys)


# -- 1. every mapping agrees with itself both ways -----------------------------------------


def space_of(definition: Definition, now: dt.datetime, dynamic: DynamicKeys) -> KeySpace | None:
    return None if definition is None else definition.space(now, dynamic)


def keys_of(space: KeySpace | None) -> list[str]:
    return [UNPARTITIONED] if space is None else space.keys()


def in_order(keys: tuple[str, ...], space: KeySpace | None) -> bool:
    """Whether ``keys`` are distinct and in the space's order (oldest first)."""
    if space is None:
        return keys in ((), (UNPARTITIONED,))
    positions = [space.index(key) for key in keys]
    return all(a is not None and b is not None and a < b for a, b in itertools.pairwise(positions))


def check_agreement(join: Join) -> None:
    mapping, down, up, now, dynamic = join
    mapping.check(down, up, "down <- up")
    down_space, up_space = space_of(down, now, dynamic), space_of(up, now, dynamic)
    down_keys, up_keys = keys_of(down_space), keys_of(up_space)
    down_set, up_set = set(down_keys), set(up_keys)
    reads: set[tuple[str, str]] = set()
    for d in down_keys:
        found = mapping.upstream(d, down_space, up_space)
        assert set(found.keys) <= up_set, (d, found)
        assert not set(found.out_of_range) & up_set, (d, found)
        assert in_order(found.keys, up_space), (d, found)
        assert len(set(found.out_of_range)) == len(found.out_of_range), (d, found)
        reads.update((d, p) for p in found.keys)
    feeds: set[tuple[str, str]] = set()
    for p in up_keys:
        mapped = mapping.downstream(p, up_space, down_space)
        assert set(mapped) <= down_set, (p, mapped)
        assert in_order(mapped, down_space), (p, mapped)
        feeds.update((d, p) for d in mapped)
    # p in upstream(d).keys <=> d in downstream(p), over every d and p.
    assert reads == feeds, (sorted(reads - feeds)[:5], sorted(feeds - reads)[:5])


@PROPERTIES
@given(join=identity_joins())
def test_identity_agrees_both_ways(join: Join) -> None:
    check_agreement(join)


@PROPERTIES
@given(join=containment_joins())
def test_containment_agrees_both_ways(join: Join) -> None:
    check_agreement(join)


@PROPERTIES
@given(join=window_joins())
def test_window_and_previous_agree_both_ways(join: Join) -> None:
    check_agreement(join)


@PROPERTIES
@given(join=whole_set_joins())
def test_all_and_last_partition_agree_both_ways(join: Join) -> None:
    check_agreement(join)


@PROPERTIES
@given(join=dimensions_joins())
def test_dimensions_agree_both_ways(join: Join) -> None:
    check_agreement(join)


@PROPERTIES
@given(join=window_joins())
def test_a_window_asks_for_exactly_its_ordinals(join: Join) -> None:
    mapping, down, up, now, _ = join
    assert isinstance(down, TimePartitions) and isinstance(up, TimePartitions)
    window = Window(size=1, offset=-1) if isinstance(mapping, Previous) else mapping
    down_space, up_space = down.space(now), up.space(now)
    for d in down_space:
        last = up.ordinal_of(d) + window.offset
        wanted = [up.key_of(o) for o in range(last - window.size + 1, last + 1)]
        found = mapping.upstream(d, down_space, up_space)
        assert list(found.keys) == [k for k in wanted if k in up_space]
        assert list(found.out_of_range) == [k for k in wanted if k not in up_space]


@PROPERTIES
@given(join=containment_joins())
def test_containment_reads_exactly_the_overlapping_windows(join: Join) -> None:
    _, down, up, now, _ = join
    assert isinstance(down, TimePartitions) and isinstance(up, TimePartitions)
    down_space, up_space = down.space(now), up.space(now)
    for d in down_space.keys()[:3] + down_space.keys()[-3:]:
        start, end = span(down.window(d))
        found = Containment().upstream(d, down_space, up_space)
        spans = sorted(span(up.window(key)) for key in [*found.keys, *found.out_of_range])
        assert all(first < end and start < last for first, last in spans)
        # The windows asked for cover the downstream window, with no gap.
        assert spans[0][0] <= start and spans[-1][1] >= end
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))


# -- 2. time windows tile time --------------------------------------------------------------


@st.composite
def tiling_cases(draw: st.DrawFn) -> tuple[TimePartitions, dt.date]:
    timezone, day = draw(st.sampled_from(DST_DAYS) | st.tuples(timezones, days))
    granularity = draw(st.sampled_from(GRANULARITIES))
    shape = draw(shapes(granularity, timezone))
    definition = draw(time_definitions(shape, day - dt.timedelta(days=40)))
    return definition, day


def span(window: TimeWindow) -> tuple[float, float]:
    """A window as timestamps: two datetimes in one timezone compare by wall time, which
    cannot tell the two 01:30s of a DST change apart."""
    return window.start.timestamp(), window.end.timestamp()


def local_date(instant: dt.datetime, timezone: str) -> dt.date:
    """The calendar date of an instant in ``timezone``, by the standard library (an oracle)."""
    return dt.datetime.fromtimestamp(instant.timestamp(), ZoneInfo(timezone)).date()


@PROPERTIES
@given(case=tiling_cases(), count=st.integers(1, 30))
def test_consecutive_windows_tile_time(case: tuple[TimePartitions, dt.date], count: int) -> None:
    definition, day = case
    timezone = definition.timezone
    first = definition.ordinal_at(day_start(day - dt.timedelta(days=1), timezone))
    windows = [definition.window_at(n) for n in range(first, first + count + 1)]
    for before, after in itertools.pairwise(windows):
        assert span(before)[1] == span(after)[0]
    for ordinal, window in zip(range(first, first + count + 1), windows, strict=True):
        start, end = span(window)
        assert start < end
        assert definition.ordinal_at(window.start) == ordinal
        assert definition.ordinal_at(window.end - TICK) == ordinal
        assert definition.ordinal_at(window.start - TICK) == ordinal - 1
        assert span(definition.window(definition.key_of(ordinal))) == (start, end)
        seconds = end - start
        if isinstance(definition, HourlyPartitions):
            assert seconds == 3600
        if isinstance(definition, DailyPartitions):
            # Exactly the instants whose local date is the key.
            assert local_date(window.start, timezone).isoformat() == definition.key_of(ordinal)
            assert local_date(window.end - TICK, timezone).isoformat() == definition.key_of(ordinal)
            assert seconds in (23 * 3600, 23.5 * 3600, 24 * 3600, 24.5 * 3600, 25 * 3600)


@PROPERTIES
@given(
    zoned=st.sampled_from([(tz, day) for tz, day in DST_DAYS if tz in WHOLE_HOURS])
    | st.tuples(st.sampled_from(WHOLE_HOURS), days)
)
def test_a_days_hours_cover_exactly_the_day(zoned: tuple[str, dt.date]) -> None:
    timezone, day = zoned
    daily = DailyPartitions(start="2024-01-01", timezone=timezone)
    hourly = HourlyPartitions(start="2024-01-01", timezone=timezone)
    later = dt.datetime(2032, 1, 1, tzinfo=UTC)
    found = Containment().upstream(day.isoformat(), daily.space(later), hourly.space(later))
    assert found.out_of_range == ()
    start, end = span(daily.window(day.isoformat()))
    spans = [span(hourly.window(key)) for key in found.keys]
    assert spans[0][0] == start and spans[-1][1] == end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert len(spans) * 3600 == end - start


@PROPERTIES
@given(
    zoned=st.sampled_from(DST_DAYS) | st.tuples(st.sampled_from(TIMEZONES), days),
    first_weekday=st.sampled_from(WEEKDAYS),
    coarse=st.sampled_from(["weekly", "monthly"]),
)
def test_a_weeks_or_months_days_cover_exactly_it(
    zoned: tuple[str, dt.date], first_weekday: str, coarse: str
) -> None:
    timezone, day = zoned
    later = dt.datetime(2032, 1, 1, tzinfo=UTC)
    daily = DailyPartitions(start="2024-01-01", timezone=timezone)
    if coarse == "weekly":
        outer: TimePartitions = WeeklyPartitions(
            start="2024-01-01", timezone=timezone, first_weekday=first_weekday
        )
    else:
        outer = MonthlyPartitions(start="2024-01-01", timezone=timezone)
    key = outer.key_of(outer.ordinal_at(day_start(day, timezone)))
    found = Containment().upstream(key, outer.space(later), daily.space(later))
    assert found.keys[0] == key if coarse == "weekly" else found.keys[0] == f"{key}-01"
    start, end = span(outer.window(key))
    assert span(daily.window(found.keys[0]))[0] == start
    assert span(daily.window(found.keys[-1]))[1] == end
    assert len(found.keys) in ((7,) if coarse == "weekly" else (28, 29, 30, 31))


@pytest.mark.parametrize(("day", "count"), [("2026-03-08", 23), ("2026-11-01", 25)])
def test_new_york_has_23_and_25_hours_on_dst_days(day: str, count: int) -> None:
    hourly = HourlyPartitions(start="2026-01-01", timezone="America/New_York")
    daily = DailyPartitions(start="2026-01-01", timezone="America/New_York")
    later = dt.datetime(2027, 1, 1, tzinfo=UTC)
    assert len(hourly.space(later).select(day, day)) == count
    assert len(Containment().upstream(day, daily.space(later), hourly.space(later)).keys) == count
    window = daily.window(day)
    assert span(window)[1] - span(window)[0] == count * 3600


# -- 3. keys round-trip ---------------------------------------------------------------------


@st.composite
def time_spaces(draw: st.DrawFn) -> tuple[TimePartitions, dt.datetime]:
    granularity = draw(st.sampled_from(GRANULARITIES))
    first, now = draw(moments([granularity]))
    definition = draw(time_definitions(draw(shapes(granularity, draw(timezones))), first))
    return definition, now


@PROPERTIES
@given(case=time_spaces(), shift=st.integers(-400, 400))
def test_time_keys_round_trip(case: tuple[TimePartitions, dt.datetime], shift: int) -> None:
    definition, now = case
    space = definition.space(now)
    ordinal = definition.first_ordinal() + shift
    key = definition.key_of(ordinal)
    assert definition.ordinal_of(key) == ordinal
    assert definition.key_of(definition.ordinal_of(key)) == key
    assert space.index(key) == shift
    assert definition.segments(key) == f"{definition.dimension}={key}"
    assert definition.from_segments(definition.segments(key)) == key
    assert (key in space) == (0 <= shift < len(space))
    for key in space:
        assert space.parse(key) == key
        assert definition.from_segments(definition.segments(key)) == key
        assert space.key_at(space.index(key)) == key


@PROPERTIES
@given(case=time_spaces())
def test_a_partition_is_due_exactly_when_its_window_has_ended(
    case: tuple[TimePartitions, dt.datetime],
) -> None:
    definition, now = case
    space = definition.space(now)
    assert not isinstance(definition.end, dt.datetime)  # ends are days here
    end = definition.end and day_start(definition.end, definition.timezone).timestamp()
    moment = now.timestamp()
    for ordinal in range(space.first - 2, space.stop + 3):
        start, stop = span(definition.window_at(ordinal))
        ended = stop <= moment or (definition.end_offset == 1 and start <= moment)
        wanted = ordinal >= definition.first_ordinal() and ended
        if end is not None:
            wanted = wanted and stop <= end
        assert (definition.key_of(ordinal) in space) == wanted, ordinal


@PROPERTIES
@given(
    zoned=st.sampled_from([(tz, day) for tz, day in DST_DAYS if tz in WHOLE_HOURS])
    | st.tuples(st.sampled_from(WHOLE_HOURS), days),
    hour=st.integers(0, 23),
)
def test_local_times_parse_or_say_why_not(zoned: tuple[str, dt.date], hour: int) -> None:
    timezone, day = zoned
    hourly = HourlyPartitions(start="2024-01-01", timezone=timezone, dimension="hour")
    space = hourly.space(dt.datetime(2032, 1, 1, tzinfo=UTC))
    text = f"{day}T{hour:02d}:00"
    naive = dt.datetime.fromisoformat(text)
    zone = ZoneInfo(timezone)
    early, late = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    exists = early.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive
    if early.utcoffset() == late.utcoffset():
        assert space.parse(text) == text
    elif not exists:
        with pytest.raises(PartitionKeyError, match="clocks skip it when DST starts"):
            space.parse(text)
    else:
        with pytest.raises(PartitionKeyError, match=r"occurs twice .* \(DST ends\): write"):
            space.parse(text)
        spellings = [f"{text}{_offset(early)}", f"{text}{_offset(late)}"]
        assert [space.parse(s) for s in spellings] == spellings
        assert len({span(hourly.window(s)) for s in spellings}) == 2


def _offset(local: dt.datetime) -> str:
    minutes = int((local.utcoffset() or dt.timedelta()).total_seconds()) // 60
    return f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@PROPERTIES
@given(case=time_spaces(), regions=region_lists, dynamic=dynamic_keys, data=st.data())
def test_multi_keys_round_trip_through_every_spelling(
    case: tuple[TimePartitions, dt.datetime],
    regions: list[str],
    dynamic: DynamicKeys,
    data: st.DataObject,
) -> None:
    definition, now = case
    names = data.draw(st.permutations(["when", "region", "customer"]))
    parts = {
        "when": definition,
        "region": StaticPartitions(regions),
        "customer": DynamicPartitions("customers"),
    }
    multi = MultiPartitions(**{name: parts[name] for name in names})
    space = multi.space(now, dynamic)
    keys = space.keys()
    assert len(keys) == len(definition.space(now)) * len(regions) * len(dynamic["customers"])
    assert [space.index(key) for key in keys] == list(range(len(keys)))
    for key in keys[:5] + keys[-5:]:
        split = multi.split(key)
        assert key == "|".join(split[name] for name in names)
        assert multi.join(split) == key
        assert multi.from_segments(multi.segments(key)) == key
        assert multi.segments(key) == "/".join(f"{name}={split[name]}" for name in names)
        order = data.draw(st.permutations(names))
        for spelling in (
            key,
            ",".join(f"{name}={split[name]}" for name in order),
            multi.segments(key),
        ):
            assert space.parse(spelling) == key
        assert multi.window(key) == definition.window(split["when"])


@PROPERTIES
@given(regions=region_lists, dynamic=dynamic_keys)
def test_keyed_keys_round_trip(regions: list[str], dynamic: DynamicKeys) -> None:
    now = dt.datetime(2026, 4, 10, tzinfo=UTC)
    for definition in (StaticPartitions(regions), DynamicPartitions("customers")):
        space = definition.space(now, dynamic)
        for key in space:
            assert space.parse(key) == key
            assert space.key_at(space.index(key)) == key
            assert definition.from_segments(definition.segments(key)) == key
            assert re.fullmatch(r"(key|customers)=\w+", definition.segments(key))
            assert definition.window(key) is None
