"""Alembic environment: runs on the connection handed in by carecentre.migrations."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import carecentre.models  # noqa: F401  (registers the tables)
from carecentre.migrations import include_name

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations with 'carecentre migrate'")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
