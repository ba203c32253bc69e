"""The materializer, in process, through ``partita.Project`` on small projects.

Every project (the ``make_project`` fixture) gets a fixed clock (2026-05-01 UTC: April's
days are due) and a recording ``sleep``, so retries and lease waits are observed without
waiting.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import partita as pt
from partita.core.plan.status import Freshness
from partita.core.run.batches import LEASE_POLL_S
from partita.core.run.outcomes import UPSTREAM_FAILED
from tests.projects import Sleeps

DAY = "2026-04-08"

HEADER = """\
import logging

import pyarrow as pa
import partita as pt

daily = pt.DailyPartitions(start="2026-04-01", timezone="UTC")
CALLS = []
"""


@pytest.fixture
def definitions_header() -> str:
    return HEADER


def definitions(project: pt.Project) -> Any:
    """The project's loaded definitions module (its ``CALLS`` list, its globals)."""
    name = Path(project.settings.definitions).stem
    project.graph  # noqa: B018 - loading the graph imports the module
    return sys.modules[name]


def partition_files(project: pt.Project) -> dict[str, list[str]]:
    """Every file (hidden ones included) in each partition folder, by relative folder."""
    root = project.root / ".partita" / "data"
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            found.setdefault(str(path.parent.relative_to(root)), []).append(path.name)
    return found


def assert_one_file_per_partition(project: pt.Project) -> None:
    """After a run, every partition folder shows exactly its committed version's file;
    out of sight, only superseded versions' retired files (kept for the grace period)."""
    on_disk = partition_files(project)
    shown: set[str] = set()
    for folder, files in on_disk.items():
        visible = [name for name in files if not name.startswith(".")]
        assert len(visible) == 1, (folder, files)
        assert all(name.endswith(".old") for name in files if name.startswith(".")), files
        shown.add(f"{folder}/{visible[0]}")
    committed: set[str] = set()
    for asset, states in project.catalog.states(project.graph.order).items():
        for version in project.catalog.versions(asset, list(states)).values():
            committed.update(version.files)
    assert shown == committed


def statuses(result: pt.RunResult) -> dict[tuple[str, str], tuple[str, str | None]]:
    return {(o.asset, o.partition): (o.status, o.detail) for o in result.outcomes}


def status_of(project: pt.Project, asset: str, partition: str) -> str:
    """``fresh``, ``stale`` or ``missing`` for one partition (through the public API)."""
    (report,) = project.status([asset], start=partition, end=partition)
    (status,) = (s for s, n in report.counts.items() if n)
    return status


# -- retries, failures and the run record ------------------------------------------------


def test_retries_back_off_exponentially_with_jitter_and_are_recorded(make_project) -> None:
    sleeps = Sleeps()
    project = make_project(
        """
        @pt.asset(partitions=daily, retries=4, retry_delay=0.5)
        def flaky(ctx: pt.Context) -> pa.Table:
            CALLS.append(ctx.attempt)
            if ctx.attempt < 4:
                raise ConnectionError(f"timeout on try {ctx.attempt}")
            return pa.table({"x": [ctx.attempt]})
        """,
        sleep=sleeps,
    )

    result = project.materialize("flaky", DAY)

    assert result.ok and result.status == "succeeded"
    assert definitions(project).CALLS == [1, 2, 3, 4]
    assert len(sleeps) == 3
    for retry, delay in enumerate(sleeps, start=1):
        assert 0 <= delay <= 0.5 * 2 ** (retry - 1), (retry, delay)
    (outcome,) = result.outcomes
    assert (outcome.status, outcome.attempts, outcome.rows) == ("succeeded", 4, 1)
    run = project.run("last")
    assert run.run_id == result.run_id and run.status == "succeeded"
    (step,) = run.steps
    assert [(a.number, a.status, a.error) for a in step.attempts] == [
        (1, "failed", "ConnectionError: timeout on try 1"),
        (2, "failed", "ConnectionError: timeout on try 2"),
        (3, "failed", "ConnectionError: timeout on try 3"),
        (4, "succeeded", None),
    ]
    assert project.read("flaky", DAY).column("x").to_pylist() == [4]
    assert_one_file_per_partition(project)


