"""Alembic environment: runs on the connection that ``portal.db.Database.migrate`` hands over."""

from __future__ import annotations

from alembic import context

from portal.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `alembic` on the command line comes here
    raise SystemExit("run migrations through `portal migrate`")

context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite", compare_type=True,
                  version_table="portal_alembic_version")
with context.begin_transaction():
    context.run_migrations()
