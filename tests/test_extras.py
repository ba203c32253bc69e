"""A missing optional package is one error naming the extra that installs it, wherever
partita imports one: the catalog's driver, the store's filesystem, DuckDB, Dask and the
user's definitions. (The install tests check the same from real installs.)"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from pathlib import Path
from typing import Any, cast

import pytest

import partita as pt
from partita._extras import EXTRAS, extra_hint, missing_extra, needs_extra
from partita.core.run.executors import DaskBackend
from partita.errors import ConfigError, DefinitionError, QueryError, StorageError
from partita.storage import DataStore
from partita.storage.catalog.engine import make_engine


def not_installed(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make importing ``modules`` fail as it does where they are not installed."""
    for module in modules:
        for loaded in [m for m in sys.modules if m == module or m.startswith(f"{module}.")]:
            monkeypatch.delitem(sys.modules, loaded)
        monkeypatch.setitem(sys.modules, module, None)


def test_every_mapped_extra_is_declared() -> None:
    declared = set(importlib.metadata.metadata("partita").get_all("Provides-Extra") or [])
    assert set(EXTRAS.values()) <= declared


def test_the_module_of_an_extra_is_found_in_the_chain_of_causes() -> None:
    try:
        try:
            raise ModuleNotFoundError("No module named 's3fs'", name="s3fs")
        except ImportError as exc:
            raise ImportError("Install s3fs to access S3") from exc
    except ImportError as exc:
        found = missing_extra(exc)

    assert found is not None
    assert (found.module, found.extra) == ("s3fs", "s3")
    assert found.command == "pip install 'partita[s3]'"


def test_a_submodule_counts_as_its_package() -> None:
    found = missing_extra(ModuleNotFoundError(name="distributed.comm"))
    assert found is not None and found.extra == "dask"


@pytest.mark.parametrize(
    "error",
    [ModuleNotFoundError(name="no_such_module"), ImportError("no name"), ValueError("psycopg")],
)
def test_other_errors_name_no_extra(error: Exception) -> None:
    assert missing_extra(error) is None
    assert needs_extra("partita query", error) is None
    assert extra_hint(error) == ""


def test_the_wording() -> None:
    error = ModuleNotFoundError(name="duckdb")
    assert needs_extra("partita query", error) == (
        "partita query needs the query extra: pip install 'partita[query]' (duckdb is missing)"
    )
    assert extra_hint(ModuleNotFoundError(name="pandas")) == (
        "; pandas is in the pandas extra: pip install 'partita[pandas]'"
    )
    assert needs_extra("partita ui", ImportError("broken"), default="ui") == (
        "partita ui needs the ui extra: pip install 'partita[ui]'"
    )


def test_an_s3_store_without_s3fs(monkeypatch: pytest.MonkeyPatch) -> None:
    not_installed(monkeypatch, "s3fs")
    # Forget the class if s3fs was imported before (`fsspec.registry` is a view of this).
    known = importlib.import_module("fsspec.registry")._registry
    monkeypatch.delitem(known, "s3", raising=False)

    with pytest.raises(StorageError) as raised:
        DataStore("s3://bucket/data")

    assert str(raised.value) == (
        "the data store s3://bucket/data needs the s3 extra: pip install 'partita[s3]' "
        "(s3fs is missing)"
    )


def test_a_postgres_catalog_without_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    not_installed(monkeypatch, "psycopg")

    with pytest.raises(ConfigError) as raised:
        make_engine("postgresql+psycopg://partita:secret@127.0.0.1:1/catalog")

    assert str(raised.value) == (
        "the catalog postgresql+psycopg://partita:***@127.0.0.1:1/catalog needs the postgres "
        "extra: pip install 'partita[postgres]' (psycopg is missing)"
    )


def test_the_dask_executor_without_distributed(monkeypatch: pytest.MonkeyPatch) -> None:
    not_installed(monkeypatch, "distributed")

    with pytest.raises(ConfigError, match=r"pip install 'partita\[dask\]' \(distributed is"):
        DaskBackend(cast(Any, None), 1, None)


def test_definitions_importing_pandas_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_installed(monkeypatch, "pandas")
    (tmp_path / "partita.toml").write_text('definitions = "assets.py"\n')
    (tmp_path / "assets.py").write_text("import pandas\n")

    with pytest.raises(DefinitionError) as raised:
        pt.Project(tmp_path).definitions  # noqa: B018 - loading them is the point

    assert str(raised.value).endswith(
        "; pandas is in the pandas extra: pip install 'partita[pandas]'"
    )


def test_a_query_without_duckdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    not_installed(monkeypatch, "duckdb")
    (tmp_path / "partita.toml").write_text('definitions = "assets.py"\n')
    (tmp_path / "assets.py").write_text("")
    project = pt.Project(tmp_path)

    with pytest.raises(QueryError) as raised:
        try:
            project.query("select 1")
        finally:
            project.close()

    assert str(raised.value) == (
        "partita query needs the query extra: pip install 'partita[query]' (duckdb is missing)"
    )
