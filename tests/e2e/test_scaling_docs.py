"""The Dask cluster and the Python API of docs/scaling-out.md, run as the page shows them.

The page's ```console blocks run in tests/e2e/test_docs_commands.py. Its cluster setup is a
```bash block instead, for machines that are not this one: a ``dask scheduler``, a
``dask worker`` on each machine, and the ``partita`` commands that use them. This test runs
exactly those lines on this machine -- a scheduler on a free port of 127.0.0.1 and two
workers -- with the test's address in place of the page's, and the page's Python example as
a script in a copy of the example project.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.conftest import BIN, _require, cli_env, code_blocks

PAGE = Path(__file__).resolve().parents[2] / "docs" / "scaling-out.md"
PAGE_HOST = "scheduler.example.com"
PAGE_PORT = "8786"
WORKERS = 2
COMMAND_TIMEOUT = 600  # seconds; only a hang gets near it


def cluster_lines() -> tuple[str, str, list[str]]:
    """The page's ``dask scheduler`` line, its ``dask worker`` line and its ``partita`` lines."""
    lines = [
        line.strip()
        for block in code_blocks(PAGE.read_text(encoding="utf-8"), "bash")
        for line in block.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    (scheduler,) = [line for line in lines if line.startswith("dask scheduler")]
    (worker,) = [line for line in lines if line.startswith("dask worker")]
    commands = [line for line in lines if "partita " in line]
    return scheduler, worker, commands


def here(line: str, port: int) -> str:
    """A line of the page with this machine's scheduler in place of the page's."""
    return line.replace(f"{PAGE_HOST}:{PAGE_PORT}", f"127.0.0.1:{port}")


def scheduler_argv(line: str, port: int) -> list[str]:
    """The page's ``dask scheduler`` line on a free port of the loopback, without dashboard."""
    args = shlex.split(line)
    args[args.index("--port") + 1] = str(port)
    return [str(BIN / "dask"), *args[1:], "--host", "127.0.0.1", "--no-dashboard"]


def worker_argv(line: str, port: int) -> list[str]:
    """The page's ``dask worker`` line, to this machine's scheduler, without dashboard."""
    args = shlex.split(here(line, port))
    return [str(BIN / "dask"), *args[1:], "--host", "127.0.0.1", "--no-dashboard"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_shell(line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A page line as a reader's shell runs it (it may set variables for the command)."""
    result = subprocess.run(
        line,
        shell=True,
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, (
        f"$ {line}\nexited {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}--- stderr ---\n{result.stderr}"
    )
    return result


def fresh_reports(project: Path, start: str, end: str) -> dict[str, int]:
    result = run_shell(f"partita status sales_report --from {start} --to {end} --json", project)
    (status,) = json.loads(result.stdout)
    return status["counts"]


@contextlib.contextmanager
def started(argv: list[str], cwd: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process running while the block runs; terminated (killed if it lingers) after."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=cwd, env=cli_env(), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_page_shows_a_scheduler_workers_and_commands_that_use_them() -> None:
    scheduler, worker, commands = cluster_lines()
    address = f"tcp://{PAGE_HOST}:{PAGE_PORT}"
    assert shlex.split(scheduler)[:2] == ["dask", "scheduler"]
    assert shlex.split(worker)[:3] == ["dask", "worker", address]
    assert "--nthreads 1" in worker
    assert len(commands) == 2
    assert f"--executor dask --workers {WORKERS} --dask-address {address}" in commands[0]
    assert f"PARTITA_EXECUTOR=dask PARTITA_DASK_ADDRESS={address} partita " in commands[1]


def test_page_commands_on_a_dask_cluster(
    make_example: Callable[[str], Path], tmp_path: Path
) -> None:
    distributed = _require("distributed")
    scheduler, worker, commands = cluster_lines()
    project = make_example("sales")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            started(scheduler_argv(scheduler, port), project, tmp_path / "scheduler.log")
        )
        for n in range(WORKERS):
            stack.enter_context(
                started(worker_argv(worker, port), project, tmp_path / f"worker-{n}.log")
            )
        client = stack.enter_context(distributed.Client(address, timeout="60s"))
        client.wait_for_workers(WORKERS, timeout=60)

        for line in commands:
            run_shell(here(line, port), project)

        # The workers, not the partita process, ran the steps: they loaded the project.
        loaded = client.run(
            lambda: list(getattr(sys.modules.get("partita.core.run.tasks"), "_loaded", {}))
        )
        root = str(project.resolve())
        assert any(root in key for keys in loaded.values() for key in keys), loaded
        assert len(client.scheduler_info()["workers"]) == WORKERS  # none was lost

    assert fresh_reports(project, "2026-04-01", "2026-04-04") == {
        "fresh": 4,
        "stale": 0,
        "missing": 0,
    }
    runs = json.loads(run_shell("partita runs --json", project).stdout)
    assert [(run["command"], run["status"]) for run in runs] == [
        ("materialize", "succeeded"),
        ("backfill", "succeeded"),
    ]


def test_page_python_example_backfills_with_processes(
    make_example: Callable[[str], Path],
) -> None:
    (example,) = code_blocks(PAGE.read_text(encoding="utf-8"), "python")
    assert 'executor="processes"' in example
    project = make_example("sales")
    (project / "backfill.py").write_text(example, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "backfill.py"],
        cwd=project,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "succeeded"
    assert fresh_reports(project, "2026-04-01", "2026-04-07")["fresh"] == 7
