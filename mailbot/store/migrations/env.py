"""Alembic environment: runs on the connection ``mailbot.store.db.migrate`` passes in."""

from alembic import context

from mailbot.store.models import Base  # the package registers every table on Base.metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # `alembic` run by hand: use the engine given, or fail plainly
    raise SystemExit("run migrations with `mailbot init`, which passes the connection in")

context.configure(
    connection=connection, target_metadata=Base.metadata, render_as_batch=connection.dialect.name == "sqlite"
)
with context.begin_transaction():
    context.run_migrations()
