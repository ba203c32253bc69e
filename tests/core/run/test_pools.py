"""Concurrency limits: named pools and ``max_concurrency``, in process.

Each asset under test counts the steps inside it (a lock-protected counter) and records
the peak. Until two steps have overlapped once, a step waits for a second one to come
in, so a limit of 2 that allows parallelism reaches 2 without relying on timing. The wait
ends at a deadline only a limit that allows no parallelism reaches, and only once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import partita as pt
from partita.core.run.pools import Limit, ReadySteps, check_pools, limits_of
from partita.errors import ConfigError, DefinitionError
from tests.projects import ProjectFactory, Sleeps

APRIL = ("2026-04-01", "2026-04-30")

HEADER = """\
import threading
import time

import partita as pt

daily = pt.DailyPartitions(start="2026-04-01", timezone="UTC")
COND = threading.Condition()
INSIDE = {}
PEAK = {}
TOTAL = [0]
GAVE_UP = set()


def enter(name, wait_for=2):
    with COND:
        INSIDE[name] = INSIDE.get(name, 0) + 1
        TOTAL[0] += 1
        PEAK[name] = max(PEAK.get(name, 0), INSIDE[name])
        PEAK["*"] = max(PEAK.get("*", 0), TOTAL[0])
        COND.notify_all()
        # Until two steps overlapped once, wait for a second one to come in.
        if name not in GAVE_UP and not COND.wait_for(lambda: PEAK[name] >= wait_for, 60):
            GAVE_UP.add(name)  # it never came: the steps after this one need not wait
    time.sleep(0.01)  # room for a third step, were the limit not enforced


def leave(name):
    with COND:
        INSIDE[name] -= 1
        TOTAL[0] -= 1
"""


@pytest.fixture
def definitions_header() -> str:
    return HEADER


def api_asset(pool_size: int) -> str:
    """The asset ``raw`` in pool ``api``: until two of its steps overlapped once, each
    waits a little for ``pool_size`` of them to be inside."""
    return API_ASSET.replace("WAIT_FOR", str(pool_size))


def module_of(project: pt.Project) -> Any:
    project.graph  # noqa: B018 - loading the graph imports the module
    return sys.modules[Path(project.settings.definitions).stem]


API_ASSET = """
@pt.asset(partitions=daily, pool="api")
def raw(ctx: pt.Context) -> dict:
    enter("raw", wait_for=WAIT_FOR)
    try:
        return {"day": ctx.partition_key}
    finally:
        leave("raw")
"""


def test_a_pool_of_2_is_never_exceeded_by_a_30_partition_backfill_with_8_workers(
    make_project: ProjectFactory,
) -> None:
    project = make_project(api_asset(2), "[pools]\napi = 2\n")
    result = project.backfill("raw", *APRIL, options=pt.RunOptions(workers=8))
    assert result.ok and result.count("succeeded") == 30
    assert module_of(project).PEAK["raw"] == 2  # reached (parallel) and never exceeded
    slots = project.catalog
    with slots.transaction("reading", read_only=True) as conn:
        rows = conn.exec_driver_sql("select name, owner from leases order by name").all()
    assert [name for name, _ in rows] == ["pool:api/0", "pool:api/1"]
    assert all(owner is None for _, owner in rows)  # all given back


def test_the_run_keeps_its_workers_busy_with_other_assets_while_a_pool_is_full(
    make_project: ProjectFactory,
) -> None:
    source = (
        api_asset(1)
        + """
@pt.asset(partitions=daily)
def local(ctx: pt.Context) -> dict:
    enter("local")
    try:
        return {"day": ctx.partition_key}
    finally:
        leave("local")
