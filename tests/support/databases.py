"""Test databases: a migrated SQLite template copied per test, and a PostgreSQL database
migrated once per run and emptied before each test."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from carecentre.db import Database
from carecentre.migrations import upgrade

POSTGRES_ADMIN_URL = os.environ.get(
    "CARECENTRE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("CARECENTRE_REQUIRE_POSTGRES") == "1"
# One database per test run, so runs side by side (developers, CI) never disturb each other.
TEST_DATABASE = f"carecentre_test_{os.getpid()}"


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()


def sqlite_template(directory: Path) -> Path:
    path = directory / "template.sqlite3"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


def sqlite_copy(template: Path, directory: Path) -> str:
    target = directory / "carecentre.sqlite3"
    shutil.copyfile(template, target)
    return f"sqlite+aiosqlite:///{target}"


async def _create_postgres() -> str:
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {TEST_DATABASE} WITH (FORCE)"))
            await conn.execute(text(f"CREATE DATABASE {TEST_DATABASE}"))
    finally:
        await admin.dispose()
    url = make_url(POSTGRES_ADMIN_URL).set(database=TEST_DATABASE)
    rendered = url.render_as_string(hide_password=False)
    await _migrate(rendered)
    return rendered


def postgres_database() -> str:
    """Create and migrate the test database, or skip (fail in CI) when no server answers."""
    try:
        return asyncio.run(_create_postgres())
    except (OSError, ConnectionError) as error:
        reason = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {error}"
        if REQUIRE_POSTGRES:
            pytest.fail(reason)
        pytest.skip(reason)


async def _drop_postgres() -> None:
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {TEST_DATABASE} WITH (FORCE)"))
    finally:
        await admin.dispose()


def drop_postgres_database() -> None:
    asyncio.run(_drop_postgres())


async def empty_postgres(url: str) -> None:
    tables = ", ".join(t.name for t in SQLModel.metadata.sorted_tables)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()
