"""Alembic's environment: run the revisions on the connection the caller opened.

The caller (:mod:`partita.storage.catalog.schema`) has begun the transaction and taken the
upgrade lock, so every revision runs inside that one transaction: on a failure the
whole upgrade rolls back and the old schema stays as it was.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():  # a no-op inside the caller's transaction
    context.run_migrations()
