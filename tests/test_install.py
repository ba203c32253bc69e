"""Every way to install partita works: the wheel with its base dependencies alone runs a
pipeline, each extra makes its command work, and without an extra that command says, in
one line, which extra to install.

The virtualenvs are installed by pip from the wheelhouse that ``scripts/setup --test``
fills (``--no-index``: the tests never reach a package index). The base virtualenv is made
once per run; each extra's is a copy of it (hard links: the files are never written in
place) into which pip installs ``partita[extra]``, as a user adds an extra later.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pytest

import partita
from tests.conftest import PIP, _unavailable, interrupt, listening_url, made_once, pip_env

# What `scripts/setup --test` fills; PARTITA_TEST_WHEELHOUSE names another.
WHEELHOUSE = Path(os.environ.get("PARTITA_TEST_WHEELHOUSE") or Path(sys.prefix) / "wheelhouse")
EXTRA_MODULES = {
    "ui": ("fastapi", "uvicorn", "jinja2"),
    "query": ("duckdb",),
    "dask": ("distributed",),
    "s3": ("s3fs",),
    "postgres": ("psycopg",),
    "pandas": ("pandas",),
}
COMMAND_TIMEOUT = 180  # seconds; only a hang gets near it
DAY = "2026-04-02"
LISTENING = re.compile(r"^partita ui: (http://\S+)$")

ASSETS = '''
import pyarrow as pa

import partita as pt

daily = pt.DailyPartitions(start="2026-04-01", timezone="UTC")


@pt.asset(partitions=daily)
def orders(ctx: pt.Context) -> pa.Table:
    """Three orders a day."""
    return pa.table({"day": [ctx.partition_key] * 3, "amount": [1, 2, 3]})


@pt.asset(partitions=daily)
def totals(ctx: pt.Context, orders: pa.Table) -> dict:
    """The day's total."""
    return {"day": ctx.partition_key, "total": sum(orders.column("amount").to_pylist())}
'''

PANDAS_ASSETS = '''
import pandas as pd

import partita as pt


@pt.asset(partitions=pt.DailyPartitions(start="2026-04-01", timezone="UTC"))
def prices(ctx: pt.Context) -> pd.DataFrame:
    """A pandas DataFrame, written as Parquet."""
    return pd.DataFrame({"day": [ctx.partition_key] * 2, "price": [1.25, 2.5]})
