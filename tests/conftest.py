"""Shared fixtures: example projects, the installed CLI, a PostgreSQL server, S3 (moto) and
a Dask cluster; the test tiers and the hypothesis profiles.

Tiers: ``slow`` marks, automatically, every test in an end-to-end folder and every test
that uses a fixture starting a real process, server or browser (:data:`SLOW_FOLDERS`,
:data:`SLOW_FIXTURES`); ``-m "not slow"`` is the fast tier (``scripts/test --fast``).
Hypothesis runs more examples with ``CI=true`` than on a developer's machine
(``HYPOTHESIS_PROFILE=ci`` or ``dev`` chooses).
"""

from __future__ import annotations

import fcntl
import importlib
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import hypothesis
import pytest
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
CI = os.environ.get("CI", "").lower() == "true"
EXAMPLES = REPO / "examples"
BIN = Path(sys.executable).parent
# The PostgreSQL server the tests may use: its maintenance database, where they create
# and drop their own. CI must have one, so there a missing server fails instead of skipping.
POSTGRES_URL = os.environ.get(
    "PARTITA_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


hypothesis.settings.register_profile("ci", max_examples=100, deadline=None)
hypothesis.settings.register_profile("dev", max_examples=20, deadline=None)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if CI else "dev"))

# Folders of end-to-end tests, fixtures that start a real process, server or browser, and
# the parameters that put a test on a server (a backend on PostgreSQL or S3): a test in
# one, or using one, is `slow` (left out of the fast tier).
SLOW_FOLDERS = frozenset({"e2e"})
SERVER_PARAMETERS = frozenset({"postgres", "postgresql", "s3"})
SLOW_FIXTURES = frozenset(
    {
        "run_process",
        "start_process",
        "partita_wheel",
        "postgres_database",
        "make_postgres_database",
        "s3_bucket",
        "dask_cluster",
        "ui_server",
        "page",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folders = set(item.path.relative_to(REPO / "tests").parts[:-1])
        uses = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        on = {v for v in (callspec.params.values() if callspec else ()) if isinstance(v, str)}
        if folders & SLOW_FOLDERS or uses & SLOW_FIXTURES or on & SERVER_PARAMETERS:
            item.add_marker(pytest.mark.slow)


def listening_url(process: subprocess.Popen[str], line: re.Pattern[str], limit: float) -> str:
    """The URL a server ``process`` prints on stdout once it listens: group 1 of the first
    line matching ``line``, read within ``limit`` seconds, else the empty string."""
    found: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for printed in process.stdout:
            match = line.match(printed.strip())
            if match:
                found.append(match.group(1))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(limit)
    return found[0] if found else ""


def interrupt(process: subprocess.Popen[str], grace: float = 30) -> None:
    """Stop a process as Ctrl-C would (SIGINT); kill it if it lingers past ``grace`` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def partita_executable() -> str:
    """The installed console script next to the running interpreter."""
    found = BIN / "partita"
    return str(found) if found.exists() else shutil.which("partita") or "partita"


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for CLI subprocesses: no inherited partita overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARTITA_", "SALES_API"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "200"
    env.update(extra or {})
    return env


def postgres_url() -> str:
    """The URL of the test PostgreSQL server's maintenance database, once it answers.

    Skips the test when the server (or psycopg) is missing, except with ``CI=true``,
    where that fails the test.
    """
    where = make_url(POSTGRES_URL).render_as_string()  # password hidden
    psycopg = _require("psycopg")
    try:
        with psycopg.connect(_libpq_url(POSTGRES_URL), connect_timeout=5):
            pass
    except psycopg.Error as exc:
        _unavailable(f"PostgreSQL at {where} is unreachable: {exc}")
    return POSTGRES_URL


def _unavailable(reason: str) -> NoReturn:
    if CI:
        pytest.fail(reason)
    pytest.skip(reason, allow_module_level=True)  # also from a test module's top level


def _require(module: str) -> Any:
    """Import an optional test dependency: skip without it, except on CI where it must run."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        _unavailable(f"these tests need {module}: {exc}")


def _libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://...``) as libpq spells it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# Left out of copies of the repository or an example: what a checkout's .gitignore leaves
# out (state, caches, earlier builds: a stale module in build/ would slip into a wheel).
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".partita",
    "__pycache__",
    "*.egg-info",
    "build",
    "dist",
    "site",
    ".*_cache",
    ".hypothesis",
    "*.bak",
)


PIP = (sys.executable, "-m", "pip")


def pip_env() -> dict[str, str]:
    """The environment for pip in tests: no configuration file, PIP_ variable or
    virtualenv of the caller's, so that only the options given count."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "PARTITA_", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"))
    }
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return env


def made_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]
) -> Path:
    """A folder that ``make`` fills once per test run: pytest-xdist's workers share it (the
    first to ask makes it, under a lock, while the others wait)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # this run's folder, above the workers' own
    folder = root / name
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / f"{name}.done").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            (root / f"{name}.done").touch()
    return folder


