"""Alembic environment: runs on the connection `parcours.db.Database` hands over."""

from alembic import context

from parcours.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