"""
    )
    sleeps = Sleeps()
    project = make_project(source, "[pools]\napi = 1\n", sleep=sleeps)
    result = project.backfill(
        ["raw", "local"], "2026-04-01", "2026-04-10", options=pt.RunOptions(workers=4)
    )
    assert result.ok and result.count("succeeded") == 20
    peaks = module_of(project).PEAK
    assert peaks["raw"] == 1
    assert peaks["local"] >= 2
    assert sleeps == []  # no worker was handed a step only to wait for a slot


def test_max_concurrency_1_runs_an_assets_steps_strictly_one_at_a_time(
    make_project: ProjectFactory,
) -> None:
    source = """
    @pt.asset(partitions=daily, max_concurrency=1)
    def serial(ctx: pt.Context) -> dict:
        enter("serial", wait_for=1)
        try:
            return {"day": ctx.partition_key}
        finally:
            leave("serial")
    """
    project = make_project(source)
    result = project.backfill(
        "serial", "2026-04-01", "2026-04-12", options=pt.RunOptions(workers=8)
    )
    assert result.ok and result.count("succeeded") == 12
    assert module_of(project).PEAK["serial"] == 1


def test_a_step_waits_for_a_slot_another_run_holds_and_says_so_in_its_logs(
    make_project: ProjectFactory,
) -> None:
    from partita.storage.catalog.leases import Leases

    project = make_project(api_asset(1), "[pools]\napi = 1\n")
    leases = Leases(project.catalog)
    other = leases.acquire("pool:api/0", "another-run")  # a live run (unknown to this host)
    assert other is not None

    def free_after_three_polls(sleeps: Sleeps) -> None:
        if len(sleeps) == 3:
            leases.release("pool:api/0", "another-run", other)

    sleeps = Sleeps(free_after_three_polls)
    waiting = make_project(root=project.root, sleep=sleeps)
    result = waiting.materialize("raw", "2026-04-08")
    assert result.ok
    assert list(sleeps) == [0.05, 0.1, 0.2]  # polled with backoff, injected sleep
    messages = [line.message for line in waiting.logs(result.run_id)]
    assert "waited 0.35 s for pool api" in messages


def test_a_failing_step_gives_its_slot_back(make_project: ProjectFactory) -> None:
    source = """
    @pt.asset(partitions=daily, pool="api", retries=1)
    def flaky(ctx: pt.Context) -> dict:
        if ctx.partition_key == "2026-04-02":
            raise RuntimeError("upstream API is down")
        return {"day": ctx.partition_key}
    """
    project = make_project(source, "[pools]\napi = 1\n")
    result = project.backfill("flaky", "2026-04-01", "2026-04-05", options=pt.RunOptions(workers=3))
    assert result.count("failed") == 1 and result.count("succeeded") == 4
    with project.catalog.transaction("reading", read_only=True) as conn:
        owners = conn.exec_driver_sql("select owner from leases").scalars().all()
    assert owners == [None]


def test_slots_are_renewed_by_the_heartbeat_and_released_with_the_run(
    make_project: ProjectFactory,
) -> None:
    from partita.storage.catalog.leases import Leases

    project = make_project(api_asset(2), "[pools]\napi = 2\n")
    catalog = project.catalog
    leases = Leases(catalog, seconds=0.0)  # expires at once unless renewed
    assert leases.acquire("pool:api/0", "run-a") is not None
    catalog.heartbeat("run-a")
    assert leases.holder("pool:api/0") is not None  # renewed for lease_seconds
    assert leases.acquire("pool:api/0", "run-b") is None
    catalog.release_all("run-a")
    assert leases.holder("pool:api/0") is None
    assert leases.acquire("pool:api/0", "run-b") is not None


def test_an_asset_naming_an_undefined_pool_is_one_clear_error(make_project: ProjectFactory) -> None:
    project = make_project(api_asset(1))
    with pytest.raises(DefinitionError) as caught:
        project.plan(["raw"], "2026-04-08")
    assert str(caught.value) == (
        "asset raw uses pool 'api', which partita.toml does not define; add [pools] api = N"
    )


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ("[pools]\napi = 0\n", "pools.api: Input should be greater than or equal to 1"),
        ('[pools]\napi = "two"\n', "pools.api: Input should be a valid integer"),
        ("[pools]\n'a b' = 1\n", "pools: pool name 'a b'"),
    ],
)
def test_bad_pool_settings_name_the_key(
    make_project: ProjectFactory, settings: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        make_project(api_asset(1), settings)


# -- pure parts ------------------------------------------------------------------------


def test_limits_are_taken_in_one_global_order() -> None:
    @pt.asset(pool="api", max_concurrency=3)
    def zeta() -> dict:
        return {}

    assert limits_of(zeta, {"api": 2}) == (
        Limit("asset:zeta", 3, "max_concurrency of zeta"),
        Limit("pool:api", 2, "pool api"),
    )
    check_pools(pt.AssetGraph([zeta]), {"api": 2})
    with pytest.raises(DefinitionError, match="add \\[pools\\] api = N"):
        check_pools(pt.AssetGraph([zeta]), {"other": 2})


def test_ready_steps_hold_back_a_full_pool_and_keep_each_assets_order() -> None:
    limits = {"a": (Limit("pool:p", 1, "pool p"),)}
    ready = ReadySteps(["a", "a", "b", "a", "b"], limits)
    ready.extend(range(5))
    taken = [ready.take(), ready.take(), ready.take()]
    assert taken == [0, 2, 4]  # 1 and 3 wait for 0: pool p is full
    assert ready.take() is None and ready
    ready.finished(2)
    assert ready.take() is None  # b's step freed no slot of pool p
    ready.finished(0)
    assert ready.take() == 1
    assert ready.take() is None
    ready.finished(1)
    assert ready.take() == 3
    assert not ready


def test_ready_steps_without_limits_keep_the_order_they_became_ready() -> None:
    ready = ReadySteps(["a", "b", "a"], {})
    ready.extend([2, 0, 1])
    assert [ready.take(), ready.take(), ready.take(), ready.take()] == [2, 0, 1, None]
