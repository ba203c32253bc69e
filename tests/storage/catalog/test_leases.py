"""Named leases (the active daemon, the slots of pools) on SQLite and PostgreSQL: one
holder at a time, fencing tokens that only grow, take-over on expiry or a dead holder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from partita.storage.catalog.leases import Leases, pool_slots
from tests.storage.conftest import CatalogFactory


def test_one_holder_at_a_time_and_tokens_grow(make_catalog: CatalogFactory) -> None:
    leases = Leases(make_catalog())

    first = leases.acquire("daemon", "d1")
    assert first == 1
    assert leases.acquire("daemon", "d2") is None
    assert leases.holder("daemon")[0] == "d1"
    assert leases.acquire("daemon", "d1") == 2  # the holder may take it again
    leases.release("daemon", "d1", 2)
    assert leases.holder("daemon") is None
    assert leases.acquire("daemon", "d2") == 3


def test_renewing_a_lost_lease_says_so(make_catalog: CatalogFactory) -> None:
    expired, live = Leases(make_catalog(lease_seconds=-1)), Leases(make_catalog())
    stale = expired.acquire("daemon", "zombie")
    current = live.acquire("daemon", "standby")  # the zombie's lease had expired

    assert current == stale + 1
    assert not live.renew("daemon", "zombie", stale)
    assert live.renew("daemon", "standby", current)
    live.release("daemon", "zombie", stale)  # too late: changes nothing
    assert live.holder("daemon")[0] == "standby"


def test_a_pool_hands_out_each_slot_once(make_catalog: CatalogFactory) -> None:
    leases = Leases(make_catalog())
    slots = pool_slots("pool:api", 2)

    assert leases.acquire_any(slots, "run-a") == ("pool:api/0", 1)
    assert leases.acquire_any(slots, "run-b") == ("pool:api/1", 1)
    assert leases.acquire_any(slots, "run-c") is None
    leases.release("pool:api/0", "run-a", 1)
    assert leases.acquire_any(slots, "run-c") == ("pool:api/0", 2)


def test_concurrent_takers_never_share_a_slot(make_catalog: CatalogFactory) -> None:
    catalogs = [make_catalog() for _ in range(4)]
    slots = pool_slots("pool:api", 2)
    start = threading.Barrier(len(catalogs))

    def take(i: int) -> tuple[str, int] | None:
        start.wait()
        for _ in range(20):  # a loser of an insert race gets None and tries again
            taken = Leases(catalogs[i]).acquire_any(slots, f"run-{i}")
            if taken is not None:
                return taken
        return None

    with ThreadPoolExecutor(len(catalogs)) as pool:
        results = list(pool.map(take, range(len(catalogs))))

    held = [r for r in results if r is not None]
    assert sorted(name for name, _ in held) == slots  # two winners, one slot each


def test_a_dead_runs_slot_is_taken_over_at_once(make_catalog: CatalogFactory) -> None:
    catalog = make_catalog()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    pid = int(dead.stdout)  # a process that has exited: its pid is gone
    catalog.create_run("run-dead", "backfill", ["a"], [])
    make_catalog.sql("UPDATE runs SET pid = ? WHERE id = 'run-dead'", pid)
    leases = Leases(catalog)
    slots = pool_slots("pool:api", 1)

    assert leases.acquire_any(slots, "run-dead") == ("pool:api/0", 1)
    assert leases.acquire_any(slots, "run-live") == ("pool:api/0", 2)


def test_a_dead_daemons_lease_is_taken_over_at_once(make_catalog: CatalogFactory) -> None:
    exited = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    host = socket.gethostname()
    leases = Leases(make_catalog())

    assert leases.acquire("daemon", f"{host}:{int(exited.stdout)}:ab12cd") == 1
    assert leases.acquire("daemon", f"{host}:{os.getpid()}:ef34ab") == 2
    # A daemon of this host that is alive, or of another host, keeps its lease.
    assert leases.acquire("daemon", f"{host}:1:aa") is None
    assert leases.acquire("other", f"elsewhere:{int(exited.stdout)}:ab12cd") == 1
    assert leases.acquire("other", f"{host}:{os.getpid()}:bb") is None
