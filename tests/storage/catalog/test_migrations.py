"""Catalog schema migrations: old catalogs are upgraded on open, newer ones refused.

Every test runs on SQLite and on PostgreSQL (an empty schema per test). Catalogs made
before migrations existed are built here from the exact DDL that ``create_all`` emitted
for the table definitions of the time (commits 7031b69 and 07d00db of storage/catalog/tables.py)
and from today's tables (what 63a20d6 and later made), then opened by :class:`Catalog`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import BigInteger, create_engine, inspect
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from partita.errors import CatalogError
from partita.storage import Catalog, NewVersion, PartitionState
from partita.storage.catalog.migrations import HEAD, REVISIONS, SCRIPT_LOCATION
from partita.storage.redaction import redact_url
from tests.conftest import postgres_execute
from tests.storage.conftest import build

# create_all's DDL for the first tables (7031b69), as PostgreSQL got it; SQLite got the
# same with INTEGER for SERIAL.
FIRST_SCHEMA = """
CREATE TABLE attempts (
    id SERIAL NOT NULL, step_id INTEGER NOT NULL, run_id VARCHAR NOT NULL,
    number INTEGER NOT NULL, status VARCHAR NOT NULL, started_at FLOAT NOT NULL,
    finished_at FLOAT, error VARCHAR, PRIMARY KEY (id)
);
CREATE INDEX ix_attempts_run_id ON attempts (run_id);
CREATE INDEX ix_attempts_step_id ON attempts (step_id);
CREATE TABLE logs (
    id SERIAL NOT NULL, run_id VARCHAR NOT NULL, step_id INTEGER, attempt INTEGER NOT NULL,
    asset VARCHAR NOT NULL, partition VARCHAR NOT NULL, ts FLOAT NOT NULL,
    level VARCHAR NOT NULL, message VARCHAR NOT NULL, PRIMARY KEY (id)
);
CREATE INDEX ix_logs_run_id ON logs (run_id);
CREATE TABLE partitions (
    asset VARCHAR NOT NULL, partition VARCHAR NOT NULL, version_id VARCHAR,
    code_version VARCHAR, data_version VARCHAR, input_hash VARCHAR, failure VARCHAR,
    lease_owner VARCHAR, lease_token INTEGER NOT NULL, lease_expires FLOAT,
    updated_at FLOAT NOT NULL, PRIMARY KEY (asset, partition)
);
CREATE TABLE runs (
    id VARCHAR NOT NULL, command VARCHAR NOT NULL, targets VARCHAR NOT NULL,
    args VARCHAR NOT NULL, status VARCHAR NOT NULL, started_at FLOAT NOT NULL,
    finished_at FLOAT, host VARCHAR NOT NULL, pid INTEGER NOT NULL, PRIMARY KEY (id)
);
CREATE TABLE steps (
    id SERIAL NOT NULL, run_id VARCHAR NOT NULL, asset VARCHAR NOT NULL,
    partition VARCHAR NOT NULL, reason VARCHAR NOT NULL, status VARCHAR NOT NULL,
    detail VARCHAR, started_at FLOAT, finished_at FLOAT, version_id VARCHAR,
    rows INTEGER, bytes INTEGER, PRIMARY KEY (id)
);
CREATE INDEX ix_steps_asset_partition ON steps (asset, partition);
CREATE INDEX ix_steps_run_id ON steps (run_id);
CREATE TABLE versions (
    id VARCHAR NOT NULL, asset VARCHAR NOT NULL, partition VARCHAR NOT NULL,
    status VARCHAR NOT NULL, kind VARCHAR NOT NULL, files VARCHAR NOT NULL, rows INTEGER,
    bytes INTEGER NOT NULL, data_version VARCHAR NOT NULL, code_version VARCHAR NOT NULL,
    input_hash VARCHAR NOT NULL, inputs VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
    step_id INTEGER, created_at FLOAT NOT NULL, PRIMARY KEY (id)
);
CREATE INDEX ix_versions_asset_partition ON versions (asset, partition);
"""
# What 07d00db added.
DYNAMIC_PARTITIONS = """
CREATE TABLE dynamic_partitions (
    name VARCHAR NOT NULL, "key" VARCHAR NOT NULL, seq INTEGER NOT NULL,
    added_at FLOAT NOT NULL, PRIMARY KEY (name, "key")
);
CREATE UNIQUE INDEX ix_dynamic_partitions_name_seq ON dynamic_partitions (name, seq);
"""
COUNT_COLUMNS = (("steps", "rows"), ("steps", "bytes"), ("versions", "rows"), ("versions", "bytes"))
ASSET, DAY = "sales", "2026-04-01"
BIG = 2**33  # bytes of a partition past INTEGER's range


@dataclass
class Database:
    """One fresh, empty database: its URL and a way to run SQL on it directly."""

    backend: str
    url: str
    sql: Callable[..., list[tuple]]

    def script(self, ddl: str) -> None:
        """Run DDL statements as an old partita's ``create_all`` did."""
        if self.backend == "sqlite":
            ddl = ddl.replace("SERIAL", "INTEGER")
        for statement in filter(str.strip, ddl.split(";")):
            self.sql(statement)

    def tables(self) -> set[str]:
        engine = create_engine(self.url)
        try:
            return set(inspect(engine).get_table_names())
        finally:
            engine.dispose()

    def count_types(self) -> dict[tuple[str, str], bool]:
        """Whether each row or byte count column is declared 64-bit."""
        engine = create_engine(self.url)
        try:
            inspector = inspect(engine)
            return {
                (table, column["name"]): isinstance(column["type"], BigInteger)
                for table in ("steps", "versions")
                for column in inspector.get_columns(table)
                if (table, column["name"]) in COUNT_COLUMNS
            }
        finally:
            engine.dispose()

    def revision(self) -> list[str]:
        return [row[0] for row in self.sql("SELECT version_num FROM alembic_version")]


