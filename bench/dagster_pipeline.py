"""The backfill benchmark's pipeline in Dagster, materialized one partition at a time.

The same four daily assets as bench/backfill.py, as Dagster software-defined assets with a
``DailyPartitionsDefinition``, calling the same functions (bench/_sales.py):

    raw_sales -> clean_sales -> region_totals (Parquet)
                             -> sales_report  (Markdown)

An IO manager writes every output to the same hive layout as partita and the hand-written
script (``<asset>/date=YYYY-MM-DD/part-0.parquet``, ``part-0.md`` for the report) and reads
every upstream partition back from disk. Each day is one ``dagster.materialize(...,
partition_key=day, instance=...)`` call, as a user without a daemon would backfill; the
whole run of N days is timed. Dagster's instance is a temporary directory (SQLite run and
event storage, the counterpart of partita's catalog) unless ``--instance ephemeral``.

It runs in its own environment, never in partita's (see bench/setup-dagster):

    bench/.dagster-venv/bin/python bench/dagster_pipeline.py --days 365

and prints one JSON object: seconds, seconds per partition and per asset partition.
"""

# No `from __future__ import annotations`: Dagster inspects the annotations at runtime.
import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import _sales  # noqa: E402

START = dt.date(2025, 1, 1)
ASSETS = ("raw_sales", "clean_sales", "region_totals", "sales_report")

daily = dg.DailyPartitionsDefinition(start_date=START.isoformat(), timezone="UTC")


class HiveIOManager(dg.ConfigurableIOManager):
    """Parquet (or Markdown for ``str``) per partition, in partita's hive layout."""

    root: str

    def _path(self, asset: str, key: str, suffix: str) -> Path:
        return Path(self.root) / asset / f"date={key}" / f"part-0.{suffix}"

    def handle_output(self, context: dg.OutputContext, obj: pa.Table | str) -> None:
        asset = context.asset_key.path[-1]
        if isinstance(obj, str):
            path = self._path(asset, context.partition_key, "md")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(obj, encoding="utf-8")
        else:
            path = self._path(asset, context.partition_key, "parquet")
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(obj, path)

    def load_input(self, context: dg.InputContext) -> pa.Table:
        asset = context.asset_key.path[-1]
        return pq.read_table(self._path(asset, context.partition_key, "parquet"))


def build_assets(rows: int) -> list[dg.AssetsDefinition]:
    """The four assets, generating ``rows`` raw rows a day."""

    @dg.asset(partitions_def=daily)
    def raw_sales(context: dg.AssetExecutionContext) -> pa.Table:
        return _sales.make_raw(context.partition_key, rows)

    @dg.asset(partitions_def=daily)
    def clean_sales(context: dg.AssetExecutionContext, raw_sales: pa.Table) -> pa.Table:
        return _sales.clean(raw_sales, context.partition_key)

    @dg.asset(partitions_def=daily)
    def region_totals(clean_sales: pa.Table) -> pa.Table:
        return _sales.region_totals(clean_sales)

    @dg.asset(partitions_def=daily)
    def sales_report(context: dg.AssetExecutionContext, clean_sales: pa.Table) -> str:
        return _sales.report(clean_sales, context.partition_key)

    return [raw_sales, clean_sales, region_totals, sales_report]


def day_keys(days: int) -> list[str]:
    return [(START + dt.timedelta(days=i)).isoformat() for i in range(days)]


def backfill(root: Path, keys: list[str], rows: int, ephemeral: bool) -> float:
    """Materialize every asset for each key, one ``materialize`` call per key; return the
    wall time in seconds, opening the instance included."""
    assets = build_assets(rows)
    resources = {"io_manager": HiveIOManager(root=str(root / "data"))}
    began = time.perf_counter()
    if ephemeral:
        instance = dg.DagsterInstance.ephemeral()
    else:
        home = root / "dagster-home"
        home.mkdir(parents=True)
        instance = dg.DagsterInstance.local_temp(tempdir=str(home))
    with instance:
        for key in keys:
            result = dg.materialize(
                assets, partition_key=key, instance=instance, resources=resources
            )
            if not result.success:
                raise SystemExit(f"dagster failed to materialize {key}")
    elapsed = time.perf_counter() - began
    written = sum(1 for _ in (root / "data").glob("*/date=*/part-0.*"))
    if written != len(keys) * len(ASSETS):
        raise SystemExit(f"dagster wrote {written} files, expected {len(keys) * len(ASSETS)}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rows", type=int, default=_sales.ROWS_PER_DAY)
    parser.add_argument(
        "--instance",
        choices=("temp", "ephemeral"),
        default="temp",
        help="a temporary-directory instance (SQLite storage) or an in-memory one",
    )
    args = parser.parse_args()
    if args.days < 1:
        parser.error("--days must be at least 1")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    warnings.filterwarnings("ignore")  # beta/preview warnings would flood stderr

    with tempfile.TemporaryDirectory(prefix="dagster-bench-") as scratch:
        # Warm-up: Dagster's lazy imports, pyarrow kernels, the page cache.
        backfill(Path(scratch) / "warm", day_keys(2), args.rows, args.instance == "ephemeral")
        seconds = backfill(
            Path(scratch) / "run", day_keys(args.days), args.rows, args.instance == "ephemeral"
        )
    steps = args.days * len(ASSETS)
    print(
        json.dumps(
            {
                "dagster": dg.__version__,
                "pyarrow": pa.__version__,
                "instance": args.instance,
                "days": args.days,
                "asset_partitions": steps,
                "seconds": round(seconds, 3),
                "seconds_per_partition": round(seconds / args.days, 4),
                "ms_per_asset_partition": round(1000 * seconds / steps, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
