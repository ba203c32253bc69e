"""A simulated sales API: deterministic orders per day, no network.

The same day always returns the same orders (the generator is seeded from the day), so
a rebuild produces identical data. Two environment variables make it fail, to show
retries and failed runs:

- ``SALES_API_FAIL_TRANSIENT=N``: the first ``N`` attempts for every day time out.
- ``SALES_API_FAIL_DAYS=2026-04-05,2026-04-06``: those days always fail with a 503.

``SALES_API_LATENCY=0.2`` makes every call take that many seconds, like a real API.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time

import pyarrow as pa

REGIONS = ("eu", "us", "apac")
STATUSES = ("paid", "refunded", "test")
MICROS_PER_DAY = 86_400 * 1_000_000

SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("ordered_at", pa.timestamp("us", tz="UTC")),
        ("customer_id", pa.int64()),
        ("region", pa.string()),
        ("amount", pa.float64()),
        ("status", pa.string()),
    ]
)


def _check_failure_switches(day: dt.date, attempt: int) -> None:
    transient = int(os.environ.get("SALES_API_FAIL_TRANSIENT") or 0)
    if attempt <= transient:
        raise ConnectionError("sales API timed out")
    failing = {d.strip() for d in os.environ.get("SALES_API_FAIL_DAYS", "").split(",")}
    if day.isoformat() in failing:
        raise ConnectionError(f"sales API: 503 for {day.isoformat()}")


def _amount(rng: random.Random) -> float | None:
    roll = rng.random()
    if roll < 0.01:
        return None  # a broken record
    value = round(rng.lognormvariate(3.5, 0.8), 2)
    return -value if roll < 0.02 else value  # a bogus negative amount


def fetch(day: dt.date, attempt: int) -> pa.Table:
    """The orders placed on ``day`` (UTC), about 1,000 of them.

    Args:
        day: the day to fetch.
        attempt: 1 for the first try; the failure switches use it.

    Raises:
        ConnectionError: when a failure switch says so.
    """
    time.sleep(float(os.environ.get("SALES_API_LATENCY") or 0))
    _check_failure_switches(day, attempt)
    rng = random.Random(day.toordinal())
    count = rng.randint(900, 1100)
    midnight = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
    times = sorted(midnight * 1_000_000 + rng.randrange(MICROS_PER_DAY) for _ in range(count))
    return pa.table(
        {
            "order_id": [f"{day:%Y%m%d}-{i:05d}" for i in range(count)],
            "ordered_at": times,
            "customer_id": [rng.randint(1, 5_000) for _ in range(count)],
            "region": rng.choices(REGIONS, weights=(4, 4, 2), k=count),
            "amount": [_amount(rng) for _ in range(count)],
            "status": rng.choices(STATUSES, weights=(93, 5, 2), k=count),
        },
        schema=SCHEMA,
    )