def test_a_step_that_keeps_failing_fails_after_its_retries(make_project) -> None:
    sleeps = Sleeps()
    project = make_project(
        """
        @pt.asset(partitions=daily, retries=2, retry_delay=2.0)
        def broken(ctx: pt.Context) -> pa.Table:
            raise ValueError(f"bad row on try {ctx.attempt}")
        """,
        sleep=sleeps,
    )

    result = project.materialize("broken", DAY)

    assert not result.ok and result.status == "failed"
    assert statuses(result) == {("broken", DAY): ("failed", "ValueError: bad row on try 3")}
    assert result.outcomes[0].attempts == 3
    assert len(sleeps) == 2 and sleeps[0] <= 2.0 and sleeps[1] <= 4.0
    run = project.run("last")
    assert run.status == "failed"
    assert [a.status for a in run.steps[0].attempts] == ["failed"] * 3
    (report,) = project.status(["broken"], start=DAY, end=DAY)
    assert report.counts["missing"] == 1
    assert report.failed == [(DAY, "ValueError: bad row on try 3")]
    assert partition_files(project) == {}


def test_a_failed_step_skips_exactly_its_downstream(make_project) -> None:
    project = make_project(
        """
        @pt.asset(partitions=daily)
        def bad() -> pa.Table:
            raise RuntimeError("source is down")

        @pt.asset(partitions=daily)
        def bad_child(bad: pa.Table) -> pa.Table:
            return bad

        @pt.asset(partitions=daily)
        def bad_grandchild(bad_child: pa.Table) -> pa.Table:
            return bad_child

        @pt.asset(partitions=daily)
        def good() -> pa.Table:
            return pa.table({"x": [1, 2]})

        @pt.asset(partitions=daily)
        def good_child(good: pa.Table) -> pa.Table:
            return good
        """
    )

    result = project.materialize(["bad_grandchild", "good_child"], DAY)

    assert statuses(result) == {
        ("bad", DAY): ("failed", "RuntimeError: source is down"),
        ("bad_child", DAY): ("skipped", UPSTREAM_FAILED),
        ("bad_grandchild", DAY): ("skipped", UPSTREAM_FAILED),
        ("good", DAY): ("succeeded", None),
        ("good_child", DAY): ("succeeded", None),
    }
    assert result.count("skipped", UPSTREAM_FAILED) == 2
    assert not result.ok and result.status == "failed"
    run = project.run(result.run_id)
    assert run.status == "failed"
    assert run.counts == {"failed": 1, "skipped": 2, "succeeded": 2}
    skipped = [s for s in run.steps if s.status == "skipped"]
    assert {s.detail for s in skipped} == {UPSTREAM_FAILED}
    assert all(s.attempts == () for s in skipped)
    assert project.read("good_child", DAY).column("x").to_pylist() == [1, 2]
    assert set(partition_files(project)) == {f"good/date={DAY}", f"good_child/date={DAY}"}
    assert_one_file_per_partition(project)


def test_the_users_exception_is_recorded_with_its_type_and_message(make_project) -> None:
    project = make_project(
        """
        @pt.asset(partitions=daily)
        def explodes() -> pa.Table:
            raise KeyError("customer_id")
        """
    )

    result = project.materialize("explodes", DAY)

    assert not result.ok
    (outcome,) = result.outcomes
    assert (outcome.status, outcome.detail) == ("failed", "KeyError: 'customer_id'")
    (attempt,) = project.run("last").steps[0].attempts
    assert attempt.error == "KeyError: 'customer_id'"
    errors = [ln.message for ln in project.logs("last") if ln.level == "ERROR"]
    assert errors == ["attempt 1 failed: KeyError: 'customer_id'"]


