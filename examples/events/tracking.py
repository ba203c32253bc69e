"""A simulated tracking log: deterministic page views per hour, no network.

The same hour always returns the same page views (the generator is seeded from the hour's
start), so a rebuild produces identical data. Late events change that:
``.partita/late_events.json`` (beside the catalog, out of version control) maps hour keys to
how many page views arrived late for that hour, e.g. ``{"2026-04-08T13:00": 40}``; fetching
the hour again then returns them too.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pyarrow as pa

REGIONS = ("eu", "us", "apac")
PAGES = ("/", "/pricing", "/docs", "/blog", "/signup")
LATE_EVENTS = Path(__file__).parent / ".partita" / "late_events.json"

SCHEMA = pa.schema(
    [
        ("ts", pa.timestamp("us", tz="UTC")),
        ("region", pa.string()),
        ("page", pa.string()),
        ("user_id", pa.int64()),
        ("ms", pa.int32()),
    ]
)


def late_events(hour: str) -> int:
    """How many page views arrived late for the hour ``hour`` (a partition key)."""
    if not LATE_EVENTS.exists():
        return 0
    return int(json.loads(LATE_EVENTS.read_text(encoding="utf-8")).get(hour, 0))


def fetch(start: dt.datetime, end: dt.datetime, *, late: int = 0) -> pa.Table:
    """The page views logged in ``[start, end)``: a few hundred an hour, oldest first.

    Args:
        start: the first instant (aware).
        end: the first instant after the window (aware).
        late: how many late page views to add (seeded apart from the regular ones).
    """
    first, stop = int(start.timestamp()), int(end.timestamp())
    rng = random.Random(first)
    count = rng.randint(200, 400)
    late_rng = random.Random(-first)  # late events leave the regular ones unchanged
    times = [rng.randrange(first, stop) for _ in range(count)]
    times += [late_rng.randrange(first, stop) for _ in range(late)]
    rows = [_view(rng) for _ in range(count)] + [_view(late_rng) for _ in range(late)]
    order = sorted(range(len(times)), key=times.__getitem__)
    return pa.table(
        {
            "ts": [times[i] * 1_000_000 for i in order],
            "region": [rows[i][0] for i in order],
            "page": [rows[i][1] for i in order],
            "user_id": [rows[i][2] for i in order],
            "ms": [rows[i][3] for i in order],
        },
        schema=SCHEMA,
    )


def _view(rng: random.Random) -> tuple[str, str, int, int]:
    region = rng.choices(REGIONS, weights=(5, 4, 2))[0]
    page = rng.choices(PAGES, weights=(6, 2, 4, 3, 1))[0]
    return region, page, rng.randint(1, 2_000), int(rng.lognormvariate(5.0, 0.6))


def batch(name: str) -> pa.Table:
    """The page views of an uploaded batch: the same batch name, the same rows."""
    rng = random.Random(name)
    first = int(dt.datetime(2026, 4, 1, tzinfo=dt.UTC).timestamp())
    count = rng.randint(50, 150)
    times = sorted(rng.randrange(first, first + 86_400) for _ in range(count))
    rows = [_view(rng) for _ in range(count)]
    return pa.table(
        {
            "ts": [t * 1_000_000 for t in times],
            "region": [row[0] for row in rows],
            "page": [row[1] for row in rows],
            "user_id": [row[2] for row in rows],
            "ms": [row[3] for row in rows],
        },
        schema=SCHEMA,
    )
