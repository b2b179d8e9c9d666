"""Fixtures for the JSON API tests: the app running on each database, seeded with the City's
queues and an admin with a token. Every response through ``api`` is checked against the OpenAPI
document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.support.api import Api, open_api


@pytest.fixture
def api(tmp_path: Path, database_url: str) -> Iterator[Api]:
    """On SQLite and on PostgreSQL. The outbox dispatcher stays off: a queued reply stays queued
    while a test compares what is stored before and after a request."""
    with open_api(make_settings(tmp_path, database_url, run_dispatcher=False)) as running:
        yield running


@pytest.fixture
def sqlite_api(tmp_path: Path, sqlite_url: str) -> Iterator[Api]:
    """SQLite only, for behaviour that does not depend on the database."""
    with open_api(make_settings(tmp_path, sqlite_url, run_dispatcher=False)) as running:
        yield running