'''


@dataclass(frozen=True)
class Venv:
    """A virtualenv made by the tests, and ways to run what it installed."""

    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def env(self) -> dict[str, str]:
        """The caller's environment with this virtualenv's bin first on PATH, and nothing
        that would point Python or partita elsewhere."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PARTITA_", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"))
        }
        env.update(
            PATH=f"{self.path / 'bin'}{os.pathsep}{env['PATH']}", COLUMNS="200", NO_COLOR="1"
        )
        return env

    def run(self, project: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
        """Run a command of this virtualenv's bin (``partita``, ``python``) in ``project``."""
        command, *rest = args
        return subprocess.run(
            [str(self.path / "bin" / command), *map(str, rest)],
            cwd=project,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )

    def partita(self, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the virtualenv's ``partita`` console script in ``project``; it must succeed."""
        done = self.run(project, "partita", *args)
        assert done.returncode == 0, f"partita {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done


def pip_install(venv: Path, *requirements: str, wheelhouse: Path) -> None:
    """``pip install --no-index`` into ``venv`` (which needs no pip of its own)."""
    target = ("--python", str(venv / "bin" / "python"))
    index = ("--no-index", "--find-links", str(wheelhouse))
    done = subprocess.run(
        [*PIP, *target, "install", "--quiet", *index, *requirements],
        env=pip_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"pip install {requirements}:\n{done.stdout}{done.stderr}"


def copy_venv(source: Path, target: Path) -> None:
    """A copy of a virtualenv that works on its own: files are hard links (pip and Python
    replace files, never write into them), and the scripts in bin that named the source's
    interpreter name the copy's."""
    shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)
    for script in (target / "bin").iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        text = script.read_bytes()
        if str(source).encode() in text:
            mode = script.stat().st_mode
            script.unlink()  # a new file: the source's stays as it is
            script.write_bytes(text.replace(str(source).encode(), str(target).encode()))
            script.chmod(mode)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def write_project(
    folder: Path, assets: str = ASSETS, settings: Mapping[str, Any] | None = None
) -> Path:
    """A project: ``assets.py``, and a ``partita.toml`` naming it, with ``settings``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "assets.py").write_text(assets)
    values = {"definitions": "assets.py", **(settings or {})}
    (folder / "partita.toml").write_text("".join(f"{k} = {_toml(v)}\n" for k, v in values.items()))
    return folder


def _toml(value: Any) -> str:
    """A string, or a table of them, as a TOML value (tables inline)."""
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def fresh_counts(status: subprocess.CompletedProcess[str]) -> dict[str, int]:
    """Each asset's count of fresh partitions, from ``partita status --json``."""
    return {row["asset"]: row["counts"]["fresh"] for row in json.loads(status.stdout)}


def assert_names_extra(done: subprocess.CompletedProcess[str], extra: str) -> None:
    """The command failed with one line saying which extra to install."""
    assert done.returncode != 0, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), done.stderr
    assert f"pip install 'partita[{extra}]'" in lines[0], done.stderr


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """The folder of wheels of every dependency, or a skip (on CI: a failure) without it."""
    if not any(WHEELHOUSE.glob("*.whl")):
        _unavailable(f"no wheelhouse at {WHEELHOUSE}: `scripts/setup --test` fills it")
    return WHEELHOUSE


@pytest.fixture(scope="session")
def base_venv(
    wheelhouse: Path, partita_wheel: Path, tmp_path_factory: pytest.TempPathFactory
) -> Venv:
    """A virtualenv with the wheel and its base dependencies only, made once per run."""

    def make(folder: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", folder / "venv"], check=True)
        pip_install(folder / "venv", str(partita_wheel), wheelhouse=wheelhouse)

    return Venv(made_once(tmp_path_factory, "install-base", make) / "venv")


@pytest.fixture
def venv_with(
    base_venv: Venv, partita_wheel: Path, wheelhouse: Path, tmp_path: Path
) -> Callable[[str], Venv]:
    """A copy of the base virtualenv with one extra installed: ``pip install partita[extra]``."""

    def make(extra: str) -> Venv:
        target = tmp_path / f"venv-{extra}"
        copy_venv(base_venv.path, target)
        pip_install(target, f"partita[{extra}] @ {partita_wheel.as_uri()}", wheelhouse=wheelhouse)
        return Venv(target)

    return make


# The base install.


def test_base_install_has_no_optional_package(base_venv: Venv, tmp_path: Path) -> None:
    modules = [m for modules in EXTRA_MODULES.values() for m in modules]
    probe = "import sys, importlib.util as u; print([m for m in sys.argv[1:] if u.find_spec(m)])"
    done = base_venv.run(tmp_path, "python", "-c", probe, *modules)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_base_install_help(base_venv: Venv, tmp_path: Path) -> None:
    done = base_venv.partita(tmp_path, "--help")
    assert "materialize" in done.stdout
    assert done.stderr == ""


def test_base_install_version_and_module(base_venv: Venv, tmp_path: Path) -> None:
    version = base_venv.partita(tmp_path, "--version")
    assert partita.__version__ in version.stdout
    module = base_venv.run(tmp_path, "python", "-m", "partita", "--help")
    assert module.returncode == 0, module.stderr
    assert "materialize" in module.stdout


def test_base_install_materializes_shows_and_reads(base_venv: Venv, tmp_path: Path) -> None:
    project = write_project(tmp_path / "project")

    built = base_venv.partita(project, "materialize", "totals", "--partition", DAY)
    status = base_venv.partita(project, "status", "--json")
    read = base_venv.partita(project, "read", "totals", "--partition", DAY)

    assert "2 built" in built.stdout
    assert fresh_counts(status) == {"orders": 1, "totals": 1}
    assert json.loads(read.stdout) == {"day": DAY, "total": 6}
    rows = base_venv.partita(project, "read", "orders", "--partition", DAY)
    assert "3 rows" in rows.stdout


# One smoke check per extra: without it (in the base install), its command names it; with
# it, the command works.


def test_ui_extra(base_venv: Venv, venv_with: Callable[[str], Venv], tmp_path: Path) -> None:
    project = write_project(tmp_path / "project")
    assert_names_extra(base_venv.run(project, "partita", "ui", "--port", "0"), "ui")

    venv = venv_with("ui")
    with _serving(venv, project) as url, urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        page = response.read().decode()
    assert "orders" in page and "totals" in page


def test_query_extra(base_venv: Venv, venv_with: Callable[[str], Venv], tmp_path: Path) -> None:
    project = write_project(tmp_path / "project")
    base_venv.partita(project, "materialize", "orders", "--partition", DAY)
    select = "select count(*) as orders, max(amount) as top from orders"
    assert_names_extra(base_venv.run(project, "partita", "query", select), "query")

    done = venv_with("query").partita(project, "query", select, "--format", "json")

    assert json.loads(done.stdout) == [{"orders": 3, "top": 3}]


def test_dask_extra(base_venv: Venv, venv_with: Callable[[str], Venv], tmp_path: Path) -> None:
    project = write_project(tmp_path / "project")
    backfill = ["backfill", "totals", "--from", "2026-04-01", "--to", DAY]
    dask = ["--executor", "dask", "--workers", "1"]
    assert_names_extra(base_venv.run(project, "partita", *backfill, *dask), "dask")

    done = venv_with("dask").partita(project, *backfill, *dask)

    assert "4 built" in done.stdout


def test_s3_extra(
    base_venv: Venv,
    venv_with: Callable[[str], Venv],
    tmp_path: Path,
    s3_bucket: tuple[str, dict[str, Any]],
) -> None:
    bucket, options = s3_bucket
    settings = {"storage": f"s3://{bucket}/install-test", "storage_options": options}
    project = write_project(tmp_path / "project", settings=settings)
    materialize = ["materialize", "totals", "--partition", DAY]
    assert_names_extra(base_venv.run(project, "partita", *materialize), "s3")

    venv = venv_with("s3")
    venv.partita(project, *materialize)
    read = venv.partita(project, "read", "totals", "--partition", DAY)

    assert json.loads(read.stdout) == {"day": DAY, "total": 6}
    s3 = fsspec.filesystem("s3", skip_instance_cache=True, **options)
    assert s3.find(f"{bucket}/install-test/totals/date={DAY}")  # the data is in the bucket


def test_postgres_extra(
    base_venv: Venv,
    venv_with: Callable[[str], Venv],
    tmp_path: Path,
    make_postgres_database: Callable[[], str],
) -> None:
    project = write_project(tmp_path / "project", settings={"catalog": make_postgres_database()})
    assert_names_extra(base_venv.run(project, "partita", "status"), "postgres")

    venv = venv_with("postgres")
    venv.partita(project, "materialize", "totals", "--partition", DAY)
    status = venv.partita(project, "status", "--json")

    assert fresh_counts(status) == {"orders": 1, "totals": 1}


def test_pandas_extra(base_venv: Venv, venv_with: Callable[[str], Venv], tmp_path: Path) -> None:
    project = write_project(tmp_path / "project", assets=PANDAS_ASSETS)
    materialize = ["materialize", "prices", "--partition", DAY]
    assert_names_extra(base_venv.run(project, "partita", *materialize), "pandas")

    venv = venv_with("pandas")
    venv.partita(project, *materialize)
    read = venv.partita(project, "read", "prices", "--partition", DAY)

    assert "2 rows" in read.stdout
    assert "2.5" in read.stdout


@contextlib.contextmanager
def _serving(venv: Venv, project: Path) -> Iterator[str]:
    """``partita ui --port 0`` of a virtualenv: its URL once it listens; stopped with
    SIGINT (Ctrl-C) at the end."""
    process = subprocess.Popen(
        [str(venv.path / "bin" / "partita"), "ui", "--port", "0"],
        cwd=project,
        env=venv.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = ""
    try:
        url = listening_url(process, LISTENING, COMMAND_TIMEOUT)
        assert url, "partita ui printed no URL"
        yield url
    finally:
        interrupt(process)
        errors = process.communicate()[1] if process.stderr else ""
        # Ctrl-C ends it with 0, or 130 (128 + SIGINT) as a shell reports an interrupt.
        assert not url or process.returncode in (0, 130, -signal.SIGINT), errors
