"""Partition mappings: upstream and downstream agree, and out-of-range keys are exact."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from partita.assets import (
    UNPARTITIONED,
    AllPartitions,
    DailyPartitions,
    Dep,
    Identity,
    LastPartition,
    PartitionMapping,
    UpstreamPartitions,
    Window,
    default_mapping,
)
from partita.errors import DefinitionError

UTC = dt.UTC
NOW = dt.datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
APRIL = DailyPartitions(start="2026-04-01")
FAST = settings(max_examples=200, deadline=None)

Partitions = DailyPartitions | None

mappings = st.one_of(
    st.just(Identity()),
    st.integers(1, 10).map(lambda n: Window(days=n)),
    st.just(AllPartitions()),
    st.just(LastPartition()),
)


@st.composite
def daily(draw: st.DrawFn, timezone: str) -> DailyPartitions:
    start = draw(st.dates(dt.date(2026, 1, 1), dt.date(2026, 1, 20)))
    end = draw(st.none() | st.integers(1, 25).map(lambda n: start + dt.timedelta(days=n)))
    return DailyPartitions(start=start, timezone=timezone, end=end)


@st.composite
def joins(draw: st.DrawFn) -> tuple[PartitionMapping, Partitions, Partitions, dt.datetime]:
    """A mapping with two definitions it can join, and a random ``now``."""
    timezone = draw(st.sampled_from(["UTC", "America/New_York", "Australia/Sydney"]))
    mapping = draw(mappings)
    down: Partitions = draw(st.none() | daily(timezone))
    up: Partitions = draw(st.none() | daily(timezone))
    if isinstance(mapping, Window):
        down, up = down or draw(daily(timezone)), up or draw(daily(timezone))
    if isinstance(mapping, Identity) and down is None:
        up = None
    mapping.check(down, up, "down <- up")
    now = draw(
        st.datetimes(dt.datetime(2025, 12, 25), dt.datetime(2026, 2, 20), timezones=st.just(UTC))
    )
    return mapping, down, up, now


def all_keys(definition: Partitions, now: dt.datetime) -> list[str]:
    return [UNPARTITIONED] if definition is None else definition.keys(now)


@FAST
@given(joins())
def test_upstream_and_downstream_agree(
    join: tuple[PartitionMapping, Partitions, Partitions, dt.datetime],
) -> None:
    mapping, down, up, now = join
    down_keys, up_keys = all_keys(down, now), all_keys(up, now)
    upstream = {d: set(mapping.upstream(d, down, up, now).keys) for d in down_keys}
    downstream = {p: set(mapping.downstream(p, up, down, now)) for p in up_keys}
    for d in down_keys:
        for p in up_keys:
            assert (p in upstream[d]) == (d in downstream[p]), (d, p)


@FAST
@given(joins())
def test_mapped_keys_are_due_sorted_and_unique(
    join: tuple[PartitionMapping, Partitions, Partitions, dt.datetime],
) -> None:
    mapping, down, up, now = join
    up_keys, down_keys = all_keys(up, now), set(all_keys(down, now))
    for d in all_keys(down, now):
        found = mapping.upstream(d, down, up, now)
        assert list(found.keys) == sorted(set(found.keys))
        assert set(found.keys) <= set(up_keys)
    for p in up_keys:
        mapped = mapping.downstream(p, up, down, now)
        assert list(mapped) == sorted(set(mapped))
        assert set(mapped) <= down_keys


def requested(mapping: PartitionMapping, key: str, up: Partitions, now: dt.datetime) -> list[str]:
    """What a mapping asks for, computed independently of its implementation."""
    if up is None:
        return [UNPARTITIONED]
    if isinstance(mapping, Identity):
        return [key]
    if isinstance(mapping, Window):
        day = dt.date.fromisoformat(key)
        return [(day - dt.timedelta(days=i)).isoformat() for i in reversed(range(mapping.days))]
    keys = up.keys(now)
    return keys if isinstance(mapping, AllPartitions) else keys[-1:]


@FAST
@given(joins())
def test_out_of_range_keys_are_exactly_those_outside_the_upstream(
    join: tuple[PartitionMapping, Partitions, Partitions, dt.datetime],
) -> None:
    mapping, down, up, now = join
    up_keys = set(all_keys(up, now))
    for d in all_keys(down, now):
        found = mapping.upstream(d, down, up, now)
        wanted = requested(mapping, d, up, now)
        assert sorted(found.keys + found.out_of_range) == sorted(wanted)
        assert list(found.keys) == [k for k in wanted if k in up_keys]
        assert list(found.out_of_range) == [k for k in wanted if k not in up_keys]


# -- examples -------------------------------------------------------------------------------


def test_identity() -> None:
    late = DailyPartitions(start="2026-04-05")
    assert Identity().upstream("2026-04-08", APRIL, APRIL, NOW) == UpstreamPartitions(
        ("2026-04-08",)
    )
    assert Identity().upstream("2026-04-02", APRIL, late, NOW) == UpstreamPartitions(
        (), ("2026-04-02",)
    )
    assert Identity().downstream("2026-04-08", APRIL, APRIL, NOW) == ("2026-04-08",)
    assert Identity().downstream("2026-04-02", APRIL, late, NOW) == ()


def test_identity_with_an_unpartitioned_upstream() -> None:
    assert Identity().upstream("2026-04-08", APRIL, None, NOW).keys == (UNPARTITIONED,)
    assert Identity().downstream(UNPARTITIONED, None, APRIL, NOW) == tuple(APRIL.keys(NOW))
    assert Identity().upstream(UNPARTITIONED, None, None, NOW).keys == (UNPARTITIONED,)
    assert Identity().downstream(UNPARTITIONED, None, None, NOW) == (UNPARTITIONED,)


def test_window_reads_the_days_ending_at_its_own() -> None:
    found = Window(days=3).upstream("2026-04-08", APRIL, APRIL, NOW)
    assert found == UpstreamPartitions(("2026-04-06", "2026-04-07", "2026-04-08"))
    assert Window(days=3).downstream("2026-04-06", APRIL, APRIL, NOW) == (
        "2026-04-06",
        "2026-04-07",
        "2026-04-08",
    )


def test_window_is_clipped_at_the_upstream_start() -> None:
    found = Window(days=3).upstream("2026-04-01", APRIL, APRIL, NOW)
    assert found.keys == ("2026-04-01",)
    assert found.out_of_range == ("2026-03-30", "2026-03-31")


def test_window_downstream_stops_at_the_last_due_day() -> None:
    assert Window(days=7).downstream("2026-04-08", APRIL, APRIL, NOW) == (
        "2026-04-08",
        "2026-04-09",
    )


def test_all_partitions() -> None:
    assert AllPartitions().upstream(UNPARTITIONED, None, APRIL, NOW).keys == tuple(APRIL.keys(NOW))
    assert AllPartitions().downstream("2026-04-03", APRIL, None, NOW) == (UNPARTITIONED,)
    assert AllPartitions().upstream(UNPARTITIONED, None, None, NOW).keys == (UNPARTITIONED,)


def test_last_partition() -> None:
    assert LastPartition().upstream(UNPARTITIONED, None, APRIL, NOW).keys == ("2026-04-09",)
    assert LastPartition().downstream("2026-04-09", APRIL, None, NOW) == (UNPARTITIONED,)
    assert LastPartition().downstream("2026-04-08", APRIL, None, NOW) == ()
    early = dt.datetime(2026, 3, 1, tzinfo=UTC)
    assert LastPartition().upstream(UNPARTITIONED, None, APRIL, early) == UpstreamPartitions(())
    assert LastPartition().downstream("2026-04-01", APRIL, None, early) == ()


# -- validation -----------------------------------------------------------------------------


def test_window_needs_at_least_one_day() -> None:
    with pytest.raises(ValidationError):
        Window(days=0)


@pytest.mark.parametrize(("down", "up"), [(None, APRIL), (APRIL, None), (None, None)])
def test_window_needs_daily_partitions_on_both_sides(down: Partitions, up: Partitions) -> None:
    with pytest.raises(DefinitionError, match=r"^b <- a: Window\(days=...\) needs daily"):
        Window(days=2).check(down, up, "b <- a")


def test_identity_cannot_read_one_partition_into_an_unpartitioned_asset() -> None:
    with pytest.raises(DefinitionError, match="use AllPartitions"):
        Identity().check(None, APRIL, "b <- a")
    Identity().check(APRIL, None, "b <- a")
    Identity().check(None, None, "b <- a")


@pytest.mark.parametrize("mapping", [Identity(), Window(days=2)])
def test_day_to_day_mappings_need_one_timezone(mapping: PartitionMapping) -> None:
    berlin = DailyPartitions(start="2026-04-01", timezone="Europe/Berlin")
    with pytest.raises(DefinitionError, match="different timezones"):
        mapping.check(APRIL, berlin, "b <- a")


@pytest.mark.parametrize("mapping", [AllPartitions(), LastPartition()])
def test_whole_set_mappings_join_anything(mapping: PartitionMapping) -> None:
    berlin = DailyPartitions(start="2026-04-01", timezone="Europe/Berlin")
    for down, up in [(None, APRIL), (APRIL, None), (APRIL, berlin), (None, None)]:
        mapping.check(down, up, "b <- a")


def test_default_mapping() -> None:
    assert default_mapping(None, APRIL) == AllPartitions()
    assert default_mapping(APRIL, APRIL) == Identity()
    assert default_mapping(APRIL, None) == Identity()
    assert default_mapping(None, None) == Identity()


@pytest.mark.parametrize(
    "mapping", [Identity(), Window(days=7), AllPartitions(), LastPartition(), None]
)
def test_mappings_round_trip_through_json(mapping: PartitionMapping | None) -> None:
    dep = Dep(asset="a", mapping=mapping, param="a")
    assert Dep.model_validate_json(dep.model_dump_json()) == dep
