"""The catalog's schema history: Alembic revisions, applied by
:mod:`partita.storage.catalog.schema`.

Every catalog is brought to :data:`HEAD` when it is opened; the revisions here are the
only source of the schema (``storage/catalog/tables.py`` says what the code expects, these say
how a database gets there). Alembic runs programmatically, with no ``alembic.ini``:
``env.py`` takes the open connection (already in a transaction, holding the upgrade
lock) from ``config.attributes["connection"]``.

Adding a revision, when ``storage/catalog/tables.py`` changes:

1. Copy the newest file in ``versions/`` to ``versions/NNNN_what_changed.py``; set
   ``revision = "NNNN_what_changed"`` and ``down_revision`` to the previous one.
2. Write ``upgrade()`` by hand with ``alembic.op``, for SQLite and PostgreSQL alike: use
   ``op.batch_alter_table`` to change columns (SQLite cannot ALTER a column, so batch
   mode copies the table there; on PostgreSQL it emits plain ALTER statements). Keep
   the statements transactional: no ``CONCURRENTLY``, no autocommit blocks. Revisions
   are never edited once released: catalogs in use already ran them.
3. Append the revision id to :data:`REVISIONS` below. Opening a catalog compares its
   revision with this constant, so the fast path never imports Alembic.
4. Run ``tests/storage/catalog/test_migrations.py``: it checks that a catalog migrated from
   base matches the SQLModel tables exactly (Alembic's ``compare_metadata``) on both
   backends, and that :data:`REVISIONS` matches the chain of files here. If catalogs
   made before the change could only be told apart by their tables, extend the
   detection of unversioned catalogs in ``storage/catalog/schema.py``.

``downgrade()`` is not written: an older partita refuses a newer catalog instead.
"""

from __future__ import annotations

from pathlib import Path

# Every revision this partita knows, oldest first; the last one is the head.
REVISIONS: tuple[str, ...] = (
    "0001_initial",
    "0002_dynamic_partitions",
    "0003_bigint_counts",
    "0004_automation",
)
HEAD = REVISIONS[-1]
SCRIPT_LOCATION = Path(__file__).resolve().parent

__all__ = ["HEAD", "REVISIONS", "SCRIPT_LOCATION"]