def test_logs_are_kept_per_attempt(make_project) -> None:
    project = make_project(
        """
        @pt.asset(partitions=daily, retries=1)
        def chatty(ctx: pt.Context) -> pa.Table:
            ctx.log.info("fetching %s, try %d", ctx.partition_key, ctx.attempt)
            logging.getLogger("some.library").warning("slow response on try %d", ctx.attempt)
            logging.getLogger("some.library").debug("not kept: below WARNING")
            if ctx.attempt == 1:
                raise TimeoutError("too slow")
            return pa.table({"x": [1]})

        @pt.asset(partitions=daily)
        def quiet(chatty: pa.Table) -> pa.Table:
            return chatty
        """
    )

    result = project.materialize("quiet", DAY)

    assert result.ok
    lines = [(ln.asset, ln.attempt, ln.level, ln.message) for ln in project.logs("last")]
    assert lines == [
        ("chatty", 1, "INFO", f"fetching {DAY}, try 1"),
        ("chatty", 1, "WARNING", "slow response on try 1"),
        ("chatty", 1, "ERROR", "attempt 1 failed: TimeoutError: too slow"),
        ("chatty", 2, "INFO", f"fetching {DAY}, try 2"),
        ("chatty", 2, "WARNING", "slow response on try 2"),
    ]
    step_ids = {s.asset: s.step_id for s in project.run("last").steps}
    assert {ln.step_id for ln in project.logs("last")} == {step_ids["chatty"]}
    assert project.logs("last", "quiet") == []
    assert project.logs("last", "chatty", "2026-04-09") == []
    assert len(project.logs(result.run_id, "chatty", DAY)) == 5


# -- data versions and the re-check --------------------------------------------------------

REBUILDS = """
VALUE = [1]

@pt.asset(partitions=daily)
def up() -> pa.Table:
    CALLS.append("up")
    return pa.table({"v": VALUE})

@pt.asset(partitions=daily)
def down(up: pa.Table) -> pa.Table:
    CALLS.append("down")
    return up
"""


def test_a_rebuild_with_identical_data_leaves_downstream_fresh(make_project) -> None:
    project = make_project(REBUILDS)
    assert project.materialize("down", DAY).ok
    before = project.catalog.versions("up", [DAY])[DAY]

    rebuilt = project.materialize("up", DAY, force=True)

    assert statuses(rebuilt) == {("up", DAY): ("succeeded", None)}
    after = project.catalog.versions("up", [DAY])[DAY]
    assert after.version_id != before.version_id
    assert after.data_version == before.data_version
    assert status_of(project, "down", DAY) == Freshness.FRESH
    assert project.plan(["down"], DAY).empty
    assert definitions(project).CALLS == ["up", "down", "up"]
    assert_one_file_per_partition(project)


def test_a_rebuild_with_different_data_makes_downstream_stale(make_project) -> None:
    project = make_project(REBUILDS)
    assert project.materialize("down", DAY).ok
    definitions(project).VALUE[:] = [2]

    assert project.materialize("up", DAY, force=True).ok

    assert status_of(project, "down", DAY) == "stale"
    (report,) = project.status(["down"], start=DAY, end=DAY)
    assert report.stale == [(DAY, "upstream changed: up")]
    planned = project.plan(["down"], DAY)
    assert [(s.asset, s.partition, s.kind) for s in planned.steps] == [
        ("down", DAY, "upstream changed")
    ]
    assert project.apply(planned).ok
    assert project.read("down", DAY).column("v").to_pylist() == [2]
    assert project.plan(["down"], DAY).empty
    assert_one_file_per_partition(project)


def test_a_step_built_by_another_writer_after_planning_is_skipped_as_fresh(
    make_project,
) -> None:
    first = make_project(REBUILDS)
    second = make_project(root=first.root)
    planned = first.plan(["down"], DAY)
    assert [(s.asset, s.partition) for s in planned.steps] == [("up", DAY), ("down", DAY)]

    assert second.materialize("down", DAY).ok
    result = first.apply(planned)

    assert statuses(result) == {
        ("up", DAY): ("skipped", Freshness.FRESH),
        ("down", DAY): ("skipped", Freshness.FRESH),
    }
    assert result.ok
    assert {s.detail for s in first.run(result.run_id).steps} == {Freshness.FRESH}
    for asset in ("up", "down"):
        assert len(first.catalog.reports.versions_of(asset, [DAY])) == 1
    assert_one_file_per_partition(first)


