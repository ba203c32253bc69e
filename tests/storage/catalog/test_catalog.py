"""The catalog: partition state, leases and fencing, commits, runs and logs.

The contract lives in one class parametrized by a ``make_catalog`` factory, so a
PostgreSQL backend only needs another fixture parameter. Nothing here sleeps: expired
leases are made with a negative ``lease_seconds`` (or an UPDATE of ``lease_expires``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

from partita.errors import CatalogError, ConfigError, LeaseLostError
from partita.storage import AttemptEnd, Catalog, LogLine, NewVersion, PartitionState
from partita.storage.catalog.engine import redact_url
from tests.conftest import postgres_url

A, B, C = "sales", "clean", "report"
DAY1, DAY2, DAY3 = "2026-04-01", "2026-04-02", "2026-04-03"
PASSWORD = "s3cr3t-pw"
CUSTOMERS, REGIONS = "customers", "regions"


def new_version(version_id: str, data: str = "d1", *, code: str = "c1", run: str = "run-1"):
    return NewVersion(
        version_id=version_id,
        kind="parquet",
        files=(f"asset/date=x/part-{version_id}.parquet",),
        rows=10,
        bytes=1234,
        data_version=data,
        code_version=code,
        input_hash=f"in-{data}",
        inputs={"upstream": {DAY1: "u1"}},
        run_id=run,
    )


def build(catalog: Catalog, asset: str, partition: str, version: NewVersion, owner: str = "w"):
    """Take the lease, commit ``version`` and release (what a successful step does)."""
    token = catalog.acquire(asset, partition, owner)
    assert token is not None
    catalog.commit(asset, partition, owner, token, version)
    catalog.release(asset, partition, owner, token)


@contextlib.contextmanager
def count_selects() -> Iterator[list[str]]:
    """Collect the SELECT statements any engine executes inside the block."""
    selects: list[str] = []

    def record(_conn, _cursor, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield selects
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def exited_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(timeout=60)
    return process.pid


class TestCatalog:
    """The contract every catalog backend keeps."""

    # -- partition state ----------------------------------------------------------

    def test_a_batch_is_leased_committed_and_recorded_partition_by_partition(
        self, make_catalog
    ) -> None:
        catalog = make_catalog()
        build(catalog, A, DAY3, new_version("v0"))
        held = catalog.acquire(A, DAY2, "other-writer")
        ids = catalog.create_run(
            "run-1", "backfill", [A], [(A, d, "missing") for d in (DAY1, DAY2, DAY3)]
        )

        tokens = catalog.acquire_many([(A, DAY1), (A, DAY2), (A, DAY3)], "run-1")

        assert tokens[0] == 1 and tokens[1] is None and tokens[2] == 2 and held == 1
        first, third = ids[(A, DAY1)], ids[(A, DAY3)]
        attempts = catalog.start_attempts("run-1", [(first, 1), (third, 1)])
        assert len(set(attempts)) == 2
        line = LogLine("run-1", first, 1, A, DAY1, 1.0, "INFO", "built")
        ends = [
            AttemptEnd(attempts[0], first, A, DAY1, 1, (line,), new_version("v1")),
            AttemptEnd(attempts[1], third, A, DAY3, 1, (), new_version("v3")),  # stale token
        ]
        results = catalog.finish_attempts("run-1", ends)

        assert results[0] is None and isinstance(results[1], LeaseLostError)
        states = catalog.states([A])[A]
        assert states[DAY1].version_id == "v1" and states[DAY3].version_id == "v0"
        assert catalog.acquire(A, DAY1, "someone-else") is not None  # released
        assert catalog.acquire(A, DAY3, "someone-else") is None  # still run-1's: not its token
        steps = {(s.asset, s.partition): s for s in catalog.run("run-1").steps}
        assert (steps[(A, DAY1)].status, steps[(A, DAY1)].version_id) == ("succeeded", "v1")
        assert steps[(A, DAY3)].status == "failed" and "lease lost" in steps[(A, DAY3)].detail
        assert steps[(A, DAY2)].status == "pending"
        assert [ln.message for ln in catalog.logs("run-1", A, DAY1)] == ["built"]

    def test_a_failed_attempt_keeps_the_lease_for_its_retry(self, make_catalog) -> None:
        catalog = make_catalog()
        ids = catalog.create_run("run-1", "backfill", [A], [(A, DAY1, "missing")])
        step = ids[(A, DAY1)]
        (token,) = catalog.acquire_many([(A, DAY1)], "run-1")
        assert token is not None
        (first,) = catalog.start_attempts("run-1", [(step, 1)])
        catalog.finish_attempts(
            "run-1", [AttemptEnd(first, step, A, DAY1, token, error="boom", final=False)]
        )
        assert catalog.acquire(A, DAY1, "someone-else") is None
        (second,) = catalog.start_attempts("run-1", [(step, 2)])
        catalog.finish_attempts("run-1", [AttemptEnd(second, step, A, DAY1, token, error="boom")])
        (recorded,) = catalog.run("run-1").steps
        assert (recorded.status, recorded.detail) == ("failed", "boom")
        assert [a.status for a in recorded.attempts] == ["failed", "failed"]
        assert catalog.states([A])[A][DAY1].failure == "boom"
        assert catalog.acquire(A, DAY1, "someone-else") is not None

    def test_states_return_exactly_what_was_committed(self, make_catalog) -> None:
        catalog = make_catalog()
        build(catalog, A, DAY1, new_version("v1", "d1"))
        build(catalog, A, DAY2, new_version("v2", "d2", code="c2"))
        build(catalog, B, DAY1, new_version("v3", "d3"))
        build(catalog, C, DAY1, new_version("v4", "d4"))  # not asked for
        leased = catalog.acquire(A, DAY3, "w")  # leased, never committed
        assert leased is not None
        catalog.release(A, DAY3, "w", leased, failure="ValueError: boom")

        states = catalog.states([A, B, "never_built"])

        assert states == {
            A: {
                DAY1: PartitionState("v1", "c1", "d1", "in-d1"),
                DAY2: PartitionState("v2", "c2", "d2", "in-d2"),
                DAY3: PartitionState(None, None, None, None, "ValueError: boom"),
            },
            B: {DAY1: PartitionState("v3", "c1", "d3", "in-d3")},
            "never_built": {},
        }

    def test_states_of_returns_only_the_partitions_asked_for(self, make_catalog) -> None:
        catalog = make_catalog()
        for n, day in enumerate((DAY1, DAY2, DAY3)):
            build(catalog, A, day, new_version(f"a{n}", f"da{n}"))
            build(catalog, B, day, new_version(f"b{n}", f"db{n}"))

        states = catalog.states_of({A: [DAY1, DAY3, "2030-01-01"], B: [DAY2], C: []})

        assert states == {
            A: {
                DAY1: PartitionState("a0", "c1", "da0", "in-da0"),
                DAY3: PartitionState("a2", "c1", "da2", "in-da2"),
            },
            B: {DAY2: PartitionState("b1", "c1", "db1", "in-db1")},
            C: {},
        }
        assert catalog.states_of({}) == {}
        assert catalog.states_of({A: []}) == {A: {}}

    def test_states_are_read_in_one_query_whatever_the_number_of_partitions(
        self, make_catalog
    ) -> None:
        catalog = make_catalog()
        days = [f"2026-04-{d:02d}" for d in range(1, 21)]
        for asset in (A, B, C):
            for day in days:
                build(catalog, asset, day, new_version(f"{asset}-{day}"))

        with count_selects() as selects:
            states = catalog.states([A, B, C])
            states_of = catalog.states_of({A: days, B: days[:3], C: days[5:]})

        assert sum(len(keys) for keys in states.values()) == 60
        assert sum(len(keys) for keys in states_of.values()) == 38
        assert len(selects) == 2, selects

    def test_versions_record_everything_committed(self, make_catalog) -> None:
        catalog = make_catalog()
        build(catalog, A, DAY1, new_version("v1", "d1", run="run-7"))

        record = catalog.versions(A, [DAY1, DAY2])

        assert list(record) == [DAY1]
        version = record[DAY1]
        assert (version.version_id, version.asset, version.partition) == ("v1", A, DAY1)
        assert version.files == ("asset/date=x/part-v1.parquet",)
        assert (version.kind, version.rows, version.bytes) == ("parquet", 10, 1234)
        assert (version.data_version, version.code_version, version.input_hash) == (
            "d1",
            "c1",
            "in-d1",
        )
        assert version.inputs == {"upstream": {DAY1: "u1"}}
        assert (version.run_id, version.status) == ("run-7", "committed")

    def test_sizes_beyond_32_bits_are_kept(self, make_catalog) -> None:
        catalog = make_catalog()
        rows, size = 3_000_000_000, 5 * 2**30
        ids = catalog.create_run("run-1", "materialize", [A], [(A, DAY1, "missing")])
        build(catalog, A, DAY1, dataclasses.replace(new_version("v1"), rows=rows, bytes=size))
        catalog.update_step(ids[(A, DAY1)], status="succeeded", rows=rows, bytes=size)

        version = catalog.versions(A, [DAY1])[DAY1]
        step = catalog.run("run-1").steps[0]

        assert (version.rows, version.bytes) == (rows, size)
        assert (step.rows, step.bytes) == (rows, size)

    # -- dynamic partitions -------------------------------------------------------

    def test_dynamic_keys_keep_the_order_they_were_added_in(self, make_catalog) -> None:
        catalog = make_catalog()

        assert catalog.add_dynamic_keys(CUSTOMERS, ["zeta", "alpha", "mid"]) == [
            "zeta",
            "alpha",
            "mid",
        ]
        assert catalog.add_dynamic_keys(CUSTOMERS, ["beta"]) == ["beta"]

        assert catalog.dynamic_keys([CUSTOMERS]) == {CUSTOMERS: ("zeta", "alpha", "mid", "beta")}

    def test_adding_dynamic_keys_is_idempotent_and_returns_only_new_keys(
        self, make_catalog
    ) -> None:
        catalog = make_catalog()
        catalog.add_dynamic_keys(CUSTOMERS, ["a", "b", "c"])

        assert catalog.add_dynamic_keys(CUSTOMERS, ["c", "d", "a", "e", "d"]) == ["d", "e"]
        assert catalog.add_dynamic_keys(CUSTOMERS, ["b", "a"]) == []
        assert catalog.add_dynamic_keys(CUSTOMERS, []) == []

        assert catalog.dynamic_keys([CUSTOMERS]) == {CUSTOMERS: ("a", "b", "c", "d", "e")}

    def test_remove_dynamic_keys_returns_those_that_existed(self, make_catalog) -> None:
        catalog = make_catalog()
        catalog.add_dynamic_keys(CUSTOMERS, ["a", "b", "c", "d"])
        catalog.add_dynamic_keys(REGIONS, ["b"])

        assert catalog.remove_dynamic_keys(CUSTOMERS, ["d", "x", "b", "b"]) == ["d", "b"]
        assert catalog.remove_dynamic_keys(CUSTOMERS, ["b"]) == []
        assert catalog.remove_dynamic_keys("unknown", ["a"]) == []
        assert catalog.remove_dynamic_keys(CUSTOMERS, []) == []

        assert catalog.dynamic_keys([CUSTOMERS, REGIONS]) == {
            CUSTOMERS: ("a", "c"),
            REGIONS: ("b",),  # same key, another name: untouched
        }

    def test_a_removed_dynamic_key_keeps_its_state_and_comes_back_last(self, make_catalog) -> None:
        catalog = make_catalog()
        catalog.add_dynamic_keys(CUSTOMERS, ["acme", "globex"])
        build(catalog, A, "acme", new_version("v1", "d1"))
        before = catalog.states([A])

        assert catalog.remove_dynamic_keys(CUSTOMERS, ["acme"]) == ["acme"]

        assert catalog.dynamic_keys([CUSTOMERS]) == {CUSTOMERS: ("globex",)}
        assert catalog.states([A]) == before
        assert [v.version_id for v in catalog.version_history(A, "acme")] == ["v1"]
        assert catalog.add_dynamic_keys(CUSTOMERS, ["acme"]) == ["acme"]
        assert catalog.dynamic_keys([CUSTOMERS]) == {CUSTOMERS: ("globex", "acme")}
        assert catalog.states([A]) == before

    def test_dynamic_keys_of_several_names_are_read_in_one_query(self, make_catalog) -> None:
        catalog = make_catalog()
        catalog.add_dynamic_keys(CUSTOMERS, ["c2", "c1"])
        catalog.add_dynamic_keys(REGIONS, ["north", "south"])
        catalog.add_dynamic_keys(CUSTOMERS, ["c0"])
        catalog.add_dynamic_keys("not_asked_for", ["x"])

        with count_selects() as selects:
            keys = catalog.dynamic_keys([REGIONS, CUSTOMERS, "unknown"])

        assert keys == {
            REGIONS: ("north", "south"),
            CUSTOMERS: ("c2", "c1", "c0"),
            "unknown": (),
        }
        assert len(selects) == 1, selects
        assert catalog.dynamic_keys([]) == {}

    def test_dynamic_keys_added_concurrently_are_recorded_once_in_one_order(
        self, make_catalog
    ) -> None:
        catalogs = [make_catalog(), make_catalog()]  # two connections, like two processes
        # Overlapping batches, one list walked forwards and one backwards, in lockstep:
        # left free to run, one writer tends to do all its adds before the other gets in.
        batches = [[f"k{n:03d}" for n in range(first, first + 6)] for first in range(0, 120, 3)]
        together = threading.Barrier(len(catalogs))

        def add_all(catalog: Catalog, order: list[list[str]]) -> list[list[str]]:
            added = []
            try:
                for batch in order:
                    together.wait(timeout=60)  # only a hang gets near it
                    added.append(catalog.add_dynamic_keys(CUSTOMERS, batch))
            except BaseException:
                together.abort()  # the other thread stops too, instead of waiting
                raise
            return added

        with ThreadPoolExecutor(max_workers=len(catalogs)) as pool:
            futures = [
                pool.submit(add_all, catalogs[0], batches),
                pool.submit(add_all, catalogs[1], batches[::-1]),
            ]
            # 40 rounds of two writes: generous even where each write takes seconds
            added = [batch for future in futures for batch in future.result(timeout=600) if batch]

        final = catalogs[0].dynamic_keys([CUSTOMERS])[CUSTOMERS]
        assert catalogs[1].dynamic_keys([CUSTOMERS])[CUSTOMERS] == final
        assert sorted(final) == sorted({key for batch in batches for key in batch})
        # Every call added its new keys in one transaction: they sit together, in its order.
        in_order = sorted(added, key=lambda batch: final.index(batch[0]))
        assert tuple(key for batch in in_order for key in batch) == final
        seqs = make_catalog.sql("SELECT seq FROM dynamic_partitions WHERE name = ?", CUSTOMERS)
        assert len({seq for (seq,) in seqs}) == len(final)

    def test_adding_dynamic_keys_retries_after_losing_a_race(
        self, make_catalog, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Writers that the database does not serialize can read the same keys, then collide
        # on insert; the loser's IntegrityError makes it read again. Forced here with a
        # stale first read, after another catalog has added "b".
        catalog, other = make_catalog(), make_catalog()
        catalog.add_dynamic_keys(CUSTOMERS, ["a"])
        read = catalog._dynamic_seqs
        reads: list[str] = []

        def stale_once(conn, name: str) -> dict[str, int]:
            reads.append(name)
            return {"a": 1} if len(reads) == 1 else read(conn, name)

        monkeypatch.setattr(catalog, "_dynamic_seqs", stale_once)
        other.add_dynamic_keys(CUSTOMERS, ["b"])

        assert catalog.add_dynamic_keys(CUSTOMERS, ["b", "c"]) == ["c"]

        assert len(reads) == 2
        assert catalog.dynamic_keys([CUSTOMERS]) == {CUSTOMERS: ("a", "b", "c")}

    # -- leases -------------------------------------------------------------------

    def test_fencing_tokens_only_grow(self, make_catalog) -> None:
        catalog = make_catalog()
        tokens = [catalog.acquire(A, DAY1, "w1")]
        tokens.append(catalog.acquire(A, DAY1, "w1"))  # the holder takes it again
        catalog.release(A, DAY1, "w1", tokens[-1])
        tokens.append(catalog.acquire(A, DAY1, "w2"))
        catalog.commit(A, DAY1, "w2", tokens[-1], new_version("v1"))
        catalog.release(A, DAY1, "w2", tokens[-1])
        tokens.append(catalog.acquire(A, DAY1, "w3"))

        assert None not in tokens
        assert tokens == sorted(set(tokens)), tokens
        assert catalog.acquire(B, DAY1, "w1") is not None  # tokens are per partition

    def test_a_live_lease_is_not_shared(self, make_catalog) -> None:
        first, second = make_catalog(), make_catalog()
        token = first.acquire(A, DAY1, "owner-1")

        assert token is not None
        assert second.acquire(A, DAY1, "owner-2") is None
        assert second.acquire(A, DAY1, "owner-2") is None
        assert second.acquire(A, DAY2, "owner-2") is not None  # another partition is free
        first.release(A, DAY1, "owner-1", token)
        assert second.acquire(A, DAY1, "owner-2") == token + 1

    def test_writers_racing_for_a_lease_get_it_once(self, make_catalog) -> None:
        catalogs = [make_catalog() for _ in range(6)]  # six connections, like six processes
        gone = catalogs[0].acquire(A, DAY1, "gone")
        assert gone is not None
        make_catalog.sql("UPDATE partitions SET lease_expires = lease_expires - 3600")
        together = threading.Barrier(len(catalogs))

        def race(partition: str) -> list[int | None]:
            def take(n: int) -> int | None:
                together.wait(timeout=60)  # only a hang gets near it
                return catalogs[n].acquire(A, partition, f"writer-{n}")

            with ThreadPoolExecutor(max_workers=len(catalogs)) as pool:
                return list(pool.map(take, range(len(catalogs)), timeout=60))

        with count_selects() as selects:
            expired = race(DAY1)  # everyone reads the expired lease: one takes it over
            fresh = race(DAY2)  # nobody has a row yet: one creates it

        assert sorted(expired, key=str) == [gone + 1] + [None] * 5
        assert sorted(fresh, key=str) == [1] + [None] * 5
        if make_catalog.url.startswith("postgresql"):  # row locks; SQLite serializes writers
            assert any("FOR UPDATE" in statement for statement in selects), selects

    def test_an_expired_lease_is_taken_over(self, make_catalog) -> None:
        expired, live = make_catalog(lease_seconds=-1), make_catalog()
        token = expired.acquire(A, DAY1, "gone")

        assert token is not None
        assert live.acquire(A, DAY1, "new") == token + 1
        assert expired.acquire(A, DAY1, "gone") is None  # the new owner's lease is live

    def test_a_lease_expired_in_the_database_is_taken_over(self, make_catalog) -> None:
        catalog = make_catalog()
        token = catalog.acquire(A, DAY1, "gone")
        assert token is not None and catalog.acquire(A, DAY1, "new") is None

        make_catalog.sql(
            "UPDATE partitions SET lease_expires = lease_expires - 3600 "
            "WHERE asset = ? AND partition = ?",
            A,
            DAY1,
        )

        assert catalog.acquire(A, DAY1, "new") == token + 1

    def test_heartbeat_keeps_a_lease_alive(self, make_catalog) -> None:
        catalog = make_catalog()
        token = catalog.acquire(A, DAY1, "holder")
        assert token is not None
        make_catalog.sql("UPDATE partitions SET lease_expires = lease_expires - 3600")

        catalog.heartbeat("holder")

        assert catalog.acquire(A, DAY1, "other") is None

    def test_a_zombie_writer_commits_nothing(self, make_catalog) -> None:
        zombie_side, live_side = make_catalog(lease_seconds=-1), make_catalog()
        build(live_side, A, DAY1, new_version("v0", "d0"))
        before_states = live_side.states([A])
        stale = zombie_side.acquire(A, DAY1, "zombie")
        assert stale is not None
        current = live_side.acquire(A, DAY1, "live")  # the zombie's lease had expired
        assert current == stale + 1

        with pytest.raises(LeaseLostError, match="nothing was committed"):
            zombie_side.commit(A, DAY1, "zombie", stale, new_version("vz", "dz"))

        assert live_side.states([A]) == before_states
        assert [(v.version_id, v.status) for v in live_side.version_history(A, DAY1)] == [
            ("v0", "committed")
        ]
        assert zombie_side.acquire(A, DAY1, "zombie") is None  # the live lease still holds
        live_side.commit(A, DAY1, "live", current, new_version("v1", "d1"))
        assert live_side.states([A])[A][DAY1].version_id == "v1"

    def test_a_stale_token_of_the_same_owner_commits_nothing(self, make_catalog) -> None:
        catalog = make_catalog()
        old = catalog.acquire(A, DAY1, "w")
        new = catalog.acquire(A, DAY1, "w")
        assert old is not None and new == old + 1

        with pytest.raises(LeaseLostError):
            catalog.commit(A, DAY1, "w", old, new_version("v1"))

        assert catalog.states([A])[A][DAY1].version_id is None
        assert catalog.version_history(A, DAY1) == []

    def test_commit_without_any_lease_is_refused(self, make_catalog) -> None:
        catalog = make_catalog()
        with pytest.raises(LeaseLostError):
            catalog.commit(A, DAY1, "w", 1, new_version("v1"))
        assert catalog.states([A]) == {A: {}}

    def test_commit_supersedes_the_previous_version_and_clears_failure(self, make_catalog) -> None:
        catalog = make_catalog()
        build(catalog, A, DAY1, new_version("v1", "d1"))
        token = catalog.acquire(A, DAY1, "w")
        assert token is not None
        catalog.release(A, DAY1, "w", token, failure="RuntimeError: flaky")
        assert catalog.states([A])[A][DAY1] == PartitionState(
            "v1", "c1", "d1", "in-d1", "RuntimeError: flaky"
        )

        build(catalog, A, DAY1, new_version("v2", "d2", code="c2"))

        assert catalog.states([A])[A][DAY1] == PartitionState("v2", "c2", "d2", "in-d2", None)
        history = {v.version_id: v.status for v in catalog.version_history(A, DAY1)}
        assert history == {"v1": "superseded", "v2": "committed"}
        assert catalog.versions(A, [DAY1])[DAY1].version_id == "v2"

    def test_commit_releases_the_lease(self, make_catalog) -> None:
        catalog = make_catalog()
        build(catalog, A, DAY1, new_version("v1"), owner="w1")
        assert catalog.acquire(A, DAY1, "w2") is not None

    def test_release_with_failure_records_it_and_frees_the_lease(self, make_catalog) -> None:
        catalog = make_catalog()
        token = catalog.acquire(A, DAY1, "w1")
        assert token is not None

        catalog.release(A, DAY1, "w1", token, failure="KeyError: 'x'")

        assert catalog.states([A])[A][DAY1].failure == "KeyError: 'x'"
        assert catalog.acquire(A, DAY1, "w2") == token + 1

    def test_release_by_a_superseded_holder_changes_nothing(self, make_catalog) -> None:
        zombie_side, catalog = make_catalog(lease_seconds=-1), make_catalog()
        stale = zombie_side.acquire(A, DAY1, "zombie")
        assert stale is not None
        current = catalog.acquire(A, DAY1, "live")

        zombie_side.release(A, DAY1, "zombie", stale, failure="late failure")

        assert catalog.states([A])[A][DAY1].failure is None
        assert catalog.acquire(A, DAY1, "third") is None  # "live" still holds it
        assert current is not None

    def test_release_all_frees_only_that_owners_leases(self, make_catalog) -> None:
        catalog = make_catalog()
        for day in (DAY1, DAY2):
            assert catalog.acquire(A, day, "run-a") is not None
        assert catalog.acquire(B, DAY1, "run-a") is not None
        assert catalog.acquire(A, DAY3, "run-b") is not None

        catalog.release_all("run-a")

        assert catalog.acquire(A, DAY1, "other") is not None
        assert catalog.acquire(A, DAY2, "other") is not None
        assert catalog.acquire(B, DAY1, "other") is not None
        assert catalog.acquire(A, DAY3, "other") is None

    def test_a_lease_of_a_dead_local_process_is_taken_over_at_once(self, make_catalog) -> None:
        catalog = make_catalog()  # leases live 30 s: only the dead owner frees this one
        catalog.create_run("dead-run", "materialize", [A], [(A, DAY1, "missing")])
        make_catalog.sql("UPDATE runs SET pid = ? WHERE id = ?", exited_pid(), "dead-run")
        token = catalog.acquire(A, DAY1, "dead-run")
        assert token is not None

        assert catalog.acquire(A, DAY1, "live-run") == token + 1

    def test_a_lease_of_a_live_or_remote_run_is_respected(self, make_catalog) -> None:
        catalog = make_catalog()
        catalog.create_run("this-process", "materialize", [A], [])  # our own pid: alive
        catalog.create_run("remote", "materialize", [A], [])
        make_catalog.sql(
            "UPDATE runs SET host = ?, pid = ? WHERE id = ?",
            "another-host.invalid",
            exited_pid(),
            "remote",
        )
        assert catalog.acquire(A, DAY1, "this-process") is not None
        assert catalog.acquire(A, DAY2, "remote") is not None

        assert catalog.acquire(A, DAY1, "other") is None
        assert catalog.acquire(A, DAY2, "other") is None  # only its lease expiry frees it

    # -- runs, steps, attempts, logs ------------------------------------------------

    def test_a_run_records_steps_attempts_and_logs(self, make_catalog) -> None:
        catalog = make_catalog()
        ids = catalog.create_run(
            "run-1",
            "backfill",
            [f"{B}:2"],
            [(A, DAY1, "missing"), (B, DAY1, "missing"), (B, DAY2, "code changed")],
            {"workers": 2},
        )
        assert set(ids) == {(A, DAY1), (B, DAY1), (B, DAY2)}
        assert len(set(ids.values())) == 3
        step = ids[(A, DAY1)]

        catalog.update_step(step, status="running", started_at=True)
        first = catalog.start_attempt("run-1", step, 1)
        catalog.finish_attempt(
            first,
            "failed",
            "RuntimeError: flaky",
            [
                LogLine("run-1", step, 1, A, DAY1, 100.0, "INFO", "fetching"),
                LogLine("run-1", step, 1, A, DAY1, 101.0, "ERROR", "attempt 1 failed"),
            ],
        )
        second = catalog.start_attempt("run-1", step, 2)
        assert second != first
        catalog.finish_attempt(
            second, "succeeded", None, [LogLine("run-1", step, 2, A, DAY1, 102.0, "INFO", "ok")]
        )
        catalog.update_step(
            step, status="succeeded", finished_at=True, version_id="v1", rows=10, bytes=99
        )
        catalog.update_step(ids[(B, DAY1)], status="failed", detail="ValueError: bad")
        catalog.update_step(ids[(B, DAY2)], status="skipped", detail="upstream failed")
        catalog.finish_run("run-1", "failed")

        run = catalog.run("run-1")

        assert run is not None
        assert (run.run_id, run.command, run.targets, run.status) == (
            "run-1",
            "backfill",
            (f"{B}:2",),
            "failed",
        )
        assert run.duration is not None and run.duration >= 0
        assert run.counts == {"succeeded": 1, "failed": 1, "skipped": 1}
        steps = {(s.asset, s.partition): s for s in run.steps}
        built = steps[(A, DAY1)]
        assert (built.status, built.reason, built.version_id, built.rows, built.bytes) == (
            "succeeded",
            "missing",
            "v1",
            10,
            99,
        )
        assert built.duration is not None and built.duration >= 0
        assert [(a.number, a.status, a.error) for a in built.attempts] == [
            (1, "failed", "RuntimeError: flaky"),
            (2, "succeeded", None),
        ]
        assert all(a.finished_at is not None for a in built.attempts)
        assert (steps[(B, DAY1)].status, steps[(B, DAY1)].detail) == ("failed", "ValueError: bad")
        assert steps[(B, DAY2)].reason == "code changed"
        assert steps[(B, DAY2)].attempts == ()

        logs = catalog.logs("run-1")
        assert [(ln.attempt, ln.level, ln.message) for ln in logs] == [
            (1, "INFO", "fetching"),
            (1, "ERROR", "attempt 1 failed"),
            (2, "INFO", "ok"),
        ]
        assert catalog.logs("run-1", A, DAY1) == logs
        assert catalog.logs("run-1", B) == []
        assert catalog.logs("run-1", A, DAY2) == []

    def test_runs_lists_newest_first_with_step_counts(self, make_catalog) -> None:
        catalog = make_catalog()
        catalog.create_run("01-older", "materialize", [A], [(A, DAY1, "missing")])
        catalog.finish_run("01-older", "succeeded")
        ids = catalog.create_run(
            "02-newer", "backfill", [A], [(A, DAY1, "missing"), (A, DAY2, "missing")]
        )
        catalog.update_step(ids[(A, DAY1)], status="succeeded")

        runs = catalog.runs()

        assert [r.run_id for r in runs] == ["02-newer", "01-older"]
        assert runs[0].status == "running" and runs[0].finished_at is None
        assert runs[0].counts == {"succeeded": 1, "pending": 1}
        assert runs[1].counts == {"pending": 1}
        assert [r.run_id for r in catalog.runs(limit=1)] == ["02-newer"]

    def test_run_by_last_and_by_unique_prefix(self, make_catalog) -> None:
        catalog = make_catalog()
        assert catalog.run("last") is None
        catalog.create_run("abc123", "materialize", [A], [])
        catalog.create_run("abd456", "materialize", [A], [])

        last = catalog.run("last")
        assert last is not None and last.run_id == "abd456"
        assert catalog.run("abc") is not None and catalog.run("abc").run_id == "abc123"
        assert catalog.run("abd456").run_id == "abd456"
        assert catalog.run("ab") is None  # ambiguous
        assert catalog.run("zzz") is None  # unknown
        assert catalog.run("a_c") is None  # LIKE wildcards are matched literally
        assert catalog.run("%") is None

    def test_runs_of_dead_local_processes_are_shown_as_crashed(self, make_catalog) -> None:
        catalog = make_catalog()
        ids = catalog.create_run(
            "dead-run", "backfill", [A], [(A, DAY1, "missing"), (A, DAY2, "missing")]
        )
        catalog.update_step(ids[(A, DAY1)], status="succeeded")
        catalog.create_run("live-run", "materialize", [A], [(A, DAY3, "missing")])
        make_catalog.sql("UPDATE runs SET pid = ? WHERE id = ?", exited_pid(), "dead-run")

        statuses = {r.run_id: r.status for r in catalog.runs()}

        assert statuses == {"dead-run": "crashed", "live-run": "running"}
        dead = catalog.run("dead-run")
        assert dead is not None and dead.status == "crashed"
        assert {s.partition: s.status for s in dead.steps} == {DAY1: "succeeded", DAY2: "crashed"}
        assert catalog.run("live-run").status == "running"

    def test_a_finished_run_of_a_dead_process_keeps_its_status(self, make_catalog) -> None:
        catalog = make_catalog()
        catalog.create_run("done", "materialize", [A], [])
        catalog.finish_run("done", "succeeded")
        make_catalog.sql("UPDATE runs SET pid = ? WHERE id = ?", exited_pid(), "done")

        assert catalog.run("done").status == "succeeded"

    def test_forget_drops_partition_state(self, make_catalog) -> None:
        catalog = make_catalog()
        build(catalog, A, DAY1, new_version("v1"))
        build(catalog, A, DAY2, new_version("v2"))

        catalog.forget(A, [DAY1])

        assert set(catalog.states([A])[A]) == {DAY2}

    def test_url_has_no_password(self, make_catalog) -> None:
        catalog = make_catalog()
        assert catalog.url == redact_url(make_catalog.url)
        assert PASSWORD not in catalog.url


# -- opening a catalog ------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["/nonexistent-dir", "TMP/no-such-dir"])
def test_an_unreachable_sqlite_path_is_one_clear_catalog_error(
    tmp_path: Path, missing: str
) -> None:
    directory = missing.replace("TMP", str(tmp_path))
    assert not os.path.exists(directory)

    with pytest.raises(CatalogError) as raised:
        Catalog(f"sqlite:///{directory}/x.db")

    message = str(raised.value)
    assert len(message.splitlines()) == 1
    assert f"directory {directory} does not exist" in message
    assert not os.path.exists(directory)


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://host/db", "sqlite:/x.db"])
def test_a_malformed_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Catalog(url)
    assert len(str(raised.value).splitlines()) == 1


def test_redact_url_hides_passwords() -> None:
    url = f"postgresql+psycopg://partita:{PASSWORD}@db.example.com:5432/catalog"

    redacted = redact_url(url)

    assert PASSWORD not in redacted
    assert redacted == "postgresql+psycopg://partita:***@db.example.com:5432/catalog"
    assert redact_url("sqlite:////tmp/catalog.db") == "sqlite:////tmp/catalog.db"
    assert redact_url("not a url") == "not a url"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://partita:{PASSWORD}@db.example.com:not-a-port/catalog",
        f"postgres ql://partita:{PASSWORD}@db.example.com/catalog",
        f"partita:{PASSWORD}@db.example.com/catalog",
    ],
)
def test_a_password_in_a_malformed_url_is_redacted_too(url: str) -> None:
    assert redact_url(url) == url.replace(PASSWORD, "***")

    with pytest.raises(ConfigError) as raised:
        Catalog(url)

    message = str(raised.value)
    assert PASSWORD not in message
    assert "partita:***@db.example.com" in message
    assert "is not a database URL" in message


def test_an_unusable_postgres_catalog_error_has_no_password() -> None:
    # Without psycopg the driver is missing (ConfigError); with it, nothing listens on
    # port 1 (CatalogError). Either way the message names the URL without its password.
    url = f"postgresql+psycopg://partita:{PASSWORD}@127.0.0.1:1/catalog?connect_timeout=2"

    with pytest.raises((ConfigError, CatalogError)) as raised:
        Catalog(url)

    assert PASSWORD not in str(raised.value)
    assert "partita:***@127.0.0.1" in str(raised.value)


def test_a_failing_postgres_catalog_error_has_no_password() -> None:
    # A server that answers, with a database that does not exist (or, where the server
    # checks passwords, a wrong one): the error comes from the server, the URL is redacted.
    server = make_url(postgres_url())
    url = server.set(password=PASSWORD, database="partita_no_such_database").render_as_string(
        hide_password=False
    )

    with pytest.raises(CatalogError) as raised:
        Catalog(url)

    message = str(raised.value)
    assert PASSWORD not in message
    assert f"{server.username}:***@" in message
    assert len(message.splitlines()) == 1
