"""Partition states and current versions, and the keys of dynamic partitions, on each
catalog backend (``make_catalog``): what was committed is what is read, in one query."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from partita.storage import Catalog, PartitionState
from tests.storage.conftest import build, count_selects, new_version

A, B, C = "sales", "clean", "report"
DAY1, DAY2, DAY3 = "2026-04-01", "2026-04-02", "2026-04-03"
CUSTOMERS, REGIONS = "customers", "regions"


class TestStates:
    """Partition states and versions."""

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


class TestDynamicKeys:
    """The keys of dynamic partitions definitions."""

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
        assert [v.version_id for v in catalog.reports.versions_of(A, ["acme"])] == ["v1"]
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
        read = catalog._dynamic._seqs
        reads: list[str] = []

        def stale_once(conn, name: str) -> dict[str, int]:
            reads.append(name)
            return {"a": 1} if len(reads) == 1 else read(conn, name)

        monkeypatch.setattr(catalog._dynamic, "_seqs", stale_once)
        other.add_dynamic_keys(CUSTOMERS, ["b"])

        assert catalog.add_dynamic_keys(CUSTOMERS, ["b", "c"]) == ["c"]

        assert len(reads) == 2
        assert catalog.dynamic_keys([CUSTOMERS]) == {CUSTOMERS: ("a", "b", "c")}
