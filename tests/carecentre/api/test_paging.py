"""Cursors of the tickets list: a cursor that is not one of ours is a 422, never a 500."""

from __future__ import annotations

import base64
import json

import pytest

from tests.support.api import Api


def _cursor(data: object) -> str:
    raw = json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


FORGED = [
    pytest.param("due", "abc", id="not-base64-json"),
    pytest.param("due", "!!!!", id="punctuation"),
    pytest.param("due", base64.urlsafe_b64encode(b"\xff\xfe").decode(), id="not-utf8"),
    pytest.param("due", _cursor([1, 2]), id="a-list"),
    pytest.param("due", _cursor("due"), id="a-string"),
    pytest.param("due", _cursor({"o": "due"}), id="no-values"),
    pytest.param("due", _cursor({"o": "due", "v": [None]}), id="one-value"),
    pytest.param("due", _cursor({"o": "due", "v": "ab"}), id="values-not-a-list"),
    pytest.param("due", _cursor({"o": "-created", "v": [None, 1]}), id="another-order"),
    pytest.param("due", _cursor({"o": "due", "v": ["yesterday", 1]}), id="not-a-time"),
    pytest.param("due", _cursor({"o": "due", "v": [5, 1]}), id="time-a-number"),
    pytest.param("due", _cursor({"o": "due", "v": ["2026-01-05T10:00:00", 1]}), id="naive-time"),
    pytest.param("due", _cursor({"o": "due", "v": [None, "1"]}), id="id-a-string"),
    pytest.param("due", _cursor({"o": "due", "v": [None, True]}), id="id-a-boolean"),
    pytest.param("due", _cursor({"o": "due", "v": [None, 1.5]}), id="id-a-float"),
    pytest.param("-created", _cursor({"o": "-created", "v": [None, 10**30]}), id="id-overflows"),
    pytest.param("-created", _cursor({"o": "-created", "v": [None, -1]}), id="id-negative"),
    pytest.param("-updated", _cursor({"o": "-updated", "v": [None, 1]}), id="updated-no-time"),
    pytest.param("due", _cursor({"o": "due", "v": [None, [[[[[[1]]]]]]]}), id="nested"),
    pytest.param("due", base64.urlsafe_b64encode(b"[" * 5000).decode(), id="deeply-nested"),
    pytest.param("due", "A" * 5000, id="too-long"),
]


def test_a_forged_cursor_is_422(api: Api, subtests: pytest.Subtests) -> None:
    api.sms("hello")

    for case in FORGED:
        order, cursor = case.values
        with subtests.test(str(case.id)):
            response = api.get("/tickets", params={"order": order, "cursor": cursor})
            assert response.status_code == 422, response.text
            error = response.json()["error"]
            assert error["field"] == "cursor"
            assert error["message"].startswith("cursor: ")


def test_a_real_cursor_used_with_another_order_is_422(api: Api) -> None:
    for n in range(3):
        api.sms(f"hello {n}", sender=f"+1613555000{n}")
    cursor = api.get("/tickets", params={"order": "-created", "limit": "1"}).json()["next_cursor"]
    assert cursor

    assert api.get("/tickets", params={"order": "-created", "cursor": cursor}).status_code == 200
    response = api.get("/tickets", params={"order": "-updated", "cursor": cursor})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "cursor"


def test_a_cursor_past_the_end_gives_an_empty_page(api: Api) -> None:
    api.sms("hello")
    cursor = _cursor({"o": "due", "v": ["9999-12-31T00:00:00+00:00", 2**63 - 1]})
    body = api.get("/tickets", params={"cursor": cursor}).json()
    assert body == {"items": [], "next_cursor": None}
