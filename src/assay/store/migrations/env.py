"""Alembic environment of the run store: always run from assay with a live connection
(``config.attributes["connection"]``), inside the transaction that holds the store's
migration lock."""

from alembic import context

from assay.store._schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
