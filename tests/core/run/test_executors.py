"""Executors: the same backfill on threads, processes and Dask, and workers that die."""

from __future__ import annotations

import datetime as dt
import os
import signal
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import partita as pt
from partita.core.run.executors import check_source
from tests.conftest import _require

NOW = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
DEFS = """
import datetime as dt
import os
import time
from pathlib import Path

import pyarrow as pa

import partita as pt

daily = pt.DailyPartitions(start="2026-04-01", timezone="UTC")
STARTED = Path({started!r})
HOLD = {hold!r}  # a file that must exist before a slow step ends, if any


@pt.asset(partitions=daily)
def numbers(ctx: pt.Context) -> pa.Table:
    day = int(ctx.partition_key[-2:])
    return pa.table({{"day": [day] * 100, "n": list(range(100))}})


@pt.asset(partitions=daily)
def slow(ctx: pt.Context, numbers: pa.Table) -> pa.Table:
    # Say which process runs the step, then stay in it until the test lets it end.
    (STARTED / f"{{ctx.partition_key}}-{{os.getpid()}}-{{ctx.attempt}}").touch()
    time.sleep({delay})
    deadline = time.monotonic() + 120  # only a test that never lets it end gets near it
    while HOLD and not Path(HOLD).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return numbers.append_column("twice", pa.compute.multiply(numbers["n"], 2))
"""
DAYS = ("2026-04-01", "2026-04-08")


@pytest.fixture
def project(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[pt.Project]:
    """A project whose ``slow`` steps last until a file ``release`` is there (so a worker
    can be killed in the middle of one: see kill_first_worker), or take 0.1 s in tests
    marked ``quick``."""
    quick = request.node.get_closest_marker("quick") is not None
    release = tmp_path / "release"
    if quick:
        release.touch()
    started = tmp_path / "started"
    started.mkdir()
    module = f"defs_{uuid.uuid4().hex}"
    root = tmp_path / "project"
    root.mkdir()
    (root / "partita.toml").write_text(f'definitions = "{module}.py"\n')
    (root / f"{module}.py").write_text(
        textwrap.dedent(
            DEFS.format(started=str(started), delay=0.1 if quick else 0, hold=str(release))
        )
    )
    with pt.Project(root, clock=lambda: NOW) as opened:
        yield opened


def started_steps(project: pt.Project) -> list[tuple[str, int]]:
    """``(partition, pid)`` of each started attempt of ``slow``, oldest first."""
    folder = project.root.parent / "started"
    found = sorted(folder.iterdir(), key=lambda path: path.stat().st_mtime_ns)
    return [(p.name[:10], int(p.name.split("-")[3])) for p in found]


def kill_first_worker(project: pt.Project, killed: list[int]) -> None:
    """SIGKILL the process running the first ``slow`` step, while it runs; then let the
    ``slow`` steps end."""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            steps = started_steps(project)
            if steps:
                pid = steps[0][1]
                assert pid != os.getpid()
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.02)  # waiting for a step to start, not for time
    finally:
        (project.root.parent / "release").touch()


def check_complete(project: pt.Project, result: Any) -> None:
    """Every partition built once, its files whole, nothing else visible in the store."""
    assert result.ok, [(o.asset, o.partition, o.detail) for o in result.outcomes]
    assert result.count("succeeded") == 16
    current: set[str] = set()
    for asset in ("numbers", "slow"):
        versions = project.catalog.versions(asset, [f"2026-04-{d:02d}" for d in range(1, 9)])
        assert len(versions) == 8
        for version in versions.values():
            current.update(version.files)
    table = project.read("slow", "2026-04-03")
    assert table.num_rows == 100 and table.column("twice").to_pylist()[-1] == 198
    root = Path(project.source.storage)
    visible = {path.relative_to(root).as_posix() for path in root.rglob("part-*")}
    assert visible == current  # no partial or orphaned file under a visible name
    for path in visible:
        pq.read_table(root / path)
    rerun = project.backfill("slow", *DAYS)
    assert rerun.count("succeeded") == 0


