"""Reads never write: every read of the catalog works on a database opened read-only
(SQLite: a ``mode=ro`` URI; PostgreSQL: ``default_transaction_read_only``), on a
catalog holding a bit of everything, a run whose process died included."""

from __future__ import annotations

import pytest

from partita.errors import CatalogError
from partita.storage import AttemptEnd, Catalog, LogLine
from partita.storage.catalog import ticks
from partita.storage.catalog.leases import Leases
from tests.storage.conftest import CatalogFactory, build, exited_pid, new_version

A, B = "sales", "clean"
DAY1, DAY2 = "2026-04-01", "2026-04-02"
CUSTOMERS = "customers"


def fill(catalog: Catalog, make_catalog: CatalogFactory) -> None:
    """A bit of everything: versions, a run with attempts and logs, a crashed run,
    dynamic keys, a tick and cursors, a held partition lease and a named one."""
    build(catalog, A, DAY1, new_version("v1", "d1"))
    build(catalog, A, DAY1, new_version("v2", "d2"))  # v1 superseded
    build(catalog, B, DAY1, new_version("b1", "e1"))
    ids = catalog.create_run("run-1", "backfill", [A], [(A, DAY2, "missing")])
    (token,) = catalog.acquire_many([(A, DAY2)], "run-1")
    assert token is not None
    (attempt,) = catalog.start_attempts("run-1", [(ids[(A, DAY2)], 1)])
    line = LogLine("run-1", ids[(A, DAY2)], 1, A, DAY2, 1.0, "INFO", "built")
    end = AttemptEnd(attempt, ids[(A, DAY2)], A, DAY2, token, (line,), new_version("v3"))
    catalog.finish_attempts("run-1", [end])
    catalog.finish_run("run-1", "succeeded")
    catalog.create_run("dead-run", "backfill", [B], [(B, DAY2, "missing")])
    assert catalog.acquire(B, DAY2, "dead-run") is not None
    make_catalog.sql("UPDATE runs SET pid = ? WHERE id = ?", exited_pid(), "dead-run")
    catalog.add_dynamic_keys(CUSTOMERS, ["acme", "globex"])
    tick = ticks.record_tick(catalog, "host:1:ab", 1.0, [{"source": "s", "requests": []}])
    ticks.finish_tick(catalog, tick, "succeeded", ["run-1"])
    ticks.set_cursors(catalog, {"schedule:daily": '"2026-04-01"'})
    assert Leases(catalog).acquire("daemon", "host:1:ab") is not None


def test_every_read_works_on_a_read_only_database(make_catalog: CatalogFactory) -> None:
    fill(make_catalog(), make_catalog)
    catalog = make_catalog(read_only=True)

    assert catalog.url
    assert set(catalog.states([A, B])[A]) == {DAY1, DAY2}
    assert catalog.states_of({A: [DAY1], B: []})[A][DAY1].version_id == "v2"
    assert catalog.versions(A, [DAY1, DAY2])[DAY1].version_id == "v2"
    assert catalog.dynamic_keys([CUSTOMERS]) == {CUSTOMERS: ("acme", "globex")}
    statuses = {run.run_id: run.status for run in catalog.runs()}
    assert statuses["run-1"] == "succeeded" and statuses["dead-run"] == "crashed"
    assert catalog.run("dead-run").status == "crashed"
    assert catalog.run("last") is not None and catalog.run("run-1").steps
    assert [line.message for line in catalog.logs("run-1", A, DAY2)] == ["built"]
    assert ticks.ticks(catalog)[0].run_ids == ("run-1",)
    assert ticks.cursors(catalog, ["schedule:daily"]) == {"schedule:daily": '"2026-04-01"'}
    assert ticks.cursor(catalog, "eager:sales") is None
    assert (B, DAY2) in ticks.leased_partitions(catalog)
    assert Leases(catalog).holder("daemon") is not None
    reports = catalog.reports
    assert {table.asset for table in reports.table_files()} == {A, B}
    assert [v.status for v in reports.versions_of(A, [DAY1])] == ["committed", "superseded"]
    assert {s.partition for s in reports.partition_stats(A, None)} == {DAY1, DAY2}
    assert {s.run_id: s.status for s in reports.run_stats(10)}["dead-run"] == "crashed"
    totals = reports.totals(5)
    assert totals.runs["crashed"] == 1 and (B, "crashed") in totals.steps
    maintenance = catalog.maintenance
    assert maintenance.now() > 0
    held = {(lease.asset, lease.partition): lease for lease in maintenance.references().leases}
    assert held[(B, DAY2)].orphaned

    # What was read was derived: the dead run is still recorded running.
    assert make_catalog.sql("SELECT status FROM runs WHERE id = 'dead-run'") == [("running",)]


def test_the_read_only_database_refuses_writes(make_catalog: CatalogFactory) -> None:
    make_catalog()  # creates the schema
    catalog = make_catalog(read_only=True)

    with pytest.raises(CatalogError):
        catalog.add_dynamic_keys(CUSTOMERS, ["acme"])
    with pytest.raises(CatalogError):
        catalog.create_run("run-1", "materialize", [A], [])
