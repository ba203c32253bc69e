"""SQL over the assets' data: DuckDB, in process, over the current committed versions.

Each asset whose current versions are tables (parquet) is a view named by its key
(``clean_sales``, ``"sales/raw"``), defined over exactly the files of those versions, as
the catalog lists them in one query: never a file being written, a superseded version
nor a leftover. The hive segments of the partition folders (``date=2026-04-08``) become
columns too, unless one of them has the name of a column of the table.

The files are read through the store's own fsspec filesystem (registered with DuckDB),
so S3 and every other store work with the store's options. A rebuild that commits while
a query runs retires the files it superseded (local disk: out of sight, still readable
for the grace period; object stores: deleted): a file that is gone then fails the query,
which is run again over the catalog as it is now (a bounded number of times), so it sees
one consistent set of versions — never a row twice, never a partition missing.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from partita._extras import needs_extra
from partita.errors import QueryError
from partita.storage import DataStore
from partita.storage.catalog.reports import TableFiles
from partita.storage.interfaces import StateReader

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

PROTOCOL = "partita-store"
QUICK_ATTEMPTS = 3  # runs again at once this many times, then waits a little longer each time
RETRY_BASE_S = 0.01
RETRY_MAX_S = 0.2
# A rebuild that commits while a query runs makes it run again; a writer rebuilding the
# same partitions in a tight loop makes about one run in two start again.
ATTEMPTS = 30
_HIVE_SEGMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=[^/]*$")
# How DuckDB (and fsspec inside it) say that a file is gone.
_MISSING_FILE = ("No files found", "No such file", "FileNotFoundError", "Cannot open file")
_MISSING_TABLE = re.compile(r'Table with name "?([^"\s]+)"? does not exist')


@dataclass(frozen=True, slots=True)
class QueryResult:
    """A query's answer and how it was reached.

    Attributes:
        table: The rows.
        attempts: How many times it ran (more than one when a rebuild removed a file it
            was reading).
    """

    table: pa.Table
    attempts: int


class Querier:
    """Runs SQL over the current committed tables of a catalog and a data store.

    Args:
        catalog: Where the current versions are recorded.
        store: Where their files are.
        attempts: How many times a query runs before a file that keeps disappearing
            fails it.
        sleep: How to wait between runs, after the first few (injectable for tests).
    """

    def __init__(
        self,
        catalog: StateReader,
        store: DataStore,
        *,
        attempts: int = ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._reports = catalog.reports
        self._store = store
        self._attempts = attempts
        self._sleep = sleep
        self._columns: dict[str, set[str]] = {}
        # DuckDB reads local files itself, ten times faster than through fsspec, unless
        # a folder above the store looks like a hive segment (it would become a column).
        self._native = "://" not in store.url and "=" not in store.url

    def query(self, sql: str) -> QueryResult:
        """Run ``sql`` and return its rows.

        Raises:
            QueryError: The SQL is invalid, names an unknown table or column, fails while
                running, or a file kept disappearing under it.
        """
        duckdb = _duckdb()
        if not sql.strip():
            raise QueryError("the query is empty: pass a SQL statement, e.g. 'select 1'")
        filesystem = None if self._native else self._store.rooted_filesystem()
        for attempt in range(1, self._attempts + 1):
            tables = self._reports.table_files()
            try:
                result = self._run(sql, tables, filesystem)
            except duckdb.Error as exc:
                if not _file_missing(exc):
                    raise QueryError(_message(exc, tables)) from None
                if attempt == self._attempts:
                    raise QueryError(
                        f"a file of the current versions kept disappearing after {attempt} "
                        "tries (run `partita doctor` if nothing is rebuilding them): "
                        f"{_message(exc)}"
                    ) from None
                if filesystem is not None:
                    filesystem.invalidate_cache()  # a listing cached before the rebuild
                if attempt >= QUICK_ATTEMPTS:  # a writer in a loop: try between its commits
                    self._sleep(min(RETRY_BASE_S * 2 ** (attempt - QUICK_ATTEMPTS), RETRY_MAX_S))
                continue
            return QueryResult(result, attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _run(self, sql: str, tables: list[TableFiles], filesystem: Any) -> pa.Table:
        """One run over one reading of the catalog, its files pinned where they can be."""
        duckdb = _duckdb()
        pinned = (
            self._store.pinned([f for t in tables for f in t.files])
            if self._native
            else contextlib.nullcontext(None)
        )
        with pinned as folder, contextlib.closing(duckdb.connect()) as connection:
            if filesystem is not None:
                connection.register_filesystem(filesystem)
            for table in tables:
                connection.execute(self._view_sql(connection, table, folder))
            return _arrow(connection.sql(sql))

    def _path(self, relative: str, folder: str | None) -> str:
        if not self._native:
            return f"{PROTOCOL}://{relative}"
        return f"{folder}/{relative}" if folder else self._store.absolute(relative)

    def _view_sql(
        self, connection: duckdb.DuckDBPyConnection, table: TableFiles, folder: str | None
    ) -> str:
        files = ", ".join(_literal(self._path(path, folder)) for path in table.files)
        hive = _hive_columns(table)
        if hive and table.asset not in self._columns:
            first = _literal(self._path(table.files[0], folder))
            described = f"DESCRIBE SELECT * FROM read_parquet({first}, hive_partitioning = false)"
            self._columns[table.asset] = {
                row[0] for row in connection.execute(described).fetchall()
            }
        if hive & self._columns.get(table.asset, set()):
            hive = set()  # the table has a column of that name: keep the table's
        options = "union_by_name = true, hive_partitioning = " + ("true" if hive else "false")
        return (
            f"CREATE VIEW {quote(table.asset)} AS SELECT * FROM read_parquet([{files}], {options})"
        )


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError as exc:
        raise QueryError(needs_extra("partita query", exc, default="query")) from None
    return duckdb


def _arrow(relation: duckdb.DuckDBPyRelation | None) -> pa.Table:
    import pyarrow as pa

    if relation is None:  # a statement without rows
        return pa.table({})
    # DuckDB 1.4 named to_arrow_table what 1.0 called arrow.
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
    table: pa.Table = fetch()
    return table


def quote(name: str) -> str:
    """A SQL identifier for ``name`` (``"sales/raw"``)."""
    return '"' + name.replace('"', '""') + '"'


def _hive_columns(table: TableFiles) -> set[str]:
    """The names of the ``name=value`` folders between the asset's folder and its files."""
    if not table.files:
        return set()
    folders = table.files[0][len(table.asset) + 1 :].split("/")[:-1]
    return {m.group(1) for folder in folders if (m := _HIVE_SEGMENT.match(folder))}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _file_missing(exc: Exception) -> bool:
    text = str(exc)
    return any(sign in text for sign in _MISSING_FILE)


def _message(exc: Exception, tables: list[TableFiles] | None = None) -> str:
    """The error as one line, naming the tables there are when one is unknown."""
    text = " ".join(str(exc).split()).split(" LINE ")[0]
    if "Traceback (most recent call last)" in text:  # fsspec's error, through DuckDB
        text = text.rpartition(", line ")[2].partition(" ")[2] or text
    text = text.replace(f"{PROTOCOL}://", "")  # paths relative to the store's root
    missing = _MISSING_TABLE.search(text)
    if missing is not None and tables is not None:
        known = ", ".join(t.asset for t in tables) or "none yet"
        return (
            f"no table {missing.group(1)}: each asset with committed table data is a view "
            f"named by its key (quote keys with '/': \"sales/raw\"); tables: {known}"
        )
    return f"the query failed: {text}"


def run_query(catalog: StateReader, store: DataStore, sql: str) -> Any:
    """Run ``sql`` over the current tables; returns a ``pyarrow.Table``."""
    return Querier(catalog, store).query(sql).table


__all__ = ["ATTEMPTS", "Querier", "QueryResult", "quote", "run_query"]
