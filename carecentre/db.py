"""The database: an async engine per role, one session per unit of work.

SQLite (the embedded default) runs in WAL mode with durable commits (``synchronous=FULL``). SQLite
allows one writer at a time; instead of letting concurrent requests race for the lock and see
"database is locked", every write goes through one path: an asyncio lock in front of a writer
engine whose transactions start with ``BEGIN IMMEDIATE``. Readers use their own connections and
never wait for the writer (WAL). PostgreSQL needs none of that: one engine, ordinary transactions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA foreign_keys=ON",
)


def _sqlite_engine(url: str, *, begin: str, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=0, pool_timeout=60, connect_args={"timeout": 30}
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN is ours (see module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql(begin)

    return engine


class Database:
    """Engines and sessions for one database URL. Created in the app's lifespan, never at import."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        if self.dialect == "sqlite":
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.writer = _sqlite_engine(url, begin="BEGIN IMMEDIATE", pool_size=1)
            self.reader = _sqlite_engine(url, begin="BEGIN", pool_size=pool_size)
            self._write_lock: asyncio.Lock | None = asyncio.Lock()
        else:
            self.writer = create_async_engine(
                url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True
            )
            self.reader = self.writer
            self._write_lock = None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A unit of work that writes: commits when the block ends, rolls back on error."""
        if self._write_lock is None:
            async with AsyncSession(self.writer, expire_on_commit=False) as session:
                async with session.begin():
                    yield session
            return
        async with self._write_lock:
            async with AsyncSession(self.writer, expire_on_commit=False) as session:
                async with session.begin():
                    yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work; on SQLite it never waits for the writer."""
        async with AsyncSession(self.reader, expire_on_commit=False) as session:
            async with session.begin():
                yield session

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()