def test_a_forced_target_is_rebuilt_even_when_fresh(make_project) -> None:
    project = make_project(REBUILDS)
    assert project.materialize("down", DAY).ok

    result = project.materialize("down", DAY, force=True)

    assert statuses(result) == {("down", DAY): ("succeeded", None)}
    assert len(project.catalog.reports.versions_of("down", [DAY])) == 2
    assert_one_file_per_partition(project)


# -- schemas and output formats ----------------------------------------------------------


def test_a_schema_violation_fails_without_retry_and_commits_nothing(make_project) -> None:
    sleeps = Sleeps()
    project = make_project(
        """
        from pydantic import BaseModel

        class Order(BaseModel):
            order_id: int
            amount: float

        @pt.asset(partitions=daily, schema=Order, retries=3)
        def orders() -> pa.Table:
            CALLS.append("orders")
            return pa.table({"order_id": ["A-1", "A-2"], "amount": [1.0, 2.0]})
        """,
        sleep=sleeps,
    )

    result = project.materialize("orders", DAY)

    assert not result.ok and result.status == "failed"
    (outcome,) = result.outcomes
    assert outcome.status == "failed" and outcome.attempts == 1
    assert outcome.detail.startswith("SchemaError: ")
    assert "column 'order_id' is string, schema wants int64" in outcome.detail
    assert definitions(project).CALLS == ["orders"]
    assert sleeps == []
    assert project.run("last").status == "failed"
    assert project.catalog.versions("orders", [DAY]) == {}
    assert project.catalog.states(["orders"])["orders"][DAY].version_id is None
    assert partition_files(project) == {}


def test_text_output_is_stored_with_its_format_and_read_back(make_project) -> None:
    project = make_project(
        """
        @pt.asset(partitions=daily)
        def sales() -> pa.Table:
            return pa.table({"amount": [1.5, 2.5]})

        @pt.asset(partitions=daily, format="md")
        def report(ctx: pt.Context, sales: pa.Table) -> str:
            return f"# Sales {ctx.partition_key}\\n\\n{sales.num_rows} orders\\n"
        """
    )

    assert project.materialize("report", DAY).ok

    version = project.catalog.versions("report", [DAY])[DAY]
    assert partition_files(project)[f"report/date={DAY}"] == [f"part-{version.version_id}.md"]
    assert project.read("report", DAY) == f"# Sales {DAY}\n\n2 orders\n"
    assert_one_file_per_partition(project)


def test_dict_output_is_stored_as_json(make_project) -> None:
    project = make_project(
        """
        @pt.asset(partitions=daily)
        def metrics(ctx: pt.Context) -> dict:
            return {"day": ctx.partition_key, "counts": [3, 1], "ok": True}
        """
    )

    assert project.materialize("metrics", DAY).ok

    version = project.catalog.versions("metrics", [DAY])[DAY]
    (name,) = partition_files(project)[f"metrics/date={DAY}"]
    assert name == f"part-{version.version_id}.json"
    assert version.kind == "json"
    assert project.read("metrics", DAY) == {"day": DAY, "counts": [3, 1], "ok": True}


# -- partition mappings ------------------------------------------------------------------

MAPPINGS = """
@pt.asset(partitions=daily)
def sales(ctx: pt.Context) -> pa.Table:
    return pa.table({"day": [ctx.partition_key], "amount": [float(ctx.partition.start.day)]})

@pt.asset(deps={"sales": pt.AllPartitions()})
def total(sales: pa.Table) -> pa.Table:
    CALLS.append(type(sales).__name__)
    return sales

@pt.asset(partitions=daily, deps={"sales": pt.Window(days=3)})
def rolling(sales: pa.Table) -> pa.Table:
    CALLS.append(type(sales).__name__)
    return sales
"""


def test_an_unpartitioned_asset_over_all_partitions_gets_one_table(make_project) -> None:
    project = make_project(MAPPINGS)

    result = project.materialize("total")

    assert result.ok
    assert result.count("succeeded") == 31  # 30 days of April, then the total
    assert definitions(project).CALLS == ["Table"]
    table = project.read("total")
    april = [f"2026-04-{d:02d}" for d in range(1, 31)]
    assert table.column("day").to_pylist() == april
    assert table.column("amount").to_pylist() == [float(d) for d in range(1, 31)]
    assert "total" in partition_files(project)
    assert_one_file_per_partition(project)