def _sqlite_sql(path: Path, statement: str, *params: object) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        return conn.execute(statement, params).fetchall()


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> Iterator[Database]:
    if request.param == "sqlite":
        path = request.getfixturevalue("tmp_path") / "catalog.db"
        yield Database("sqlite", f"sqlite:///{path}", functools.partial(_sqlite_sql, path))
        return
    url = request.getfixturevalue("postgres_database")
    postgres_execute(url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    yield Database(
        "postgres", url, lambda statement, *params: postgres_execute(url, statement, params)
    )


@contextlib.contextmanager
def opened(url: str) -> Iterator[Catalog]:
    catalog = Catalog(url)
    try:
        yield catalog
    finally:
        catalog.close()


# What create_all made at 63a20d6, the last commit before migrations: later tables are
# made by the revisions after 0003_bigint_counts.
TABLES_63A20D6 = (
    "runs",
    "steps",
    "attempts",
    "versions",
    "partitions",
    "logs",
    "dynamic_partitions",
)


def old_catalog(database: Database, made_at: str) -> None:
    """A catalog as partita made it at commit ``made_at``, holding a run, a step, a
    version and the partition it is current for (and a dynamic key once those exist)."""
    if made_at == "63a20d6":  # the tables of that time, made by create_all
        engine = create_engine(database.url)
        tables = SQLModel.metadata.tables
        SQLModel.metadata.create_all(engine, tables=[tables[name] for name in TABLES_63A20D6])
        engine.dispose()
    else:
        database.script(FIRST_SCHEMA + (DYNAMIC_PARTITIONS if made_at == "07d00db" else ""))
    database.sql(
        "INSERT INTO runs (id, command, targets, args, status, started_at, finished_at, host, "
        "pid) VALUES ('run-1', 'materialize', '[\"sales\"]', '{}', 'success', 100.0, 105.0, "
        "'old-host', 1)"
    )
    database.sql(
        "INSERT INTO steps (run_id, asset, partition, reason, status, version_id, rows, bytes) "
        "VALUES ('run-1', ?, ?, 'missing', 'success', 'v1', 10, 1234)",
        ASSET,
        DAY,
    )
    database.sql(
        "INSERT INTO versions (id, asset, partition, status, kind, files, rows, bytes, "
        "data_version, code_version, input_hash, inputs, run_id, step_id, created_at) "
        "VALUES ('v1', ?, ?, 'committed', 'parquet', ?, 10, 1234, 'd1', 'c1', 'in-d1', '{}', "
        "'run-1', 1, 104.0)",
        ASSET,
        DAY,
        '["sales/date=2026-04-01/part-v1.parquet"]',
    )
    database.sql(
        "INSERT INTO partitions (asset, partition, version_id, code_version, data_version, "
        "input_hash, lease_token, updated_at) VALUES (?, ?, 'v1', 'c1', 'd1', 'in-d1', 3, 104.0)",
        ASSET,
        DAY,
    )
    if made_at != "7031b69":
        database.sql(
            "INSERT INTO dynamic_partitions (name, key, seq, added_at) "
            "VALUES ('uploads', 'first.csv', 0, 100.0)"
        )


def schema_differences(url: str) -> list[object]:
    """What Alembic's autogenerate would change to make the database match tables.py."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        engine.dispose()


def big_version(version_id: str) -> NewVersion:
    return NewVersion(
        version_id=version_id,
        kind="parquet",
        files=(f"sales/date=2026-04-01/part-{version_id}.parquet",),
        rows=BIG + 1,
        bytes=BIG,
        data_version="d2",
        code_version="c2",
        input_hash="in-d2",
        inputs={},
        run_id="run-2",
    )


# -- catalogs made before migrations existed ----------------------------------------------


@pytest.mark.parametrize("made_at", ["7031b69", "07d00db", "63a20d6"])
def test_an_old_catalog_is_upgraded_to_head_with_its_data(database: Database, made_at: str) -> None:
    old_catalog(database, made_at)

    with opened(database.url) as catalog:
        assert database.revision() == [HEAD]
        assert catalog.states([ASSET])[ASSET][DAY] == PartitionState("v1", "c1", "d1", "in-d1")
        (version,) = catalog.versions(ASSET, [DAY]).values()
        assert (version.version_id, version.rows, version.bytes) == ("v1", 10, 1234)
        assert version.files == ("sales/date=2026-04-01/part-v1.parquet",)
        assert [(run.run_id, run.status) for run in catalog.runs()] == [("run-1", "success")]

        before = [] if made_at == "7031b69" else ["first.csv"]
        assert catalog.add_dynamic_keys("uploads", ["second.csv"]) == ["second.csv"]
        assert catalog.dynamic_keys(["uploads"]) == {"uploads": (*before, "second.csv")}

        steps = catalog.create_run("run-2", "materialize", [ASSET], [(ASSET, DAY, "stale")])
        catalog.update_step(steps[ASSET, DAY], rows=BIG + 1, bytes=BIG)
        build(catalog, ASSET, DAY, big_version("v2"), owner="writer")
        assert catalog.versions(ASSET, [DAY])[DAY].bytes == BIG
        assert catalog.versions(ASSET, [DAY])[DAY].rows == BIG + 1

    assert database.sql("SELECT rows, bytes FROM steps WHERE run_id = 'run-2'") == [(BIG + 1, BIG)]
    assert all(database.count_types().values()), database.count_types()
    assert schema_differences(database.url) == []


def test_an_old_catalog_has_32_bit_counts_before_its_upgrade(database: Database) -> None:
    # The upgrade above has something to do: the old DDL really declared INTEGER.
    old_catalog(database, "07d00db")

    assert not any(database.count_types().values())
    assert "alembic_version" not in database.tables()
    # Column changes come as lists; the tables of later revisions, missing, as tuples.
    differences = schema_differences(database.url)
    changes = [change for diff in differences if isinstance(diff, list) for change in diff]
    assert sorted((c[0], c[2], c[3]) for c in changes) == [
        ("modify_type", table, column) for table, column in sorted(COUNT_COLUMNS)
    ]


def test_a_failed_upgrade_leaves_the_old_schema_as_it_was(database: Database) -> None:
    old_catalog(database, "7031b69")
    # A table holding the name of the index 0002 creates: that revision fails halfway.
    database.sql("CREATE TABLE ix_dynamic_partitions_name_seq (x INTEGER)")
    tables = database.tables()

    with pytest.raises(CatalogError) as raised:
        Catalog(database.url)

    message = str(raised.value)
    assert "upgrading the schema failed" in message
    assert len(message.splitlines()) == 1
    assert database.tables() == tables  # no alembic_version, no dynamic_partitions
    assert not any(database.count_types().values())
    assert database.sql("SELECT id, bytes FROM versions") == [("v1", 1234)]

    database.sql("DROP TABLE ix_dynamic_partitions_name_seq")
    with opened(database.url) as catalog:
        assert catalog.states([ASSET])[ASSET][DAY].version_id == "v1"
    assert database.revision() == [HEAD]


def test_a_database_with_only_some_catalog_tables_is_refused(database: Database) -> None:
    database.script(FIRST_SCHEMA.split("CREATE TABLE partitions")[0])  # attempts and logs

    with pytest.raises(CatalogError) as raised:
        Catalog(database.url)

    message = str(raised.value)
    assert "partitions, runs, steps, versions" in message
    assert redact_url(database.url) in message
    assert database.tables() == {"attempts", "logs"}


# -- new catalogs ---------------------------------------------------------------------------


def test_a_new_catalog_is_migrated_from_base_to_exactly_the_tables(database: Database) -> None:
    Catalog(database.url).close()

    assert database.revision() == [HEAD]
    assert database.tables() == {t.name for t in SQLModel.metadata.sorted_tables} | {
        "alembic_version"
    }
    assert schema_differences(database.url) == []


def test_the_comparison_sees_a_schema_that_differs(database: Database) -> None:
    # The check above can fail: a missing index is a difference.
    Catalog(database.url).close()
    database.sql("DROP INDEX ix_logs_run_id")

    differences = schema_differences(database.url)

    assert [d[0] for d in differences] == ["add_index"]


def test_head_is_the_last_revision_of_the_chain() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    script = ScriptDirectory.from_config(config)

    chain = [revision.revision for revision in script.walk_revisions()]
    assert script.get_heads() == [HEAD]
    assert chain[::-1] == list(REVISIONS)


def test_a_newer_catalog_is_refused_and_left_untouched(database: Database) -> None:
    old_catalog(database, "63a20d6")
    Catalog(database.url).close()
    database.sql("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    tables = database.tables()

    with pytest.raises(CatalogError) as raised:
        Catalog(database.url)

    message = str(raised.value)
    assert message == (
        f"catalog {redact_url(database.url)} has schema revision 0099_from_the_future, "
        f"newer than this partita (knows up to {HEAD}); upgrade partita"
    )
    password = make_url(database.url).password
    assert not password or password not in message
    assert database.revision() == ["0099_from_the_future"]
    assert database.tables() == tables
    assert database.sql("SELECT id, bytes FROM versions") == [("v1", 1234)]


def test_concurrent_first_opens_from_threads_all_succeed(database: Database) -> None:
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def open_catalog() -> None:
        start.wait()
        try:
            with opened(database.url) as catalog:
                catalog.add_dynamic_keys("uploads", [threading.current_thread().name])
        except BaseException as exc:  # collected: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=open_catalog, name=f"t{i}") for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert database.revision() == [HEAD]
    assert sorted(database.sql("SELECT key FROM dynamic_partitions")) == [
        ("t0",),
        ("t1",),
        ("t2",),
        ("t3",),
    ]


def test_concurrent_first_opens_from_processes_all_succeed(database: Database) -> None:
    code = "import sys; from partita.storage import Catalog; Catalog(sys.argv[1]).close()"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, database.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in processes]
    for process in processes:
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

    assert results == [(0, "")] * 4
    assert database.revision() == [HEAD]


# -- the cost of opening ----------------------------------------------------------------------


def imports_alembic_when_opening(url: str) -> bool:
    code = (
        "import sys; from partita.storage import Catalog; Catalog(sys.argv[1]).close(); "
        "print('alembic' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ},
    )
    return result.stdout.strip() == "True"


def test_opening_an_up_to_date_catalog_does_not_import_alembic(database: Database) -> None:
    assert imports_alembic_when_opening(database.url)  # the first open migrates

    assert not imports_alembic_when_opening(database.url)
