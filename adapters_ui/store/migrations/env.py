"""Alembic environment: runs on the connection ``store.database`` hands over (never reads a URL itself)."""

from alembic import context

from adapters_ui.store.schema import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
