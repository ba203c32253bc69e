"""Bring a catalog database to the schema this partita expects, when it is opened.

The revisions in :mod:`partita.storage.catalog.migrations` are the only source of the schema:
an empty database is migrated from base, and a catalog made before migrations existed
(tables, but no ``alembic_version``) is recognized, stamped with the revision it
matches, then upgraded. A catalog whose revision this partita does not know was made by
a newer partita; it is refused, never touched.

Opening an up-to-date catalog costs one query and never imports Alembic (slow to
import). An upgrade runs in one transaction, serialized between openers (PostgreSQL: an
advisory lock; SQLite: ``BEGIN IMMEDIATE``), and checks the revision again once it
holds the lock: the first of several processes opening a new catalog migrates it, the
others find it done. PostgreSQL runs DDL transactionally, so a failed upgrade leaves
the old schema as it was.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Connection, Engine, inspect, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from partita.errors import CatalogError
from partita.storage.catalog.engine import translate_errors
from partita.storage.catalog.migrations import HEAD, REVISIONS, SCRIPT_LOCATION
from partita.storage.redaction import redact_url

VERSION_TABLE = "alembic_version"
_REVISION = text(f"SELECT version_num FROM {VERSION_TABLE}")
# One key for every partita: upgrades of the same database wait for each other.
_LOCK = text("SELECT pg_advisory_xact_lock(7236833625181348352)")  # b"partita\0"
# The tables of the first schema. All of them and no version table: a catalog made
# before migrations existed; none of them: a new catalog.
_FIRST_TABLES = frozenset({"runs", "steps", "attempts", "versions", "partitions", "logs"})


def ensure_schema(engine: Engine, url: str) -> None:
    """Bring the catalog behind ``engine`` to the head revision, if it is not there.

    Args:
        engine: the catalog's engine (writes ``BEGIN IMMEDIATE`` on SQLite).
        url: the catalog URL, for messages (redacted in them).

    Raises:
        CatalogError: the catalog has a revision newer than this partita knows, cannot be
            recognized, or cannot be reached or upgraded (a failed upgrade changes nothing).
    """
    with translate_errors("opening", url), engine.connect() as conn:
        revision = _stored_revision(conn.execution_options(partita_read_only=True))
    if revision == HEAD:
        return
    _check_known(revision, url)
    with translate_errors("upgrading the schema", url), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(_LOCK)
        revision = _locked_revision(conn)
        if revision == HEAD:  # another opener upgraded it while we waited
            return
        _check_known(revision, url)
        _upgrade(conn, revision or _unversioned_revision(conn, url))


def _stored_revision(conn: Connection) -> str | None:
    """The catalog's revision, or None when it has no version table (yet)."""
    try:
        revisions = conn.execute(_REVISION).scalars().all()
    except (OperationalError, ProgrammingError):  # no such table: decided under the lock
        return None
    return ",".join(revisions) or None


def _locked_revision(conn: Connection) -> str | None:
    """The revision, read inside the upgrade's transaction (which a failed query would end)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    return ",".join(conn.execute(_REVISION).scalars().all()) or None


def _check_known(revision: str | None, url: str) -> None:
    if revision is not None and revision not in REVISIONS:
        raise CatalogError(
            f"catalog {redact_url(url)} has schema revision {revision}, newer than this "
            f"partita (knows up to {HEAD}); upgrade partita"
        )


def _unversioned_revision(conn: Connection, url: str) -> str | None:
    """The revision a catalog without a version table matches; None for an empty database."""
    inspector = inspect(conn)
    tables = set(inspector.get_table_names())
    present = tables & _FIRST_TABLES
    if not present:
        return None
    if present != _FIRST_TABLES:
        missing = ", ".join(sorted(_FIRST_TABLES - present))
        raise CatalogError(
            f"catalog {redact_url(url)} has some of partita's tables but not {missing}, and "
            "no schema revision; restore it from a backup or point 'catalog' at an empty "
            "database"
        )
    if "dynamic_partitions" not in tables:
        return "0001_initial"
    counts = {column["name"]: column["type"] for column in inspector.get_columns("versions")}
    if isinstance(counts["bytes"], BigInteger):
        return "0003_bigint_counts"
    return "0002_dynamic_partitions"


def _upgrade(conn: Connection, start: str | None) -> None:
    """Stamp ``start`` (a catalog made before migrations) and upgrade to the head."""
    from alembic import command  # slow to import: only when there is work to do
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    config.attributes["connection"] = conn
    if start is not None:
        command.stamp(config, start)
    command.upgrade(config, HEAD)
