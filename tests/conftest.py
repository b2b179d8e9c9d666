"""Shared fixtures: a fresh database per test on SQLite and (where reachable) PostgreSQL,
settings pointing at a temporary data folder, and running services."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from carecentre.app import running
from carecentre.metrics import Metrics
from carecentre.services import Services
from carecentre.settings import Settings, load_settings
from tests.support import databases


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return databases.sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    yield databases.postgres_database()
    databases.drop_postgres_database()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """A freshly migrated, empty database for this test, on each backend."""
    if request.param == "sqlite":
        yield databases.sqlite_copy(sqlite_template, tmp_path)
        return
    url: str = request.getfixturevalue("postgres_url")
    asyncio.run(databases.empty_postgres(url))
    yield url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only, for tests about behaviour that does not depend on the database."""
    return databases.sqlite_copy(sqlite_template, tmp_path)


def make_settings(tmp_path: Path, database_url: str, **overrides: object) -> Settings:
    return load_settings(
        {},
        data_dir=tmp_path / "data",
        database_url=database_url,
        public_url="https://carecentre.test",
        secret_key="test-secret-key-not-for-production",
        outbox_base_delay=0.01,
        events_poll_interval=0.05,
        outbox_poll_interval=0.05,
        **overrides,
    )


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
async def svc(settings: Settings) -> AsyncIterator[Services]:
    """Running services (event bus started; the dispatcher is driven by the test)."""
    async with running(settings, Metrics(), migrate=False, dispatch=False) as services:
        yield services
