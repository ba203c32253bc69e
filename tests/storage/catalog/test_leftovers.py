"""What a writer that dies leaves in the catalog: the lease it holds until it has published.

``finish_attempts(hold=True)`` commits a version and keeps its lease with the writer,
which gives it back with ``release_many`` once the files are published; a writer that
dies in between leaves the lease, and ``CatalogLeftovers.abandoned`` finds it (expired,
or held by a run that is no longer running). On SQLite and PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import text

from partita.storage import AttemptEnd, Catalog, NewVersion
from partita.storage.catalog.leftovers import AbandonedLease, CatalogLeftovers

A = "sales"
DAY1, DAY2, DAY3 = "2026-04-01", "2026-04-02", "2026-04-03"


def version(version_id: str) -> NewVersion:
    return NewVersion(
        version_id=version_id,
        kind="parquet",
        files=(f"{A}/date=x/part-{version_id}.parquet",),
        rows=1,
        bytes=10,
        data_version="d",
        code_version="c",
        input_hash="i",
        inputs={},
        run_id="run-1",
    )


def commit_holding(catalog: Catalog, keys: list[str]) -> list[int]:
    """Run ``run-1`` over ``keys``: each commits a version, its lease held."""
    ids = catalog.create_run("run-1", "backfill", [A], [(A, k, "missing") for k in keys])
    tokens = catalog.acquire_many([(A, k) for k in keys], "run-1")
    steps = [ids[(A, k)] for k in keys]
    attempts = catalog.start_attempts("run-1", [(step, 1) for step in steps])
    ends = [
        AttemptEnd(attempt, step, A, key, token, version=version(f"v-{key}"))
        for attempt, step, key, token in zip(attempts, steps, keys, tokens, strict=True)
    ]
    assert catalog.finish_attempts("run-1", ends, hold=True) == [None] * len(keys)
    return [token for token in tokens if token is not None]


def test_a_committed_version_keeps_its_lease_until_released(make_catalog) -> None:
    catalog = make_catalog()
    tokens = commit_holding(catalog, [DAY1, DAY2])
    assert catalog.states([A])[A][DAY1].version_id == f"v-{DAY1}"  # committed
    assert catalog.acquire(A, DAY1, "another") is None  # still held by its writer
    assert CatalogLeftovers(catalog).abandoned() == []  # a live writer's

    catalog.release_many("run-1", [(A, DAY1, tokens[0]), (A, DAY2, tokens[1] + 1)])

    assert catalog.acquire(A, DAY1, "another") is not None
    assert catalog.acquire(A, DAY2, "another") is None  # not its token: kept


def test_leases_of_a_run_that_died_are_abandoned(make_catalog) -> None:
    catalog = make_catalog()
    commit_holding(catalog, [DAY1, DAY2])
    exited = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    with catalog.transaction("pretending run-1 died") as conn:
        conn.execute(text(f"UPDATE runs SET pid = {int(exited.stdout)} WHERE id = 'run-1'"))
    assert catalog.acquire(A, DAY3, "live-writer") is not None  # this process: alive

    found = CatalogLeftovers(catalog).abandoned()

    assert sorted(found, key=lambda lease: lease.partition) == [
        AbandonedLease(A, DAY1, "run-1"),
        AbandonedLease(A, DAY2, "run-1"),
    ]


def test_an_expired_lease_is_abandoned_whoever_held_it(make_catalog) -> None:
    catalog = make_catalog()
    assert catalog.acquire(A, DAY1, "elsewhere:1:abc") is not None
    with catalog.transaction("expiring it") as conn:
        conn.execute(text("UPDATE partitions SET lease_expires = lease_expires - 3600"))
    assert CatalogLeftovers(catalog).abandoned() == [AbandonedLease(A, DAY1, "elsewhere:1:abc")]


def test_committed_tells_which_versions_were_ever_committed(make_catalog) -> None:
    catalog = make_catalog()
    commit_holding(catalog, [DAY1])
    leftovers = CatalogLeftovers(catalog)
    assert leftovers.committed({f"v-{DAY1}", "never"}) == {f"v-{DAY1}"}
    assert leftovers.committed(set()) == set()