def test_a_window_receives_its_days_as_one_table_clipped_at_the_start(make_project) -> None:
    project = make_project(MAPPINGS)

    assert project.materialize("rolling", DAY).ok
    assert project.materialize("rolling", "2026-04-02").ok
    assert project.materialize("rolling", "2026-04-01").ok

    assert definitions(project).CALLS == ["Table"] * 3
    days = {key: project.read("rolling", key).column("day").to_pylist() for key in (DAY,)}
    assert days[DAY] == ["2026-04-06", "2026-04-07", "2026-04-08"]
    assert project.read("rolling", "2026-04-02").column("day").to_pylist() == [
        "2026-04-01",
        "2026-04-02",
    ]
    assert project.read("rolling", "2026-04-01").column("day").to_pylist() == ["2026-04-01"]
    assert status_of(project, "rolling", "2026-04-01") == Freshness.FRESH
    assert_one_file_per_partition(project)


# -- executors ---------------------------------------------------------------------------

DIAMOND = """
import pyarrow.compute as pc

@pt.asset(partitions=daily)
def raw(ctx: pt.Context) -> pa.Table:
    n = ctx.partition.start.day
    return pa.table({"id": list(range(n)), "amount": [i * 1.5 for i in range(n)]})

@pt.asset(partitions=daily)
def big(raw: pa.Table) -> pa.Table:
    return raw.filter(pc.greater(raw["amount"], 3.0))

@pt.asset(partitions=daily)
def counted(raw: pa.Table) -> dict:
    return {"rows": raw.num_rows}

@pt.asset(partitions=daily, deps={"big": pt.Window(days=2)}, format="md")
def report(big: pa.Table, counted: dict) -> str:
    return f"{big.num_rows} big of {counted['rows']}"
"""


def test_inline_and_threads_executors_give_the_same_results(make_project) -> None:
    inline = make_project(DIAMOND)
    threads = make_project(DIAMOND)

    a = inline.backfill(
        "report", "2026-04-01", "2026-04-10", options=pt.RunOptions(executor="inline")
    )
    b = threads.backfill("report", "2026-04-01", "2026-04-10", options=pt.RunOptions(workers=4))

    assert a.ok and b.ok
    assert a.count("succeeded") == b.count("succeeded") == 40
    assert sorted(statuses(a).items()) == sorted(statuses(b).items())
    assets = ["raw", "big", "counted", "report"]
    versions = [
        {asset: {k: s.data_version for k, s in keys.items()} for asset, keys in states.items()}
        for states in (inline.catalog.states(assets), threads.catalog.states(assets))
    ]
    assert versions[0] == versions[1]
    assert inline.read("report", "2026-04-10") == threads.read("report", "2026-04-10")
    for project in (inline, threads):
        assert_one_file_per_partition(project)
        assert project.plan(["report"], start="2026-04-01", end="2026-04-10").empty


# -- leases ------------------------------------------------------------------------------


def test_a_lease_held_by_another_live_owner_makes_the_step_wait(make_project) -> None:
    held: dict[str, int] = {}
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 1:
            project.catalog.release("up", DAY, "other", held["token"])
        if len(sleeps) > 50:  # safety net: never spin forever on a lease
            raise RuntimeError("the lease was never granted")

    project = make_project(REBUILDS, sleep=sleep)
    token = project.catalog.acquire("up", DAY, "other")
    assert token is not None
    held["token"] = token
    outcome: list[pt.RunResult] = []
    finished = threading.Event()

    def run() -> None:
        try:
            outcome.append(project.materialize("up", DAY))
        finally:
            finished.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert finished.wait(timeout=60), "the materializer never finished"
    thread.join()

    (result,) = outcome
    assert result.ok
    assert sleeps == [LEASE_POLL_S]
    assert definitions(project).CALLS == ["up"]
    (version,) = project.catalog.reports.versions_of("up", [DAY])
    assert version.run_id == result.run_id
    assert len(project.run("last").steps[0].attempts) == 1
    assert project.catalog.acquire("up", DAY, "next") == token + 2
    assert_one_file_per_partition(project)


