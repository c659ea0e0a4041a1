"""Alembic environment: runs on the connection that ``callbridge.store.db.migrate`` hands over."""

from __future__ import annotations

from alembic import context

from callbridge.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `alembic` on the command line comes here
    raise SystemExit("run migrations through `callbridge admin db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
