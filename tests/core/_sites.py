"""The sales example on local disk or S3 (moto), with a SQLite or PostgreSQL catalog.

Shared by the garbage collection and health check tests: a :class:`Site` is a project
plus direct access to its store's files, to plant leftovers and damage as a crash, a
bad disk or a careless hand would.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pytest
from sqlalchemy.engine import make_url

from partita import Project
from partita.storage import VersionRecord
from tests.conftest import postgres_execute, postgres_url

STORES = ("local", "s3")
CATALOGS = ("sqlite", "postgresql")
DAYS = ("2026-04-07", "2026-04-08")


@dataclass
class Site:
    """A project and its store's filesystem."""

    project: Project
    fs: fsspec.AbstractFileSystem
    root: str  # the store root, as ``fs`` spells it

    def put(self, path: str, data: bytes) -> None:
        """Write a file at a path relative to the store root."""
        full = f"{self.root}/{path}"
        self.fs.makedirs(full.rpartition("/")[0], exist_ok=True)
        self.fs.pipe_file(full, data)

    def read(self, path: str) -> bytes:
        """The bytes of a file."""
        return bytes(self.fs.cat_file(f"{self.root}/{path}"))

    def remove(self, path: str) -> None:
        """Delete a file."""
        self.fs.rm_file(f"{self.root}/{path}")

    def files(self) -> set[str]:
        """Every file under the root, relative to it."""
        self.fs.invalidate_cache()
        found = self.fs.find(self.root)
        return {name[len(self.root) + 1 :] for name in found}

    def current(self, asset: str) -> dict[str, VersionRecord]:
        """The current committed versions of every partition of ``asset``."""
        keys = list(self.project.catalog.states([asset])[asset])
        return self.project.catalog.versions(asset, keys)

    def build(self, *, force: bool = False) -> None:
        """Materialize clean_sales (and raw_sales) for the test days."""
        result = self.project.backfill("clean_sales", DAYS[0], DAYS[-1], force=force)
        assert result.ok, result.outcomes

    def version_status(self, asset: str, key: str, version_id: str) -> str:
        """A version's status, as the catalog records it."""
        history = self.project.catalog.reports.versions_of(asset, [key])
        return next(v.status for v in history if v.version_id == version_id)


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def site_factory(
    make_example: Callable[[str], Path], request: pytest.FixtureRequest
) -> Iterator[Callable[[str, str], Site]]:
    """The body of a ``make_site`` fixture: ``make_site(store, catalog)`` is a fresh copy
    of the sales example on that store (``local`` or ``s3``) with that catalog
    (``sqlite`` or ``postgresql``); databases it made are dropped afterwards."""
    cleanups: list[Callable[[], None]] = []

    def make(store: str, catalog: str) -> Site:
        folder = make_example("sales")
        lines = ['definitions = "assets.py"']
        if store == "s3":
            bucket, options = request.getfixturevalue("s3_bucket")
            root = f"{bucket}/{uuid.uuid4().hex[:10]}"
            lines += [f'storage = "s3://{root}"', f"storage_options = {_toml(options)}"]
            fs = fsspec.filesystem("s3", skip_instance_cache=True, **options)
        else:
            root = str(folder / ".partita" / "data")
            fs = fsspec.filesystem("file")
        if catalog == "postgresql":
            server = postgres_url()
            name = f"partita_maint_{secrets.token_hex(5)}"
            postgres_execute(server, f'CREATE DATABASE "{name}"')
            cleanups.append(
                lambda: postgres_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            )
            url = make_url(server).set(database=name).render_as_string(hide_password=False)
            lines.append(f'catalog = "{url}"')
        (folder / "partita.toml").write_text("\n".join(lines) + "\n")
        project = Project(folder)
        cleanups.append(project.close)
        return Site(project, fs, root)

    yield make
    for cleanup in reversed(cleanups):
        cleanup()
