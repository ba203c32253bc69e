"""Streaming-write benchmark: peak memory of writing one large partition.

A partition of ``--gb`` GB of Arrow data (4 int64 and 4 float64 columns of random values,
64 bytes a row, generated batch by batch, ``--batch-rows`` rows a batch) is written
through ``DataStore.write`` to local disk in a fresh subprocess per mode:

* ``stream``: the value is a ``pyarrow.RecordBatchReader`` over a generator, so no more
  than one batch exists at a time (target: 2 GB under 500 MB peak RSS);
* ``table``: the same batches collected into one ``pyarrow.Table`` first, for contrast
  (needs the whole partition in memory; ``--no-table`` leaves it out).

Peak memory is the child's ``ru_maxrss``; the baseline is its RSS after imports, before
any data exists. The time covers generating, encoding, hashing and the durable write.

    .venv/bin/python bench/stream_memory.py                     # 2 GB, stream and table
    .venv/bin/python bench/stream_memory.py --gb 0.5 --no-table
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

import partita
from partita.storage.store.datastore import DataStore
from partita.storage.store.versions import new_version_id

ROW_BYTES = 64
SCHEMA = pa.schema(
    [(f"i{n}", pa.int64()) for n in range(4)] + [(f"f{n}", pa.float64()) for n in range(4)]
)


def batches(total_rows: int, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Random batches, deterministic for a given size (one seed per batch)."""
    for number, start in enumerate(range(0, total_rows, batch_rows)):
        rows = min(batch_rows, total_rows - start)
        rng = np.random.default_rng(number)
        ints = [pa.array(rng.integers(0, 1 << 62, rows)) for _ in range(4)]
        floats = [pa.array(rng.random(rows)) for _ in range(4)]
        yield pa.RecordBatch.from_arrays(ints + floats, schema=SCHEMA)


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(mode: str, gb: float, batch_rows: int, root: str) -> None:
    """Write one partition and print what it cost, as JSON."""
    baseline = max_rss_mb()
    total_rows = int(gb * 1e9) // ROW_BYTES
    started = time.perf_counter()
    stream = batches(total_rows, batch_rows)
    value: object
    if mode == "stream":
        value = pa.RecordBatchReader.from_batches(SCHEMA, stream)
    else:
        value = pa.Table.from_batches(list(stream), schema=SCHEMA)
    written = DataStore(root).write("big", "date=2026-04-08", new_version_id(), value)
    seconds = time.perf_counter() - started
    report = {
        "mode": mode,
        "rows": written.rows,
        "arrow_gb": total_rows * ROW_BYTES / 1e9,
        "file_gb": written.bytes / 1e9,
        "seconds": seconds,
        "baseline_mb": baseline,
        "peak_mb": max_rss_mb(),
    }
    print(json.dumps(report))


def run(mode: str, gb: float, batch_rows: int) -> dict[str, float]:
    root = tempfile.mkdtemp(prefix="partita-stream-")
    try:
        command = [sys.executable, __file__, "--child", mode, "--gb", str(gb)]
        command += ["--batch-rows", str(batch_rows), "--root", root]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        return json.loads(output.strip().splitlines()[-1])
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.0, help="Arrow size of the partition")
    parser.add_argument("--batch-rows", type=int, default=64 * 1024)
    parser.add_argument("--no-table", action="store_true", help="skip the materialized table")
    parser.add_argument("--child", choices=["stream", "table"], help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.gb, args.batch_rows, args.root)
        return
    print(f"partita from {partita.__file__}")
    modes = ["stream"] if args.no_table else ["stream", "table"]
    header = f"{'mode':<8} {'rows':>12} {'arrow GB':>9} {'file GB':>8} {'seconds':>8}"
    print(f"{header} {'base MB':>8} {'peak MB':>8}")
    for mode in modes:
        r = run(mode, args.gb, args.batch_rows)
        print(
            f"{r['mode']:<8} {r['rows']:>12,} {r['arrow_gb']:>9.2f} {r['file_gb']:>8.2f} "
            f"{r['seconds']:>8.1f} {r['baseline_mb']:>8.0f} {r['peak_mb']:>8.0f}"
        )


if __name__ == "__main__":
    main()