def test_a_batch_waits_for_a_held_lease_only_after_its_other_steps_released_theirs(
    make_project,
) -> None:
    # Two writers whose batches overlap must never each hold a lease the other waits for.
    days = ["2026-04-06", "2026-04-07", "2026-04-08"]
    held: dict[str, int] = {}
    seen: list[dict[str, bool]] = []

    def sleep(seconds: float) -> None:
        if not seen:  # waiting for 04-07: the other days are built and their leases free
            seen.append({d: project.catalog.acquire("up", d, "probe") is not None for d in days})
            for day in (days[0], days[2]):
                token = project.catalog.acquire("up", day, "probe")
                project.catalog.release("up", day, "probe", token)
            project.catalog.release("up", days[1], "other", held["token"])
        elif len(seen) > 50:
            raise RuntimeError("the lease was never granted")

    project = make_project(
        """
        @pt.asset(partitions=daily)
        def up(ctx: pt.Context) -> pa.Table:
            return pa.table({"day": [ctx.partition_key]})
        """,
        sleep=sleep,
    )
    held["token"] = project.catalog.acquire("up", days[1], "other")

    result = project.backfill("up", days[0], days[2])

    assert result.ok and result.count("succeeded") == 3
    assert seen[0] == {days[0]: True, days[1]: False, days[2]: True}
    assert_one_file_per_partition(project)


def test_a_step_that_waited_for_another_writer_is_skipped_when_that_writer_built_it(
    make_project,
) -> None:
    held: dict[str, int] = {}
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 1:  # the other writer finishes: it builds the partition
            project.catalog.release("up", DAY, "other", held["token"])
            assert make_project(root=project.root).materialize("up", DAY).ok
        if len(sleeps) > 50:
            raise RuntimeError("the lease was never granted")

    project = make_project(REBUILDS, sleep=sleep)
    held["token"] = project.catalog.acquire("up", DAY, "other")

    result = project.materialize("up", DAY)

    assert statuses(result) == {("up", DAY): ("skipped", Freshness.FRESH)}
    assert sleeps == [LEASE_POLL_S]
    assert definitions(project).CALLS == ["up"]
    assert len(project.catalog.reports.versions_of("up", [DAY])) == 1
    assert_one_file_per_partition(project)


def test_a_writer_that_lost_its_lease_commits_nothing(make_project) -> None:
    sleeps = Sleeps()
    project = make_project(
        """
        STEAL = []

        @pt.asset(partitions=daily, retries=2)
        def victim() -> pa.Table:
            while STEAL:
                STEAL.pop()()
            return pa.table({"x": [1]})
        """,
        sleep=sleeps,
    )
    thief = make_project(root=project.root).catalog
    stolen: list[int | None] = []

    def steal() -> None:  # the lease expires mid-step and another writer takes it over
        path = project.root / ".partita" / "catalog.db"
        with contextlib.closing(sqlite3.connect(path)) as db, db:
            db.execute("UPDATE partitions SET lease_expires = lease_expires - 3600")
        stolen.append(thief.acquire("victim", DAY, "thief"))

    definitions(project).STEAL.append(steal)

    result = project.materialize("victim", DAY)

    (outcome,) = result.outcomes
    assert outcome.status == "failed" and outcome.attempts == 1  # not retried
    assert "lease lost" in outcome.detail
    assert sleeps == []
    assert stolen[0] is not None
    assert project.catalog.versions("victim", [DAY]) == {}
    assert partition_files(project) == {}  # the written file was removed
    assert project.catalog.acquire("victim", DAY, "third") is None  # the thief still holds it
    assert not result.ok and project.run("last").status == "failed"


