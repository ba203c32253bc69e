"""Multi-dimensional partitions: product key spaces, the three spellings of a key, errors."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from pydantic import ValidationError

from partita.assets import (
    DailyPartitions,
    DynamicPartitions,
    HourlyPartitions,
    Identity,
    MultiPartitions,
    StaticPartitions,
)
from partita.assets.partitions.multi import ProductSpace
from partita.errors import DefinitionError, PartitionKeyError

UTC = dt.UTC
NOW = dt.datetime(2026, 4, 3, 12, 0, tzinfo=UTC)
DAILY = DailyPartitions(start="2026-04-01")
REGIONS = StaticPartitions(["eu", "us"])
BY_REGION = MultiPartitions(date=DAILY, region=REGIONS)
REGION_FIRST = MultiPartitions(region=REGIONS, date=DAILY)


def space(definition: MultiPartitions = BY_REGION, **dynamic: tuple[str, ...]) -> ProductSpace:
    return definition.space(NOW, dynamic)


def test_keys_are_the_product_with_time_varying_slowest() -> None:
    keys = ["2026-04-01|eu", "2026-04-01|us", "2026-04-02|eu", "2026-04-02|us"]
    assert space().keys() == keys
    assert len(space()) == 4
    assert [space().key_at(i) for i in range(4)] == keys
    assert [space().index(key) for key in keys] == [0, 1, 2, 3]
    # Keys follow the declaration order; time still varies slowest.
    assert space(REGION_FIRST).keys() == [
        "eu|2026-04-01",
        "us|2026-04-01",
        "eu|2026-04-02",
        "us|2026-04-02",
    ]
    assert REGION_FIRST.order() == ["date", "region"]


def test_membership_and_positions() -> None:
    assert "2026-04-02|us" in space()
    assert "2026-04-03|us" not in space()  # not due yet
    assert "2026-04-02|apac" not in space()
    assert "2026-04-02" not in space()
    assert space().index("2026-04-03|eu") == 4  # a time position past the end
    assert space().index("2026-03-31|us") == -1
    assert space().index("2026-04-02|apac") is None
    assert space().index("2026-04-02") is None


def test_dynamic_dimensions_take_their_keys_from_the_catalog() -> None:
    customers = MultiPartitions(date=DAILY, customer=DynamicPartitions("customers"))
    assert space(customers).keys() == []
    assert space(customers, customers=("acme", "globex")).keys()[:2] == [
        "2026-04-01|acme",
        "2026-04-01|globex",
    ]
    two_keyed = MultiPartitions(region=REGIONS, customer=DynamicPartitions("customers"))
    assert space(two_keyed, customers=("acme",)).keys() == ["eu|acme", "us|acme"]


@pytest.mark.parametrize(
    "text",
    [
        "2026-04-02|eu",
        "date=2026-04-02,region=eu",
        "region=eu,date=2026-04-02",
        "date=2026-04-02/region=eu",
        "region=eu/date=2026-04-02",
    ],
)
def test_every_spelling_parses_to_the_canonical_key(text: str) -> None:
    assert space().parse(text) == "2026-04-02|eu"


def test_segments_split_and_join() -> None:
    assert BY_REGION.segments("2026-04-02|eu") == "date=2026-04-02/region=eu"
    assert BY_REGION.from_segments("date=2026-04-02/region=eu") == "2026-04-02|eu"
    assert BY_REGION.split("2026-04-02|eu") == {"date": "2026-04-02", "region": "eu"}
    assert BY_REGION.join({"region": "eu", "date": "2026-04-02"}) == "2026-04-02|eu"
    with pytest.raises(PartitionKeyError, match=re.escape("expected date=.../region=...")):
        BY_REGION.from_segments("region=eu/date=2026-04-02")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "region=../../etc,date=2026-04-02",
            "unsafe partition key '../../etc': keys must not contain '/', '\\', '..' or "
            "control characters, nor start with '.'",
        ),
        ("date=2026-04-02/region=../../etc", "unsafe partition key '../../etc'"),
        ("2026-04-02|../../etc", "unsafe partition key '../../etc'"),
        ("date=2026-04-02,region=.hidden", "unsafe partition key '.hidden'"),
        ("date=2026-04-02/region=eu/x", "unsafe partition key 'eu/x'"),
        (
            "date=2026-04-02",
            "'date=2026-04-02' gives no key for region; write date=...,region=... or ...|...",
        ),
        (
            "date=2026-04-02,city=paris",
            "'city=paris' in 'date=2026-04-02,city=paris' does not name a dimension; "
            "write date=...,region=... or ...|... (dimensions: date, region)",
        ),
        (
            "date=2026-04-02,region=eu,date=2026-04-01",
            "dimension 'date' is given twice in 'date=2026-04-02,region=eu,date=2026-04-01'",
        ),
        ("2026-04-02", "'2026-04-02' is not a key of date|region: give one key per dimension"),
        ("2026-04-02|eu|x", "'2026-04-02|eu|x' is not a key of date|region: give one key"),
        (
            "date=2026-04-02T13:00,region=eu",
            "'2026-04-02T13:00' is a time, but these partitions are daily; use YYYY-MM-DD",
        ),
        (
            "region=apac,date=2026-04-02",
            "'apac' is not a partition of sales: StaticPartitions([eu, us]) has the keys eu, us",
        ),
        ("2026-04-05|eu", "partition 2026-04-05 is not complete yet"),
    ],
)
def test_wrong_keys_have_one_clear_message(text: str, expected: str) -> None:
    with pytest.raises(PartitionKeyError) as info:
        space().parse(text, asset="sales")
    assert str(info.value).startswith(expected)


def test_the_window_is_the_time_dimensions() -> None:
    assert BY_REGION.window("2026-04-02|eu") == DAILY.window("2026-04-02")
    assert BY_REGION.time_dimension == "date"
    assert MultiPartitions(a=REGIONS, b=DynamicPartitions("customers")).window("eu|acme") is None


def test_select_on_the_time_dimension() -> None:
    assert space().select("2026-04-02", None) == ["2026-04-02|eu", "2026-04-02|us"]
    hourly = MultiPartitions(hour=HourlyPartitions(start="2026-04-01"), region=REGIONS)
    assert space(hourly).select("2026-04-02T10:00", "2026-04-02T11:00") == [
        "2026-04-02T10:00|eu",
        "2026-04-02T10:00|us",
        "2026-04-02T11:00|eu",
        "2026-04-02T11:00|us",
    ]
    keyed = MultiPartitions(region=REGIONS, customer=DynamicPartitions("customers"))
    with pytest.raises(PartitionKeyError, match=re.escape("sales has no time dimension")):
        space(keyed).select("2026-04-01", None, asset="sales")


def test_definitions_are_validated() -> None:
    with pytest.raises(ValidationError, match="needs at least two dimensions"):
        MultiPartitions(date=DAILY)
    with pytest.raises(ValidationError, match="invalid dimension name 'Date'"):
        MultiPartitions(Date=DAILY, region=REGIONS)
    with pytest.raises(ValidationError, match="dimension 'nested' is itself multi-dimensional"):
        MultiPartitions(nested=BY_REGION, other=REGIONS)


def test_describe_shape_and_dimensions() -> None:
    assert BY_REGION.describe() == "date (daily from 2026-04-01 (UTC)) x region (static [eu, us])"
    moved = MultiPartitions(
        date=DailyPartitions(start="2020-01-01"), region=StaticPartitions(["eu", "us", "apac"])
    )
    assert moved.shape() == BY_REGION.shape()  # the range and key list are not the shape
    # The declaration order spells the keys, so it is part of the shape.
    assert REGION_FIRST.shape() != BY_REGION.shape()
    with pytest.raises(DefinitionError, match="Identity"):
        Identity().check(REGION_FIRST, BY_REGION, "b <- a")
    assert BY_REGION.dimensions() == {"date": DAILY, "region": REGIONS}
