"""The daily sales pipeline: fetch, clean, load into a warehouse, report, summarize.

raw_sales -> clean_sales -> warehouse_sales
                         -> sales_report   (a 14-day lookback window)
                         -> sales_summary  (unpartitioned: every day so far)
"""

import datetime as dt
import os
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import sales_api
from pydantic import BaseModel

import partita as pt

daily = pt.DailyPartitions(start="2026-04-01", timezone="UTC")


class CleanSale(BaseModel):
    """One row of clean_sales: the declared schema is enforced when it is written."""

    order_id: str
    day: dt.date
    customer_id: int
    region: str
    amount: float
    status: str


@pt.asset(partitions=daily, retries=3, retry_delay=0.2)
def raw_sales(ctx: pt.Context) -> pa.Table:
    """The day's orders, as the sales API returns them."""
    orders = sales_api.fetch(ctx.partition.start.date(), ctx.attempt)
    ctx.log.info("fetched %d orders for %s", orders.num_rows, ctx.partition_key)
    return orders


@pt.asset(partitions=daily, schema=CleanSale)
def clean_sales(ctx: pt.Context, raw_sales: pa.Table) -> pa.Table:
    """Real orders with a valid amount, tagged with their day."""
    valid = (
        pc.field("amount").is_valid() & (pc.field("amount") > 0) & (pc.field("status") != "test")
    )
    kept = raw_sales.filter(valid)
    day = dt.date.fromisoformat(ctx.partition_key)
    return pa.table(
        {
            "order_id": kept["order_id"],
            "day": pa.repeat(pa.scalar(day, pa.date32()), kept.num_rows),
            "customer_id": kept["customer_id"],
            "region": kept["region"],
            "amount": kept["amount"],
            "status": kept["status"],
        }
    )


# Steps run in threads: one writer at a time inside this process. Another process
# holding the file's lock makes connect() fail, and the retries cover that.
_WAREHOUSE_LOCK = threading.Lock()


@pt.asset(partitions=daily, retries=2, retry_delay=0.5)
def warehouse_sales(ctx: pt.Context, clean_sales: pa.Table) -> dict:
    """The day loaded into the DuckDB warehouse, replacing that day's rows."""
    import duckdb  # the example's own dependency, imported only when the step runs

    day = dt.date.fromisoformat(ctx.partition_key)
    default = Path(__file__).parent / ".partita" / "warehouse.duckdb"
    path = Path(os.environ.get("SALES_WAREHOUSE") or default)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _WAREHOUSE_LOCK:
        con = duckdb.connect(str(path))
        try:
            con.begin()  # delete and insert commit together: a rerun never duplicates
            con.execute(
                "CREATE TABLE IF NOT EXISTS sales (order_id VARCHAR, day DATE, "
                "customer_id BIGINT, region VARCHAR, amount DOUBLE, status VARCHAR)"
            )
            con.execute("DELETE FROM sales WHERE day = ?", [day])
            con.register("day_rows", clean_sales)
            con.execute(
                "INSERT INTO sales SELECT order_id, day, customer_id, region, amount, status "
                "FROM day_rows"
            )
            rows, revenue = con.execute(
                "SELECT count(*), coalesce(sum(amount) FILTER (WHERE status = 'paid'), 0) "
                "FROM sales WHERE day = ?",
                [day],
            ).fetchone()
            con.commit()
        finally:
            con.close()  # closing without commit rolls the transaction back
    ctx.log.info("loaded %d rows for %s into %s", rows, day, path)
    return {"day": day.isoformat(), "rows": rows, "revenue": round(revenue, 2)}


@pt.asset(partitions=daily, deps={"clean_sales": pt.Window(days=14)}, format="md")
def sales_report(ctx: pt.Context, clean_sales: pa.Table) -> str:
    """The day's Markdown report: totals, revenue by region, this week against the last."""
    day = dt.date.fromisoformat(ctx.partition_key)
    paid = clean_sales.filter(pc.field("status") == "paid")

    def totals(first: dt.date, last: dt.date) -> tuple[int, int, float]:
        """Days with data, orders and paid revenue from ``first`` to ``last``."""
        inside = (pc.field("day") >= first) & (pc.field("day") <= last)
        orders = clean_sales.filter(inside)
        revenue = pc.sum(paid.filter(inside)["amount"]).as_py() or 0.0
        return len(pc.unique(orders["day"])), orders.num_rows, revenue

    _, orders, revenue = totals(day, day)
    today = paid.filter(pc.field("day") == day)
    by_region = today.group_by("region").aggregate([("amount", "count"), ("amount", "sum")])
    lines = [
        f"# Sales report {day}",
        "",
        f"- Orders: {orders:,}",
        f"- Revenue: {revenue:,.2f}",
        "",
        "## Revenue by region",
        "",
        "| Region | Paid orders | Revenue |",
        "|---|---:|---:|",
    ]
    for row in by_region.sort_by("region").to_pylist():
        lines.append(f"| {row['region']} | {row['amount_count']:,} | {row['amount_sum']:,.2f} |")

    week = dt.timedelta(days=7)
    this_days, this_orders, this_revenue = totals(day - week + dt.timedelta(days=1), day)
    last_days, last_orders, last_revenue = totals(day - 2 * week + dt.timedelta(days=1), day - week)
    lines += [
        "",
        "## The last 7 days",
        "",
        f"- This week ({this_days} days to {day}): {this_orders:,} orders, "
        f"{this_revenue:,.2f} revenue",
    ]
    if last_days < 7:
        lines.append("- The 7 days before: not enough history")
    else:
        change = (this_revenue - last_revenue) / last_revenue if last_revenue else 0.0
        lines.append(
            f"- The 7 days before: {last_orders:,} orders, {last_revenue:,.2f} revenue "
            f"({change:+.1%} week over week)"
        )
    return "\n".join(lines) + "\n"


@pt.asset
def sales_summary(clean_sales: pa.Table) -> pa.Table:
    """Orders and paid revenue per day, over every day so far."""
    is_paid = pc.equal(clean_sales["status"], "paid")
    orders = pa.table(
        {
            "day": clean_sales["day"],
            "order_id": clean_sales["order_id"],
            "revenue": pc.if_else(is_paid, clean_sales["amount"], 0.0),
        }
    )
    per_day = orders.group_by("day").aggregate([("order_id", "count"), ("revenue", "sum")])
    return pa.table(
        {
            "day": per_day["day"],
            "orders": per_day["order_id_count"],
            "revenue": pc.round(per_day["revenue_sum"], 2),
        }
    ).sort_by("day")


# --8<-- [start:nightly]
# Every night at 02:00 UTC: yesterday's partitions (their windows closed at midnight),
# and whatever was missed while the daemon was down, at most 7 days per asset per tick.
nightly = pt.Schedule(
    "nightly",
    assets=["sales_report", "warehouse_sales", "sales_summary"],
    cron="@daily",
    timezone="UTC",
    delay="2h",
    max_per_tick=7,
)
# --8<-- [end:nightly]
