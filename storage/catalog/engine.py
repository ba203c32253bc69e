"""Catalog database connections: SQLite tuned for many writers, errors translated at the
edge, and :class:`Database`, the transactions and clock every part of the catalog uses."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from partita._extras import needs_extra
from partita.errors import CatalogError, ConfigError
from partita.storage.redaction import redact_url

BUSY_TIMEOUT_S = 30.0


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.query.get("uri") == "true" and parsed.database.startswith("file:"):
        # A URI filename (``sqlite:///file:/path/catalog.db?mode=ro&uri=true``).
        return Path(urlsplit(parsed.database).path)
    return Path(parsed.database)


def _use_wal(cursor: Any) -> None:
    """Switch the database to WAL mode, once. Switching needs the database to itself,
    and SQLite answers "database is locked" at once, without its busy timeout, while
    other connections (several processes opening a new catalog) hold it: wait and retry.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front so two writers never deadlock on an upgrade.
        read_only = conn.get_execution_options().get("partita_read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """Create the engine for a catalog URL.

    Raises:
        ConfigError: the URL is malformed or names an unknown database driver.
        CatalogError: a SQLite catalog's directory does not exist.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(
            f"catalog URL {redact_url(url)!r} is not a database URL; "
            "use e.g. sqlite:///.partita/catalog.db"
        ) from exc
    path = _sqlite_path(url)
    if path is not None and not path.parent.is_dir():
        raise CatalogError(
            f"cannot open the catalog {redact_url(url)}: directory {path.parent} does not exist; "
            "create it or fix 'catalog' in partita.toml (or PARTITA_CATALOG)"
        )
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, ImportError, SQLAlchemyError) as exc:
        shown = redact_url(url)
        message = needs_extra(f"the catalog {shown}", exc)
        raise ConfigError(message or f"cannot use catalog {shown}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        _tune_sqlite(engine)
    return engine


def now_sql(engine: Engine) -> str:
    """SQL for the database's clock in epoch seconds: leases use database time."""
    if engine.dialect.name == "sqlite":
        return "SELECT (julianday('now') - 2440587.5) * 86400.0"
    return "SELECT extract(epoch from clock_timestamp())"


@contextlib.contextmanager
def translate_errors(what: str, url: str) -> Iterator[None]:
    """Turn SQLAlchemy errors into :class:`CatalogError` naming the operation."""
    try:
        yield
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise CatalogError(f"catalog {redact_url(url)}: {what} failed: {reason}") from exc


class Database:
    """One catalog database: its engine, its transactions and its clock.

    Every part of the catalog (states, leases, runs, ticks, reports, maintenance) works
    through one of these: writes in transactions that take the write lock up front
    (``BEGIN IMMEDIATE`` on SQLite), reads in plain ones that never take it.

    Args:
        url: a SQLAlchemy URL (``sqlite:///.partita/catalog.db``).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._reader = self.engine.execution_options(partita_read_only=True)
        self._now_sql = now_sql(self.engine)

    @contextlib.contextmanager
    def transaction(self, what: str, *, read_only: bool = False) -> Iterator[Connection]:
        """One transaction, its errors translated into ``CatalogError`` naming ``what``."""
        with translate_errors(what, self.url):
            engine = self._reader if read_only else self.engine
            with engine.begin() as conn:
                yield conn

    def write(self, what: str) -> contextlib.AbstractContextManager[Connection]:
        """A transaction that may write."""
        return self.transaction(what)

    def read(self, what: str) -> contextlib.AbstractContextManager[Connection]:
        """A transaction that only reads (it never takes the write lock)."""
        return self.transaction(what, read_only=True)

    def now(self, conn: Connection) -> float:
        """The database's clock, in seconds since the epoch: lease times use it."""
        return float(conn.exec_driver_sql(self._now_sql).scalar_one())

    def dispose(self) -> None:
        """Release the database's connections."""
        self.engine.dispose()
