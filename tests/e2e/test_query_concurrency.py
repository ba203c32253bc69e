"""``partita query`` gives correct totals, and stays consistent while another process
force-rebuilds the table it reads: never a row twice, never a partition missing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tests.conftest import catalog_query, cli_env

DAYS = ("2026-04-01", "2026-04-05")
SQL = "select day, sum(amount) as total, count(*) as n from clean_sales group by 1 order by 1"
WANTED_OVERLAPS = 20
WAIT_S = 300  # for the overlaps: only a rebuilder that never commits gets near it

REBUILDER = """
import sys
from pathlib import Path
import partita as pt

stop = Path(sys.argv[2])
with pt.Project(sys.argv[1]) as project:
    while not stop.exists():
        result = project.backfill("clean_sales", sys.argv[3], sys.argv[4], force=True)
        assert result.ok, result
        print(result.run_id, flush=True)
"""


def expected_totals(project: Path) -> dict[str, tuple[float, int]]:
    """Per day: the total amount and the row count, from Project.read and pyarrow."""
    from partita import Project

    with Project(project) as opened:
        totals = {}
        for day in opened.partitions("clean_sales", start=DAYS[0], end=DAYS[1]):
            table = opened.read("clean_sales", day)
            totals[day] = (pc.sum(table["amount"]).as_py(), table.num_rows)
    return totals


def as_totals(table: pa.Table) -> dict[str, tuple[float, int]]:
    return {str(r["day"]): (r["total"], r["n"]) for r in table.to_pylist()}


def assert_same(found: dict[str, tuple[float, int]], wanted: dict[str, tuple[float, int]]) -> None:
    assert found.keys() == wanted.keys()
    for day, (total, rows) in wanted.items():
        assert found[day][1] == rows, f"{day}: {found[day][1]} rows, expected {rows}"
        assert found[day][0] == pytest.approx(total, rel=1e-9), day


def current_versions(project: Path) -> set[str]:
    rows = catalog_query(
        project,
        "select version_id from partitions where asset = 'clean_sales' and version_id is not null",
    )
    return {version for (version,) in rows}


def test_query_totals_match_pyarrow(
    sales: Path, run_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    built = run_cli(sales, "backfill", "clean_sales", "--from", DAYS[0], "--to", DAYS[1])
    assert built.returncode == 0, built.stderr
    done = run_cli(sales, "query", SQL, "--format", "json")
    assert done.returncode == 0, done.stderr
    found = {r["day"]: (r["total"], r["n"]) for r in json.loads(done.stdout)}
    assert_same(found, expected_totals(sales))


def test_queries_stay_consistent_while_rebuilt(
    sales: Path,
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    from partita import Project
    from partita.core.observe.query import Querier

    built = run_cli(sales, "backfill", "clean_sales", "--from", DAYS[0], "--to", DAYS[1])
    assert built.returncode == 0, built.stderr
    wanted = expected_totals(sales)
    stop = tmp_path / "stop"
    rebuilder = subprocess.Popen(
        [sys.executable, "-c", REBUILDER, str(sales), str(stop), *DAYS],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    queries = overlapped = retried = 0
    attempts: dict[int, int] = {}
    # As many queries as it takes, however the machine shares itself between the two.
    deadline = time.monotonic() + WAIT_S
    try:
        with Project(sales) as project:
            querier = Querier(project.catalog, project.store)
            while overlapped < WANTED_OVERLAPS and time.monotonic() < deadline:
                assert rebuilder.poll() is None, rebuilder.communicate()[1]
                before = current_versions(sales)
                result = querier.query(SQL)
                queries += 1
                overlapped += current_versions(sales) != before or result.attempts > 1
                retried += result.attempts > 1
                attempts[result.attempts] = attempts.get(result.attempts, 0) + 1
                assert_same(as_totals(result.table), wanted)
    finally:
        stop.touch()
        out, err = rebuilder.communicate(timeout=120)
    assert rebuilder.returncode == 0, err
    rebuilds = len(out.split())
    report = (
        f"{queries} queries, {overlapped} overlapped a commit of a rebuild "
        f"({retried} retried after a removed file), {rebuilds} rebuilds"
    )
    report += f"; runs per query: {dict(sorted(attempts.items()))}"
    print(report)
    record_property("query_concurrency", report)
    assert overlapped >= WANTED_OVERLAPS, report
    assert rebuilds >= 1, report


def test_query_sees_no_leftover_files(
    sales: Path, run_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    """A stray parquet file in a partition folder (a crashed writer's) is not read."""
    built = run_cli(sales, "backfill", "clean_sales", "--from", DAYS[0], "--to", DAYS[1])
    assert built.returncode == 0, built.stderr
    folder = sales / ".partita" / "data" / "clean_sales" / f"date={DAYS[0]}"
    original = next(folder.glob("part-*.parquet"))
    (folder / "part-00000000000000000000000000.parquet").write_bytes(original.read_bytes())
    done = run_cli(sales, "query", SQL, "--format", "json")
    assert done.returncode == 0, done.stderr
    found = {r["day"]: (r["total"], r["n"]) for r in json.loads(done.stdout)}
    assert_same(found, expected_totals(sales))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("select * from nope",), "error: no table nope: "),
        (
            ("select nope from clean_sales",),
            'error: the query failed: Binder Error: Referenced column "nope"',
        ),
        (("select 1", "--format", "xml"), "error: --format xml is not one of table, csv, json"),
    ],
)
def test_query_errors_are_one_line_and_exit_2(
    sales: Path,
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
    args: tuple[str, ...],
    message: str,
) -> None:
    built = run_cli(sales, "materialize", "clean_sales", "--partition", DAYS[0])
    assert built.returncode == 0, built.stderr
    failed = run_cli(sales, "query", *args)
    assert failed.returncode == 2
    assert failed.stderr.startswith(message)
    assert len(failed.stderr.strip().splitlines()) == 1 and not failed.stdout
