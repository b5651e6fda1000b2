"""Alembic environment: run with a connection handed in by :meth:`alpr.bridge.store.Store.migrate`."""

from __future__ import annotations

from alembic import context

from alpr.bridge.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable from the alembic CLI without our helper
    raise RuntimeError("run migrations through alpr.bridge.store.Store.migrate()")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
