from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.twilio_api import FakeTwilioApi


@pytest.fixture
def twilio_api() -> Iterator[FakeTwilioApi]:
    """A fake Twilio REST API on 127.0.0.1, fresh for each test."""
    with FakeTwilioApi() as api:
        yield api
