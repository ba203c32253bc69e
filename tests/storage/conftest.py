"""A fresh catalog database per test, on each backend: SQLite and PostgreSQL; and how
tests record versions in it, the way runs do."""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

from partita.errors import LeaseLostError
from partita.storage import AttemptEnd, Catalog, NewVersion
from tests.conftest import postgres_execute

DAY1 = "2026-04-01"


class CatalogFactory:
    """Opens catalogs on one fresh database; runs raw SQL against it for assertions.

    Attributes:
        url: the database's URL.
        read_only_url: a URL of the same database on which no transaction may write.
    """

    def __init__(
        self,
        url: str,
        execute: Callable[[str, tuple[object, ...]], list[tuple]],
        read_only_url: str,
    ):
        self.url = url
        self.read_only_url = read_only_url
        self._execute = execute
        self._opened: list[Catalog] = []

    def __call__(self, *, lease_seconds: float = 30.0, read_only: bool = False) -> Catalog:
        catalog = Catalog(
            self.read_only_url if read_only else self.url, lease_seconds=lease_seconds
        )
        self._opened.append(catalog)
        return catalog

    def sql(self, statement: str, *params: object) -> list[tuple]:
        """Run SQL directly on the database, bypassing the catalog."""
        return self._execute(statement, params)

    def close(self) -> None:
        for catalog in self._opened:
            catalog.close()


def _sqlite_executor(path: Path) -> Callable[[str, tuple[object, ...]], list[tuple]]:
    def execute(statement: str, params: tuple[object, ...]) -> list[tuple]:
        with contextlib.closing(sqlite3.connect(path)) as conn, conn:
            return conn.execute(statement, params).fetchall()

    return execute


def _sqlite_factory(request: pytest.FixtureRequest) -> CatalogFactory:
    path = request.getfixturevalue("tmp_path") / "catalog.db"
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"  # SQLite refuses every write
    return CatalogFactory(f"sqlite:///{path}", _sqlite_executor(path), read_only)


def _postgres_factory(request: pytest.FixtureRequest) -> CatalogFactory:
    # One database for the session; each test starts from an empty schema in it.
    url = request.getfixturevalue("postgres_database")
    postgres_execute(url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    read_only = (
        make_url(url)
        .update_query_dict({"options": "-c default_transaction_read_only=on"})
        .render_as_string(hide_password=False)
    )
    return CatalogFactory(url, functools.partial(postgres_execute, url), read_only)


# Each backend: how to make a fresh database and open catalogs on it.
BACKENDS: dict[str, Callable[[pytest.FixtureRequest], CatalogFactory]] = {
    "sqlite": _sqlite_factory,
    "postgres": _postgres_factory,
}


@pytest.fixture(params=sorted(BACKENDS))
def make_catalog(request: pytest.FixtureRequest) -> Iterator[CatalogFactory]:
    """Open catalogs (several handles, like several processes) on one fresh database."""
    factory = BACKENDS[request.param](request)
    yield factory
    factory.close()


def new_version(
    version_id: str, data: str = "d1", *, code: str = "c1", run: str = "run-1"
) -> NewVersion:
    """A version to commit, with made-up files and inputs."""
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


def finish(
    catalog: Catalog,
    owner: str,
    asset: str,
    partition: str,
    token: int,
    version: NewVersion | None = None,
    *,
    error: str | None = None,
    run_id: str | None = None,
) -> str | LeaseLostError | None:
    """End one attempt at ``(asset, partition)`` the way runs do, through
    ``finish_attempts``: commit ``version`` if ``owner`` still holds the lease with
    ``token``, then give the lease back. The attempt is the only one of a step of a run
    of its own (``run_id``, by default ``build-...``); returns what ``finish_attempts``
    returned for it."""
    run_id = run_id or f"build-{uuid.uuid4().hex[:12]}"
    step = catalog.create_run(run_id, "materialize", [asset], [(asset, partition, "missing")])
    step_id = step[(asset, partition)]
    (attempt,) = catalog.start_attempts(run_id, [(step_id, 1)])
    end = AttemptEnd(attempt, step_id, asset, partition, token, version=version, error=error)
    (result,) = catalog.finish_attempts(owner, [end])
    return result


def build(
    catalog: Catalog, asset: str, partition: str, version: NewVersion, owner: str = "w"
) -> None:
    """Take the lease, commit ``version`` and give the lease back (a successful step)."""
    token = catalog.acquire(asset, partition, owner)
    assert token is not None
    result = finish(catalog, owner, asset, partition, token, version)
    assert not isinstance(result, LeaseLostError), result


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