def test_a_failed_rebuild_keeps_the_previous_version(make_project) -> None:
    project = make_project(
        """
        FAIL = []

        @pt.asset(partitions=daily)
        def sometimes() -> pa.Table:
            if FAIL:
                raise RuntimeError("broken today")
            return pa.table({"x": [1, 2, 3]})
        """
    )
    assert project.materialize("sometimes", DAY).ok
    before = partition_files(project)
    definitions(project).FAIL.append(True)

    result = project.materialize("sometimes", DAY, force=True)

    assert not result.ok
    assert partition_files(project) == before
    assert project.read("sometimes", DAY).column("x").to_pylist() == [1, 2, 3]
    (report,) = project.status(["sometimes"], start=DAY, end=DAY)
    assert report.counts["fresh"] == 1
    assert report.failed == [(DAY, "RuntimeError: broken today")]


def test_leftovers_of_a_crashed_writer_are_removed_by_the_next_build(make_project) -> None:
    project = make_project(REBUILDS)
    assert project.materialize("up", DAY).ok
    folder = project.root / ".partita" / "data" / "up" / f"date={DAY}"
    (folder / ".part-01CRASHED0000000000000000.parquet.tmp").write_bytes(b"half")
    (folder / "part-01ABANDONED000000000000000.parquet").write_bytes(b"never committed")

    (old,) = [
        p.name
        for p in folder.iterdir()
        if p.name.startswith("part-0") and "ABANDONED" not in p.name
    ]

    assert project.materialize("up", DAY, force=True).ok

    version = project.catalog.versions("up", [DAY])[DAY]
    # The superseded version stays out of sight for the grace period; the rest is gone.
    expected = [f".{old}.old", f"part-{version.version_id}.parquet"]
    assert sorted(p.name for p in folder.iterdir()) == expected


def test_logs_of_parallel_steps_stay_with_their_attempt(make_project) -> None:
    project = make_project(
        """
        import threading

        TOGETHER = threading.Barrier(4)

        @pt.asset(partitions=daily)
        def noisy(ctx: pt.Context) -> pa.Table:
            TOGETHER.wait(timeout=60)  # four steps really run at once
            for i in range(20):
                ctx.log.info("%s line %d", ctx.partition_key, i)
                logging.getLogger("a.library").warning("%s warning %d", ctx.partition_key, i)
            return pa.table({"day": [ctx.partition_key]})
        """
    )

    result = project.backfill("noisy", "2026-04-01", "2026-04-08", options=pt.RunOptions(workers=4))

    assert result.ok, result.outcomes
    lines = project.logs("last")
    assert len(lines) == 8 * 40
    for line in lines:
        assert line.message.startswith(line.partition), line
        assert line.attempt == 1
    step_ids = {s.partition: s.step_id for s in project.run("last").steps}
    assert all(line.step_id == step_ids[line.partition] for line in lines)


ONE_JSON_ASSET = """
@pt.asset(partitions=daily)
def a():
    return {"n": 1}
"""


def test_a_cleanup_failure_after_the_commit_does_not_fail_the_step(
    make_project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(ONE_JSON_ASSET)
    store = project.store

    def broken_listing(*args: Any, **kwargs: Any) -> list[str]:
        raise pt.StorageError("listing failed: permission denied")

    monkeypatch.setattr(store, "folder", broken_listing)
    result = project.materialize("a", DAY)
    assert result.ok
    assert project.read("a", DAY) == {"n": 1}
    logs = [line.message for line in project.logs("last")]
    assert any("could not tidy the partition's folder" in message for message in logs)


def test_the_lease_is_held_until_the_committed_version_is_published(
    make_project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(ONE_JSON_ASSET)
    store = project.store
    seen: list[tuple[int | None, str | None]] = []
    publish = store.publish

    def publish_while_another_writer_tries(*args: Any, **kwargs: Any) -> None:
        current = project.catalog.versions("a", [DAY])[DAY].version_id
        seen.append((project.catalog.acquire("a", DAY, "another-writer"), current))
        publish(*args, **kwargs)

    monkeypatch.setattr(store, "publish", publish_while_another_writer_tries)
    result = project.materialize("a", DAY)
    assert result.ok
    # Published after the commit, while the partition was still leased.
    (version_id,) = [v.version_id for v in project.catalog.reports.versions_of("a", [DAY])]
    assert seen == [(None, version_id)]
    assert project.catalog.acquire("a", DAY, "another-writer") is not None
