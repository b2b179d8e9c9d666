"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from carecentre.db import Database
from carecentre.migrations import current, heads, include_name, upgrade


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    db = Database(database_url)
    try:

        def diff(connection: Connection) -> list[object]:
            opts = {"compare_type": True, "include_name": include_name}
            context = MigrationContext.configure(connection, opts=opts)
            return list(compare_metadata(context, SQLModel.metadata))

        async with db.reader.connect() as connection:
            assert await connection.run_sync(diff) == []
        assert await current(db) == heads()
    finally:
        await db.dispose()


async def test_upgrading_twice_is_harmless(database_url: str) -> None:
    db = Database(database_url)
    try:
        await upgrade(db)
        await upgrade(db)
        assert await current(db) == heads()
    finally:
        await db.dispose()
