"""Partition mappings by example: what each reads, what it feeds, and what it refuses.

The properties every mapping shares (upstream and downstream agree, out-of-range keys are
exactly those outside the upstream space) are in ``test_partition_properties.py``.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from partita.assets import (
    UNPARTITIONED,
    AllPartitions,
    Containment,
    CronPartitions,
    DailyPartitions,
    Dep,
    Dimensions,
    HourlyPartitions,
    Identity,
    KeySpace,
    LastPartition,
    MonthlyPartitions,
    MultiPartitions,
    PartitionMapping,
    PartitionsDefinition,
    Previous,
    StaticPartitions,
    UpstreamPartitions,
    WeeklyPartitions,
    Window,
    default_mapping,
)
from partita.errors import DefinitionError

UTC = dt.UTC
NOW = dt.datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
APRIL = DailyPartitions(start="2026-04-01")
HOURLY = HourlyPartitions(start="2026-04-01")
REGIONS = StaticPartitions(["eu", "us"])
BY_REGION = MultiPartitions(date=APRIL, region=REGIONS)

Definition = PartitionsDefinition | None


def space(definition: PartitionsDefinition, now: dt.datetime = NOW) -> KeySpace:
    return definition.space(now)


A = space(APRIL)
H = space(HOURLY)
M = space(BY_REGION)


# -- identity -------------------------------------------------------------------------------


def test_identity() -> None:
    late = space(DailyPartitions(start="2026-04-05"))
    assert Identity().upstream("2026-04-08", A, A) == UpstreamPartitions(("2026-04-08",))
    assert Identity().upstream("2026-04-02", A, late) == UpstreamPartitions((), ("2026-04-02",))
    assert Identity().downstream("2026-04-08", A, A) == ("2026-04-08",)
    assert Identity().downstream("2026-04-02", late, A) == ("2026-04-02",)
    assert Identity().downstream("2026-04-08", A, space(DailyPartitions(start="2026-04-09"))) == ()


def test_identity_with_an_unpartitioned_upstream() -> None:
    assert Identity().upstream("2026-04-08", A, None).keys == (UNPARTITIONED,)
    assert Identity().downstream(UNPARTITIONED, None, A) == tuple(A.keys())
    assert Identity().upstream(UNPARTITIONED, None, None).keys == (UNPARTITIONED,)
    assert Identity().downstream(UNPARTITIONED, None, None) == (UNPARTITIONED,)


def test_identity_between_keyed_and_multi_definitions() -> None:
    more = space(StaticPartitions(["eu", "us", "apac"]))
    assert Identity().upstream("apac", more, space(REGIONS)) == UpstreamPartitions((), ("apac",))
    assert Identity().upstream("2026-04-02|us", M, M).keys == ("2026-04-02|us",)


# -- windows and previous -------------------------------------------------------------------


def test_window_reads_the_days_ending_at_its_own() -> None:
    found = Window(days=3).upstream("2026-04-08", A, A)
    assert found == UpstreamPartitions(("2026-04-06", "2026-04-07", "2026-04-08"))
    assert Window(days=3).downstream("2026-04-06", A, A) == (
        "2026-04-06",
        "2026-04-07",
        "2026-04-08",
    )
    assert Window(days=3) == Window(size=3)


def test_window_is_clipped_at_the_upstream_start() -> None:
    found = Window(days=3).upstream("2026-04-01", A, A)
    assert found.keys == ("2026-04-01",)
    assert found.out_of_range == ("2026-03-30", "2026-03-31")


def test_window_downstream_stops_at_the_last_due_day() -> None:
    assert Window(days=7).downstream("2026-04-08", A, A) == ("2026-04-08", "2026-04-09")


def test_window_offsets_look_ahead_or_back() -> None:
    ahead = Window(size=2, offset=1)
    # Tomorrow is not due yet: out of range, not missing.
    assert ahead.upstream("2026-04-09", A, A) == UpstreamPartitions(
        ("2026-04-09",), ("2026-04-10",)
    )
    assert ahead.downstream("2026-04-09", A, A) == ("2026-04-08", "2026-04-09")
    back = Window(size=2, offset=-1)
    assert back.upstream("2026-04-09", A, A).keys == ("2026-04-07", "2026-04-08")
    assert back.downstream("2026-04-07", A, A) == ("2026-04-08", "2026-04-09")


def test_window_counts_partitions_of_any_granularity() -> None:
    assert Window(size=3).upstream("2026-04-08T02:00", H, H).keys == (
        "2026-04-08T00:00",
        "2026-04-08T01:00",
        "2026-04-08T02:00",
    )
    months = space(MonthlyPartitions(start="2026-01"))
    assert Window(size=2).upstream("2026-03", months, months).keys == ("2026-02", "2026-03")


def test_previous_reads_the_partition_before() -> None:
    assert Previous().upstream("2026-04-05", A, A) == UpstreamPartitions(("2026-04-04",))
    # The first partition reads nothing.
    assert Previous().upstream("2026-04-01", A, A) == UpstreamPartitions((), ("2026-03-31",))
    assert Previous().downstream("2026-04-01", A, A) == ("2026-04-02",)
    assert Previous().downstream("2026-04-09", A, A) == ()  # the 10th is not due yet


def test_earlier_only() -> None:
    assert Previous().earlier_only()
    assert Window(size=3, offset=-1).earlier_only()
    assert not Window(size=3).earlier_only()
    assert not Identity().earlier_only()
    assert Dimensions(date=Previous()).earlier_only()
    assert not Dimensions().earlier_only()


# -- containment ----------------------------------------------------------------------------


def test_a_week_reads_its_days() -> None:
    weeks = space(WeeklyPartitions(start="2026-03-01"))
    found = Containment().upstream("2026-03-30", weeks, A)
    assert found.keys == ("2026-04-01", "2026-04-02", "2026-04-03", "2026-04-04", "2026-04-05")
    assert found.out_of_range == ("2026-03-30", "2026-03-31")  # before April's start
    assert Containment().downstream("2026-04-03", A, weeks) == ("2026-03-30",)
    assert Containment().downstream("2026-04-07", A, weeks) == ()  # that week is not over


def test_an_hour_reads_its_day_and_a_day_reads_its_hours() -> None:
    assert Containment().upstream("2026-04-08T13:00", H, A) == UpstreamPartitions(("2026-04-08",))
    hours = Containment().upstream("2026-04-08", A, H).keys
    assert len(hours) == 24
    assert (hours[0], hours[-1]) == ("2026-04-08T00:00", "2026-04-08T23:00")


@pytest.mark.parametrize(("day", "count"), [("2026-03-08", 23), ("2026-11-01", 25)])
def test_a_dst_day_reads_23_or_25_hours(day: str, count: int) -> None:
    later = dt.datetime(2027, 1, 1, tzinfo=UTC)
    days = space(DailyPartitions(start="2026-01-01", timezone="America/New_York"), later)
    hours = space(HourlyPartitions(start="2026-01-01", timezone="America/New_York"), later)
    assert len(Containment().upstream(day, days, hours).keys) == count


def test_containment_across_timezones_and_cron_windows() -> None:
    berlin = space(DailyPartitions(start="2026-04-01", timezone="Europe/Berlin"))
    # A Berlin day (UTC+2) starts at 22:00 UTC the day before.
    assert Containment().upstream("2026-04-05", berlin, A).keys == ("2026-04-04", "2026-04-05")
    six = space(CronPartitions(cron="0 6 * * *", start="2026-04-01"))
    assert Containment().upstream("2026-04-05T06:00", six, A).keys == ("2026-04-05", "2026-04-06")
    assert Containment().downstream("2026-04-05", A, six) == (
        "2026-04-04T06:00",
        "2026-04-05T06:00",
    )


# -- whole-set mappings ---------------------------------------------------------------------


def test_all_partitions() -> None:
    assert AllPartitions().upstream(UNPARTITIONED, None, A).keys == tuple(A.keys())
    assert AllPartitions().downstream("2026-04-03", A, None) == (UNPARTITIONED,)
    assert AllPartitions().downstream("2026-04-10", A, None) == ()  # not an upstream key
    assert AllPartitions().upstream(UNPARTITIONED, None, None).keys == (UNPARTITIONED,)


def test_last_partition() -> None:
    assert LastPartition().upstream(UNPARTITIONED, None, A).keys == ("2026-04-09",)
    assert LastPartition().downstream("2026-04-09", A, None) == (UNPARTITIONED,)
    assert LastPartition().downstream("2026-04-08", A, None) == ()
    early = space(APRIL, dt.datetime(2026, 3, 1, tzinfo=UTC))
    assert LastPartition().upstream(UNPARTITIONED, None, early) == UpstreamPartitions(())
    assert LastPartition().downstream("2026-04-01", early, None) == ()


# -- dimensions -----------------------------------------------------------------------------


def test_a_date_sums_the_regions_of_its_day() -> None:
    assert Dimensions().upstream("2026-04-02", A, M).keys == ("2026-04-02|eu", "2026-04-02|us")
    assert Dimensions().downstream("2026-04-02|us", M, A) == ("2026-04-02",)


def test_a_date_fans_out_to_every_region() -> None:
    assert Dimensions().upstream("2026-04-02|us", M, A).keys == ("2026-04-02",)
    assert Dimensions().downstream("2026-04-02", A, M) == ("2026-04-02|eu", "2026-04-02|us")


def test_hours_by_region_roll_up_to_days_by_region() -> None:
    hourly = space(MultiPartitions(date=HOURLY, region=REGIONS))
    found = Dimensions().upstream("2026-04-02|us", M, hourly).keys
    assert len(found) == 24
    assert found[:2] == ("2026-04-02T00:00|us", "2026-04-02T01:00|us")
    assert Dimensions().downstream("2026-04-02T05:00|eu", hourly, M) == ("2026-04-02|eu",)


def test_a_window_on_the_date_dimension() -> None:
    mapping = Dimensions(date=Window(size=3))
    assert mapping.upstream("2026-04-02|us", M, M) == UpstreamPartitions(
        ("2026-04-01|us", "2026-04-02|us"), ("2026-03-31|us",)
    )
    assert mapping.downstream("2026-04-02|us", M, M) == (
        "2026-04-02|us",
        "2026-04-03|us",
        "2026-04-04|us",
    )


def test_an_unpartitioned_asset_reads_every_key_of_every_dimension() -> None:
    assert Dimensions().upstream(UNPARTITIONED, None, M).keys == tuple(M.keys())
    assert Dimensions().downstream("2026-04-02|us", M, None) == (UNPARTITIONED,)


# -- validation -----------------------------------------------------------------------------


def test_window_needs_at_least_one_partition() -> None:
    with pytest.raises(ValidationError):
        Window(days=0)


@pytest.mark.parametrize(
    ("mapping", "down", "up", "message"),
    [
        (
            Window(days=2),
            None,
            APRIL,
            "b <- a: Window(...) needs time partitions on both sides, not unpartitioned",
        ),
        (
            Window(days=2),
            APRIL,
            REGIONS,
            "b <- a: Window(...) needs time partitions on both sides, not static [eu, us]",
        ),
        (
            Window(days=2),
            APRIL,
            HOURLY,
            "b <- a: Window(...) counts partitions of one granularity, but the sides differ "
            "(daily from 2026-04-01 (UTC) and hourly from 2026-04-01 (UTC)); use Containment()",
        ),
        (
            Previous(),
            APRIL,
            None,
            "b <- a: Previous() needs time partitions on both sides, not unpartitioned",
        ),
        (
            Containment(),
            APRIL,
            REGIONS,
            "b <- a: Containment() needs time partitions on both sides, not static [eu, us]",
        ),
        (
            Identity(),
            None,
            APRIL,
            "b <- a: an unpartitioned asset cannot read one partition of a partitioned one "
            "by identity; use AllPartitions() or LastPartition()",
        ),
        (
            Identity(),
            APRIL,
            DailyPartitions(start="2026-04-01", timezone="Europe/Berlin"),
            "b <- a: Identity() maps a key to the same key, but the partitions differ "
            "(daily from 2026-04-01 (UTC) and daily from 2026-04-01 (Europe/Berlin)); use "
            "Containment() between time granularities, or Dimensions(...) for "
            "multi-dimensional partitions",
        ),
        (
            Dimensions(city=Identity()),
            APRIL,
            BY_REGION,
            "b <- a: Dimensions(...) names city, which the upstream does not have "
            "(its dimensions: date, region)",
        ),
        (
            Dimensions(region=Identity()),
            APRIL,
            BY_REGION,
            "b <- a: upstream dimension 'region' has no counterpart downstream, so it can "
            "only be read with AllPartitions() or LastPartition()",
        ),
    ],
)
def test_mappings_refuse_what_they_cannot_join(
    mapping: PartitionMapping, down: Definition, up: Definition, message: str
) -> None:
    with pytest.raises(DefinitionError) as info:
        mapping.check(down, up, "b <- a")
    assert str(info.value) == message


def test_dimensions_cannot_be_nested() -> None:
    with pytest.raises(ValidationError, match="dimension 'date': Dimensions"):
        Dimensions(date=Dimensions())


def test_identity_joins_the_same_shape_with_any_range() -> None:
    Identity().check(APRIL, DailyPartitions(start="2025-01-01", end="2027-01-01"), "b <- a")
    Identity().check(APRIL, None, "b <- a")
    Identity().check(None, None, "b <- a")
    Identity().check(REGIONS, StaticPartitions(["apac"], dimension="region"), "b <- a")


@pytest.mark.parametrize("mapping", [AllPartitions(), LastPartition()])
def test_whole_set_mappings_join_anything(mapping: PartitionMapping) -> None:
    berlin = DailyPartitions(start="2026-04-01", timezone="Europe/Berlin")
    for down, up in [(None, APRIL), (APRIL, None), (APRIL, berlin), (None, None), (M, REGIONS)]:
        mapping.check(down, up, "b <- a")  # type: ignore[arg-type]


def test_default_mapping() -> None:
    assert default_mapping(None, APRIL) == AllPartitions()
    assert default_mapping(APRIL, APRIL) == Identity()
    assert default_mapping(APRIL, None) == Identity()
    assert default_mapping(None, None) == Identity()
    assert default_mapping(APRIL, HOURLY) == Containment()
    berlin = DailyPartitions(start="2026-04-01", timezone="Europe/Berlin")
    assert default_mapping(APRIL, berlin) == Containment()
    assert default_mapping(APRIL, BY_REGION) == Dimensions()
    assert default_mapping(REGIONS, REGIONS) == Identity()


@pytest.mark.parametrize(
    "mapping",
    [
        Identity(),
        Window(days=7),
        Window(size=2, offset=-1),
        Previous(),
        Containment(),
        AllPartitions(),
        LastPartition(),
        Dimensions(date=Window(size=3)),
        Dimensions(),
        None,
    ],
)
def test_mappings_round_trip_through_json(mapping: PartitionMapping | None) -> None:
    dep = Dep(asset="a", mapping=mapping, param="a")
    assert Dep.model_validate_json(dep.model_dump_json()) == dep
