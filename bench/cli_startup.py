"""CLI startup benchmark: whole ``partita`` processes, as a user runs them.

* ``partita --help``                                        (target < 0.3 s)
* ``partita materialize sales_report --partition DAY`` on a partition that is already
  fresh: load the project, plan, find nothing to do, exit 0   (target < 0.6 s)

It runs the console script installed in the interpreter's environment (the venv's
``bin/partita``), so install the package first, non-editable:

    .venv/bin/pip install -q --no-deps --force-reinstall .
    .venv/bin/python bench/cli_startup.py [--repeat 10]

The project is the backfill benchmark's 4-asset pipeline (its definitions import pyarrow,
as real ones do). For reference it also times a bare interpreter and ``import partita``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from backfill import ASSETS_PY  # noqa: E402

PARTITION = "2025-01-02"


def timed(command: list[str], repeat: int, env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        times.append(time.perf_counter() - began)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()

    script = Path(sys.executable).parent / "partita"
    if not script.exists():
        raise SystemExit(f"no console script at {script}: install the package first")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTITA_")}
    env.pop("PYTHONPATH", None)  # the installed package, not a working tree
    where = subprocess.run(
        [sys.executable, "-c", "import partita; print(partita.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.strip()
    print(f"console script {script}\npartita from {Path(where).parent}")

    scratch = Path(tempfile.mkdtemp(prefix="partita-bench-cli-"))
    try:
        (scratch / "partita.toml").write_text('definitions = "assets.py"\n')
        source = ASSETS_PY.format(bench_dir=str(BENCH_DIR), start="2025-01-01", rows=1000)
        (scratch / "assets.py").write_text(source)
        materialize = [str(script), "--project", str(scratch), "materialize", "sales_report"]
        materialize += ["--partition", PARTITION]
        built = subprocess.run(materialize, capture_output=True, text=True, env=env, check=False)
        if built.returncode != 0:
            raise SystemExit(f"building {PARTITION} failed:\n{built.stdout}{built.stderr}")

        cases = [
            ("python -c pass", [sys.executable, "-c", "pass"], None),
            ("python -c 'import partita'", [sys.executable, "-c", "import partita"], None),
            ("partita --help", [str(script), "--help"], 0.3),
            ("partita materialize (no-op)", materialize, 0.6),
        ]
        for _, command, _ in cases:  # warm the page cache and .pyc files
            timed(command, 1, env)
        rows = [(label, timed(cmd, args.repeat, env), target) for label, cmd, target in cases]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"\n| command | best (s) | median (s) | target |  ({args.repeat} runs each)")
    print("|---|---:|---:|---|")
    for label, times, target in rows:
        median = statistics.median(times)
        verdict = ""
        if target is not None:
            verdict = f"< {target} s ({'met' if median < target else 'MISSED'})"
        print(f"| `{label}` | {min(times):.3f} | {median:.3f} | {verdict} |")


if __name__ == "__main__":
    main()
