"""Partition leases on each catalog backend: one holder at a time, fencing tokens that
only grow, take-over on expiry or a dead holder, and releases behind the fence. Nothing
here sleeps: expired leases are made with a negative ``lease_seconds`` (or an UPDATE of
``lease_expires``)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from tests.storage.conftest import count_selects, exited_pid, finish, new_version

A, B, C = "sales", "clean", "report"
DAY1, DAY2, DAY3 = "2026-04-01", "2026-04-02", "2026-04-03"


class TestPartitionLeases:
    """Taking, extending and giving back partition leases."""

    def test_fencing_tokens_only_grow(self, make_catalog) -> None:
        catalog = make_catalog()
        tokens = [catalog.acquire(A, DAY1, "w1")]
        tokens.append(catalog.acquire(A, DAY1, "w1"))  # the holder takes it again
        catalog.release(A, DAY1, "w1", tokens[-1])
        tokens.append(catalog.acquire(A, DAY1, "w2"))
        assert finish(catalog, "w2", A, DAY1, tokens[-1], new_version("v1")) is None
        tokens.append(catalog.acquire(A, DAY1, "w3"))  # the commit gave it back

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
