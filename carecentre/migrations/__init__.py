"""Schema migrations (Alembic), applied by ``serve`` at start-up and by ``carecentre migrate``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from carecentre.db import Database

HERE = Path(__file__).parent
# Full-text search objects (SQLite FTS5 tables and their shadow tables, PostgreSQL trigram
# indexes) are made by migration 0008_search alone: SQLAlchemy models cannot describe them.
SEARCH_PREFIX = "search_"


def include_name(name: str | None, type_: str, _parents: Mapping[Any, str | None]) -> bool:
    """For comparing the database with the models: leave out the search objects, which only
    the migrations know (and which SQLite could not even reflect without a warning)."""
    return not (type_ in ("table", "index") and name and name.startswith(SEARCH_PREFIX))


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["connection"] = connection
    return cfg


async def upgrade(db: Database, revision: str = "heads") -> None:
    """Bring the database to ``revision`` on the writer connection (one writer on SQLite).

    ``heads``: parts developed side by side may each add a branch from the same revision; all
    of them are applied, and a merge revision later joins them.
    """

    def run(connection: Connection) -> None:
        command.upgrade(config(connection), revision)

    async with db.writer.connect() as connection:
        await connection.run_sync(run)
        await connection.commit()


def heads() -> tuple[str, ...]:
    """The newest revision of each branch in this release."""
    from alembic.script import ScriptDirectory

    return tuple(sorted(ScriptDirectory.from_config(config()).get_heads()))


async def current(db: Database) -> tuple[str, ...]:
    """The revisions the database is at (one per branch)."""
    from alembic.runtime.migration import MigrationContext

    def read(connection: Connection) -> tuple[str, ...]:
        return tuple(sorted(MigrationContext.configure(connection).get_current_heads()))

    async with db.reader.connect() as connection:
        return await connection.run_sync(read)
