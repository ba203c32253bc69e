"""A fresh catalog database per test, on each backend: SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from partita.storage import Catalog
from tests.conftest import postgres_execute


class CatalogFactory:
    """Opens catalogs on one fresh database; runs raw SQL against it for assertions."""

    def __init__(self, url: str, execute: Callable[[str, tuple[object, ...]], list[tuple]]):
        self.url = url
        self._execute = execute
        self._opened: list[Catalog] = []

    def __call__(self, *, lease_seconds: float = 30.0) -> Catalog:
        catalog = Catalog(self.url, lease_seconds=lease_seconds)
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
    return CatalogFactory(f"sqlite:///{path}", _sqlite_executor(path))


def _postgres_factory(request: pytest.FixtureRequest) -> CatalogFactory:
    # One database for the session; each test starts from an empty schema in it.
    url = request.getfixturevalue("postgres_database")
    postgres_execute(url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    return CatalogFactory(url, functools.partial(postgres_execute, url))


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
