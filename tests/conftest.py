"""Shared fixtures: factories for example projects and for running the installed CLI."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
BIN = Path(sys.executable).parent


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


@pytest.fixture
def run_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the installed ``partita`` in a project directory."""

    def run(
        project: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [partita_executable(), *args],
            cwd=project,
            env=cli_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


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
