"""The computations of the benchmark's sales pipeline, shared by partita and the script.

Both sides call exactly these functions, so the benchmarks time the framework around
them (reads, writes, bookkeeping), not different work. Data is deterministic: the
same day always gives the same rows.
"""

from __future__ import annotations

import datetime as dt
import functools

import pyarrow as pa
import pyarrow.compute as pc

ROWS_PER_DAY = 1_000


@functools.cache
def _choices(kind: str) -> pa.Array:
    # Built on first use, not at import: pa.array() imports pandas when it is installed,
    # which would otherwise be counted in every `partita` command's startup.
    if kind == "region":
        return pa.array(["eu", "us", "apac", "latam", "mea"])
    return pa.array(["paid", "paid", "paid", "refunded", "test"])


def _uniform(n: int, seed: int) -> pa.Array:
    return pc.random(n, initializer=seed)


def _pick(choices: pa.Array, n: int, seed: int) -> pa.Array:
    scaled = pc.multiply(_uniform(n, seed), len(choices))
    return choices.take(pc.cast(pc.floor(scaled), pa.int32()))


def make_raw(key: str, rows: int = ROWS_PER_DAY) -> pa.Table:
    """The day's raw orders: ids, customers, regions, amounts (some null) and statuses."""
    seed = dt.date.fromisoformat(key).toordinal() * 16
    ids = pa.array([f"{key}-{i:05d}" for i in range(rows)])
    customers = pc.cast(pc.floor(pc.multiply(_uniform(rows, seed), 50_000)), pa.int64())
    amounts = pc.round(pc.subtract(pc.multiply(_uniform(rows, seed + 1), 250.0), 10.0), 2)
    nulls = pc.less(_uniform(rows, seed + 2), 0.02)
    return pa.table(
        {
            "order_id": ids,
            "customer_id": customers,
            "region": _pick(_choices("region"), rows, seed + 3),
            "amount": pc.if_else(nulls, pa.scalar(None, pa.float64()), amounts),
            "status": _pick(_choices("status"), rows, seed + 4),
        }
    )


def clean(raw: pa.Table, key: str) -> pa.Table:
    """Real orders with a valid amount, tagged with their day."""
    valid = (
        pc.field("amount").is_valid() & (pc.field("amount") > 0) & (pc.field("status") != "test")
    )
    kept = raw.filter(valid)
    day = dt.date.fromisoformat(key)
    return kept.append_column("day", pa.repeat(pa.scalar(day, pa.date32()), kept.num_rows))


def region_totals(clean_sales: pa.Table) -> pa.Table:
    """Paid orders and revenue per region."""
    paid = clean_sales.filter(pc.field("status") == "paid")
    totals = paid.group_by("region").aggregate([("amount", "count"), ("amount", "sum")])
    return totals.sort_by("region")


def report(clean_sales: pa.Table, key: str) -> str:
    """The day's Markdown report."""
    paid = clean_sales.filter(pc.field("status") == "paid")
    revenue = pc.sum(paid["amount"]).as_py() or 0.0
    lines = [
        f"# Sales report {key}",
        "",
        f"- Orders: {clean_sales.num_rows:,}",
        f"- Paid orders: {paid.num_rows:,}",
        f"- Revenue: {revenue:,.2f}",
        "",
    ]
    return "\n".join(lines)
