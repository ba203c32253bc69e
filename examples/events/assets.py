"""Page views by the hour, rolled up by day, week and region, with a running total.

page_views (hourly) -> daily_views (daily: the day's 23, 24 or 25 hours)
                         -> weekly_views (weekly: the week's 7 days)
                         -> cumulative_views (daily: the day before's total + the day's views)
                    -> regional_views (daily x region: the day's hours, one region's views)
                         -> daily_totals (daily: the day's three regions summed)
uploads (dynamic: one partition per batch a partner uploads)

Every time partition is in Europe/Berlin, so DST is real: 2026-03-29 has 23 hours and
2026-10-25 has 25 (its hour 02:00 comes twice). The tables name their day ``day``: the
partition's path already holds ``date=...`` (and ``region=...``), and tools that read the
hive layout add those as columns.
"""

import pyarrow as pa
import pyarrow.compute as pc
import tracking

import partita as pt

START = "2026-03-23"  # a Monday: the first week is whole
TIMEZONE = "Europe/Berlin"

hourly = pt.HourlyPartitions(start=START, timezone=TIMEZONE)
daily = pt.DailyPartitions(start=START, timezone=TIMEZONE)
weekly = pt.WeeklyPartitions(start=START, timezone=TIMEZONE)
regions = pt.StaticPartitions(tracking.REGIONS, dimension="region")
daily_by_region = pt.MultiPartitions(date=daily, region=regions)
batches = pt.DynamicPartitions("upload_files", dimension="batch")


@pt.asset(partitions=hourly)
def page_views(ctx: pt.Context) -> pa.Table:
    """The hour's page views, as the tracking log has them (late ones included)."""
    late = tracking.late_events(ctx.partition_key)
    views = tracking.fetch(ctx.partition.start, ctx.partition.end, late=late)
    ctx.log.info("%d page views (%d late) for %s", views.num_rows, late, ctx.partition_key)
    return views


def _day(ctx: pt.Context) -> pa.Scalar:
    return pa.scalar(ctx.partition.start.date(), pa.date32())


# --8<-- [start:eager]
@pt.asset(partitions=daily, automation=pt.Eager(window=14))
def daily_views(ctx: pt.Context, page_views: pa.Table) -> pa.Table:
    """Per page: views, distinct users and mean load time over the day's hours.

    Hourly -> daily is Containment, the default: the step receives every hour of its
    day as one table -- 23 on the day DST starts, 25 on the day it ends. Eager: when
    ``partita daemon`` runs, a day of the last two weeks is rebuilt as soon as one of its
    hours is rebuilt with different data (late events), or once all its hours are in.
    """
    # --8<-- [end:eager]
    hours = pc.count_distinct(pc.floor_temporal(page_views["ts"], unit="hour")).as_py()
    per_page = page_views.group_by("page", use_threads=False).aggregate(
        [("page", "count"), ("user_id", "count_distinct"), ("ms", "mean")]
    )
    ctx.log.info("%d page views over %d hours", page_views.num_rows, hours)
    return pa.table(
        {
            "day": pa.repeat(_day(ctx), per_page.num_rows),
            "page": per_page["page"],
            "views": per_page["page_count"],
            "users": per_page["user_id_count_distinct"],
            "avg_ms": pc.round(per_page["ms_mean"], 1),
            "hours": pa.repeat(pa.scalar(hours, pa.int64()), per_page.num_rows),
        }
    ).sort_by("page")


@pt.asset(partitions=weekly)
def weekly_views(ctx: pt.Context, daily_views: pa.Table) -> pa.Table:
    """Per page: the week's views, from its seven days (Containment, the default)."""
    per_page = daily_views.group_by("page", use_threads=False).aggregate(
        [("views", "sum"), ("day", "count"), ("hours", "sum")]
    )
    return pa.table(
        {
            "week_start": pa.repeat(_day(ctx), per_page.num_rows),
            "page": per_page["page"],
            "views": per_page["views_sum"],
            "days": per_page["day_count"],
            "hours": per_page["hours_sum"],
        }
    ).sort_by("page")


@pt.asset(partitions=daily_by_region)
def regional_views(ctx: pt.Context, page_views: pa.Table) -> pa.Table:
    """Per page: one region's views over the day's hours.

    The default mapping, Dimensions(), reads page_views' hours through the only time
    dimension here (date). The region comes from the partition key, ``2026-04-08|eu``.
    """
    region = ctx.dimensions["region"]
    mine = page_views.filter(pc.field("region") == region)
    per_page = mine.group_by("page", use_threads=False).aggregate(
        [("page", "count"), ("user_id", "count_distinct")]
    )
    return pa.table(
        {
            "day": pa.repeat(_day(ctx), per_page.num_rows),
            "page": per_page["page"],
            "views": per_page["page_count"],
            "users": per_page["user_id_count_distinct"],
        }
    ).sort_by("page")


@pt.asset(partitions=daily)
def daily_totals(ctx: pt.Context, regional_views: pa.Table) -> pa.Table:
    """Per page: the day's views over every region.

    Dimensions(), the default, maps date to date and reads every key of region, which
    has no counterpart here: the step receives the day's three regions as one table.
    """
    per_page = regional_views.group_by("page", use_threads=False).aggregate([("views", "sum")])
    return pa.table(
        {
            "day": pa.repeat(_day(ctx), per_page.num_rows),
            "page": per_page["page"],
            "views": per_page["views_sum"],
        }
    ).sort_by("page")


@pt.asset(partitions=daily, deps={"cumulative_views": pt.Previous()})
def cumulative_views(
    ctx: pt.Context, daily_views: pa.Table, cumulative_views: pa.Table | None
) -> pa.Table:
    """Per page: the views so far, as the day before's total plus the day's views.

    Previous() reads the asset's own partition of the day before, so the days are built
    strictly in time order; the first day has none and receives None.
    """
    before = {} if cumulative_views is None else _by_page(cumulative_views, "total")
    today = _by_page(daily_views, "views")
    pages = sorted(before.keys() | today.keys())
    totals = [before.get(page, 0) + today.get(page, 0) for page in pages]
    return pa.table(
        {
            "day": pa.repeat(_day(ctx), len(pages)),
            "page": pages,
            "views": pa.array([today.get(page, 0) for page in pages], pa.int64()),
            "total": pa.array(totals, pa.int64()),
        }
    )


def _by_page(table: pa.Table, column: str) -> dict[str, int]:
    return dict(zip(table["page"].to_pylist(), table[column].to_pylist(), strict=True))


@pt.asset(partitions=batches)
def uploads(ctx: pt.Context) -> pa.Table:
    """A batch of page views uploaded by a partner; its key is added at run time."""
    views = tracking.batch(ctx.partition_key)
    ctx.log.info("batch %s: %d page views", ctx.partition_key, views.num_rows)
    return views