@pytest.mark.quick
@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_a_backfill_on_threads_and_processes(project: pt.Project, executor: str) -> None:
    result = project.backfill("slow", *DAYS, options=pt.RunOptions(executor=executor, workers=2))
    check_complete(project, result)
    pids = {pid for _, pid in started_steps(project)}
    assert (pids == {os.getpid()}) == (executor == "threads")


def test_a_killed_process_worker_s_step_runs_again(project: pt.Project) -> None:
    killed: list[int] = []
    killer = threading.Thread(target=kill_first_worker, args=(project, killed))
    killer.start()
    result = project.backfill("slow", *DAYS, options=pt.RunOptions(executor="processes", workers=2))
    killer.join()
    assert killed
    check_complete(project, result)
    partition = started_steps(project)[0][0]
    ran = [pid for key, pid in started_steps(project) if key == partition]
    assert len(ran) >= 2 and ran[0] in killed and ran[-1] not in killed
    logs = [line.message for line in project.logs(result.run_id, "slow", partition)]
    assert any("worker process died" in message for message in logs), logs


def test_a_killed_dask_worker_s_step_runs_elsewhere(project: pt.Project) -> None:
    distributed = _require("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address="127.0.0.1:0",
            host="127.0.0.1",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        workers = client.run(os.getpid)
        killed: list[int] = []
        killer = threading.Thread(target=kill_first_worker, args=(project, killed))
        killer.start()
        on_cluster = pt.RunOptions(
            executor="dask", workers=2, dask_address=cluster.scheduler_address
        )
        result = project.backfill("slow", *DAYS, options=on_cluster)
        killer.join()
    assert killed and killed[0] in workers.values()
    check_complete(project, result)
    partition = started_steps(project)[0][0]
    ran = [pid for key, pid in started_steps(project) if key == partition]
    assert len(ran) >= 2 and ran[0] in killed and ran[-1] not in killed


@pytest.mark.quick
def test_the_dask_executor_starts_a_local_cluster(project: pt.Project) -> None:
    _require("distributed")
    result = project.backfill("slow", *DAYS, options=pt.RunOptions(executor="dask", workers=2))
    check_complete(project, result)
    assert os.getpid() not in {pid for _, pid in started_steps(project)}


def test_remote_executors_need_storage_every_worker_sees(tmp_path: Path) -> None:
    root = tmp_path / "memory"
    root.mkdir()
    (root / "partita.toml").write_text('definitions = "defs.py"\nstorage = "memory://x"\n')
    (root / "defs.py").write_text(
        textwrap.dedent(DEFS.format(started=str(tmp_path), delay=0, hold=None))
    )
    with pt.Project(root, clock=lambda: NOW) as project:
        with pytest.raises(pt.ConfigError, match="cannot see memory:// storage"):
            project.backfill("slow", *DAYS, options=pt.RunOptions(executor="processes", workers=2))
        assert project.runs() == []
    with pytest.raises(pt.PlanError, match=r"^workers must be at least 1"):
        pt.RunOptions(workers=0)
    with pytest.raises(pt.PlanError, match="unknown executor 'spark'"):
        pt.RunOptions(executor="spark")
    with pytest.raises(pt.ConfigError, match="not a graph built in memory"):
        check_source(pt.RunOptions(executor="dask", workers=2), None)


def test_a_long_lived_dask_cluster_runs_the_assets_as_they_are_now(
    tmp_path: Path, dask_cluster: str
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "partita.toml").write_text('definitions = "defs.py"\n')
    source = textwrap.dedent(DEFS.format(started=str(tmp_path), delay=0, hold=None))
    (root / "defs.py").write_text(source)
    on_cluster = pt.RunOptions(executor="dask", dask_address=dask_cluster)
    with pt.Project(root, clock=lambda: NOW) as project:
        first = project.backfill("slow", *DAYS, options=on_cluster)
        assert first.ok
    (root / "defs.py").write_text(source.replace('"twice"', '"double"'))
    with pt.Project(root, clock=lambda: NOW) as project:
        second = project.backfill("slow", *DAYS, options=on_cluster)
        assert second.ok and second.count("succeeded") == 8
        assert "double" in project.read("slow", "2026-04-02").column_names
