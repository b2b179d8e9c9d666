"""``POST /api/v1/sms/segments``: the SMS cost of a draft reply, for the agent UI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.channels.sms.conftest import sms_app_running
from tests.fakes.twilio_api import FakeTwilioApi
from tests.support.api import OpenApiValidator

if TYPE_CHECKING:
    from tests.channels.sms.conftest import SmsApp


@pytest.fixture
def app(tmp_path: Path, sqlite_url: str, twilio_api: FakeTwilioApi) -> Iterator[SmsApp]:
    # Nothing here touches the database beyond the token: SQLite is enough.
    with sms_app_running(tmp_path, sqlite_url, twilio_api) as running:
        yield running


def count(app: SmsApp, body: object) -> dict[str, Any]:
    response = app.api("POST", "/sms/segments", json={"body": body})
    assert response.status_code == 200, response.text
    # As the API document describes it (the document the app serves, plugins' routes included).
    OpenApiValidator(app.client.get("/api/v1/openapi.json").json()).check(response)
    found: dict[str, Any] = response.json()
    return found


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "",
            {"encoding": "GSM-7", "segments": 0, "characters": 0, "per_segment": 160},
            id="empty",
        ),
        pytest.param(
            "Your bin will be collected Monday.",
            {"encoding": "GSM-7", "segments": 1, "characters": 34, "remaining": 126},
            id="short",
        ),
        pytest.param(
            "x" * 160,
            {"encoding": "GSM-7", "segments": 1, "per_segment": 160, "remaining": 0},
            id="one-full-segment",
        ),
        pytest.param(
            "x" * 161,
            {"encoding": "GSM-7", "segments": 2, "per_segment": 153, "remaining": 145},
            id="split",
        ),
        pytest.param(
            "Price: 5€ [cash]",
            {"encoding": "GSM-7", "characters": 16, "units": 19},
            id="escaped-characters-count-twice",
        ),
        pytest.param(
            "Votre demande est reçue.",
            {"encoding": "UCS-2", "segments": 1, "per_segment": 70, "remaining": 46},
            id="french-cedilla",
        ),
        pytest.param(
            "Merci 🙂" * 10,
            {"encoding": "UCS-2", "segments": 2, "characters": 70, "units": 80},
            id="emoji",
        ),
    ],
)
def test_the_cost_of_a_draft(app: SmsApp, body: str, expected: dict[str, Any]) -> None:
    result = count(app, body)
    assert result | expected == result
    assert set(result) == {
        "encoding",
        "segments",
        "characters",
        "units",
        "per_segment",
        "remaining",
        "max_length",
        "too_long",
    }
    assert result["too_long"] is False


def test_a_draft_twilio_would_refuse_is_flagged(app: SmsApp) -> None:
    result = count(app, "ç" * 1601)
    assert (result["too_long"], result["max_length"], result["segments"]) == (True, 1600, 24)


def test_it_needs_a_token(app: SmsApp) -> None:
    response = app.client.post("/api/v1/sms/segments", json={"body": "hi"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    revoked = app.client.post(
        "/api/v1/sms/segments", json={"body": "hi"}, headers={"Authorization": "Bearer cct_nope"}
    )
    assert revoked.status_code == 401


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param({}, "body", id="missing"),
        pytest.param({"body": 12}, "body", id="not-text"),
        pytest.param({"body": "x" * 20_001}, "body", id="too-long-to-count"),
        pytest.param({"body": "hi", "to": "+1613"}, "to", id="unknown-field"),
    ],
)
def test_invalid_input_names_the_field(app: SmsApp, payload: dict[str, Any], field: str) -> None:
    response = app.api("POST", "/sms/segments", json=payload)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid", field)
    assert error["message"].startswith(f"{field}: ")


def test_it_wants_json(app: SmsApp) -> None:
    response = app.api("POST", "/sms/segments", content=b"body=hi")
    assert response.status_code == 415
    assert response.json()["error"]["message"] == "send the body as application/json"
    broken = app.api(
        "POST", "/sms/segments", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422