@pytest.fixture(scope="session")
def partita_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the working tree, built once per test run from a copy of it.

    ``--no-build-isolation``: setuptools and wheel come from the test extra, so the build
    needs no package index.
    """

    def build(folder: Path) -> None:
        shutil.copytree(REPO, folder / "source", ignore=NOT_SOURCE)
        options = ("--no-deps", "--no-build-isolation", "--wheel-dir", str(folder))
        built = subprocess.run(
            [*PIP, "wheel", *options, str(folder / "source")],
            env=pip_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        assert built.returncode == 0, built.stdout + built.stderr

    (wheel,) = made_once(tmp_path_factory, "wheel", build).glob("partita-*.whl")
    return wheel


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for the test session (dropped at its end): its URL."""
    import psycopg

    server = postgres_url()
    name = f"partita_test_{secrets.token_hex(6)}"
    with psycopg.connect(_libpq_url(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq_url(server), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def make_postgres_database() -> Iterator[Callable[[], str]]:
    """A factory of fresh PostgreSQL databases (each dropped when the test ends): their URLs."""
    import psycopg

    server = postgres_url()
    made: list[str] = []

    def make() -> str:
        name = f"partita_test_{secrets.token_hex(6)}"
        with psycopg.connect(_libpq_url(server), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return make_url(server).set(database=name).render_as_string(hide_password=False)

    yield make
    with psycopg.connect(_libpq_url(server), autocommit=True) as conn:
        for name in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_execute(url: str, statement: str, params: tuple[object, ...] = ()) -> list[tuple]:
    """Run one statement on a PostgreSQL database (``?`` placeholders, as in SQLite)."""
    import psycopg

    with psycopg.connect(_libpq_url(url), autocommit=True) as conn:
        cursor = conn.execute(statement.replace("?", "%s"), params)
        return cursor.fetchall() if cursor.description is not None else []


def postgres_text(url: str) -> list[tuple[str, str, str]]:
    """Every text value in every table of a PostgreSQL database: (table, column, value)."""
    columns = postgres_execute(
        url,
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'public' and data_type in ('text', 'character varying')",
    )
    return [
        (table, column, value)
        for table, column in columns
        for (value,) in postgres_execute(url, f'select "{column}" from "{table}"')
        if value is not None
    ]


@pytest.fixture(scope="session")
def s3_bucket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    """A fresh bucket on a moto S3 server bound to 127.0.0.1, and the s3fs options to reach it.

    The AWS variables are fakes, set for this process while the server runs, so botocore
    never looks for real credentials, profiles or instance metadata.
    """
    _require("s3fs")
    _require("moto.server")
    import fsspec
    from moto.server import ThreadedMotoServer

    nowhere = str(tmp_path_factory.mktemp("aws") / "none")
    with pytest.MonkeyPatch.context() as env:
        for name in (
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
        ):
            env.delenv(name, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        env.setenv("AWS_CONFIG_FILE", nowhere)
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", nowhere)
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            options: dict[str, Any] = {
                "endpoint_url": f"http://{host}:{port}",
                "key": "testing",
                "secret": "testing",
                "client_kwargs": {"region_name": "eu-west-1"},
            }
            bucket = f"partita-test-{uuid.uuid4().hex[:12]}"
            fsspec.filesystem("s3", skip_instance_cache=True, **options).mkdir(bucket)
            yield bucket, options
        finally:
            server.stop()


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[str]:
    """A local Dask cluster (two single-threaded worker processes on 127.0.0.1) for the
    test session: its scheduler's address. Tests that stop or kill workers make their own."""
    distributed = _require("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address="127.0.0.1:0",
        host="127.0.0.1",
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def make_example(tmp_path: Path) -> Callable[[str], Path]:
    """Copy an example project (without its state) into a fresh folder."""

    def make(name: str = "sales") -> Path:
        target = tmp_path / name
        shutil.copytree(
            EXAMPLES / name, target, ignore=shutil.ignore_patterns(".partita", "__pycache__")
        )
        return target

    return make


RunCli = Callable[..., subprocess.CompletedProcess[str]]


def run_partita(
    project: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``partita`` as a real process in a project directory."""
    return subprocess.run(
        [partita_executable(), *args],
        cwd=project,
        env=cli_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def invoke_partita(
    project: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``partita`` in this process (tests/inprocess.py), as :func:`run_partita` would."""
    from tests import inprocess

    del timeout  # a call in this process cannot be stopped; only a hang would need it
    return inprocess.run(project, list(args), cli_env(env))


@pytest.fixture
def run_cli() -> RunCli:
    """Run ``partita`` in a project directory, in this process: ``run_cli(project, *args,
    env=...)`` gives the exit code, stdout and stderr a real process would."""
    return invoke_partita


@pytest.fixture
def run_process() -> RunCli:
    """Run the installed ``partita`` as a real process: for what only a process shows (the
    entry point, signals, several processes at once)."""
    return run_partita


@pytest.fixture
def start_process() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start the installed ``partita`` in the background: ``start_process(project, *args,
    env=...)`` gives the process, its stdout and stderr piped as text. Whatever is still
    running when the test ends is killed."""
    started: list[subprocess.Popen[str]] = []

    def start(
        project: Path, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [partita_executable(), *args],
            cwd=project,
            env=cli_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=60)


def code_blocks(markdown: str, language: str) -> list[str]:
    """The bodies of the page's code blocks in ``language``, in order."""
    blocks: list[str] = []
    fence: str | None = None
    lines: list[str] = []
    for raw in markdown.splitlines():
        line = raw.strip()
        if fence is None:
            if line.startswith("```"):
                fence, lines = line.removeprefix("```").strip(), []
        elif line.startswith("```"):
            if fence == language:
                blocks.append("\n".join(lines))
            fence = None
        else:
            lines.append(raw)
    return blocks


def catalog_query(project: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    """Read the project's SQLite catalog directly (for assertions only)."""
    with sqlite3.connect(project / ".partita" / "catalog.db") as conn:
        return conn.execute(sql, params).fetchall()


def data_files(project: Path, asset: str) -> dict[str, list[str]]:
    """Every file (hidden ones included) in each partition folder of an asset."""
    root = project / ".partita" / "data" / asset
    if not root.exists():
        return {}
    return {
        folder.name: sorted(f.name for f in folder.iterdir())
        for folder in sorted(root.iterdir())
        if folder.is_dir()
    }


@pytest.fixture
def sales(make_example: Callable[[str], Path]) -> Iterator[Path]:
    """A fresh copy of examples/sales."""
    yield make_example("sales")


@pytest.fixture
def events(make_example: Callable[[str], Path]) -> Iterator[Path]:
    """A fresh copy of examples/events."""
    yield make_example("events")
