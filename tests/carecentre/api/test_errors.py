"""Bad input everywhere: the right 4xx with ``{"error": {"code", "message"}}``, and nothing
already stored changes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx2
import pytest

from tests.support.api import Api

WRITES = [
    ("POST", "/replies", {"body": "We will come back."}),
    ("POST", "/notes", {"body": "Called them."}),
    ("PATCH", "", {"priority": "high"}),
]
WRITE_IDS = ["reply", "note", "patch"]


def _send(
    api: Api,
    method: str,
    suffix: str,
    reference: str,
    content: bytes | Iterator[bytes],
    **headers: str,
) -> httpx2.Response:
    return api.request(
        method,
        f"/tickets/{reference}{suffix}",
        content=content,
        headers={"Content-Type": "application/json", **headers},
    )


def _error(response: httpx2.Response, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, str] = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    return error


MALFORMED = {
    "broken": b"{bad json",
    "empty": b"",
    "null": b"null",
    "list": b"[]",
    "string": b'"body"',
    "unterminated": b'{"body": "unterminated',
    "not-utf8": b"\xff\xfe{}",
    "half": b'{"body": "a", "body": }',
}


@pytest.mark.parametrize(("method", "suffix", "_body"), WRITES, ids=WRITE_IDS)
def test_malformed_json_is_422(
    api: Api, subtests: pytest.Subtests, method: str, suffix: str, _body: object
) -> None:
    reference = api.sms("hello")
    before = api.snapshot(reference)

    for name, content in MALFORMED.items():
        with subtests.test(name):
            error = _error(_send(api, method, suffix, reference, content), 422, "invalid")
            assert error["field"] == "body"

    assert api.snapshot(reference) == before


WRONG_TYPES: list[tuple[str, object, str]] = [
    ("/replies", {"body": 5}, "body"),
    ("/replies", {"body": ["a"]}, "body"),
    ("/replies", {"body": None}, "body"),
    ("/replies", {}, "body"),
    ("/replies", {"body": ""}, "body"),
    ("/replies", {"body": "   "}, "body"),
    ("/replies", {"body": "x" * 20_001}, "body"),
    ("/replies", {"body": "hi", "channel": "fax"}, "channel"),
    ("/replies", {"body": "hi", "channel": 1}, "channel"),
    ("/replies", {"body": "hi", "to": 5}, "to"),
    ("/replies", {"body": "hi", "cc": "x@example.org"}, "cc"),
    ("/notes", {"body": {"text": "hi"}}, "body"),
    ("/notes", {"body": "hi", "internal": True}, "internal"),
    ("/notes", {"text": "hi"}, "body"),
]


def test_wrong_types_and_unknown_fields_are_422_naming_the_field(
    api: Api, subtests: pytest.Subtests
) -> None:
    reference = api.sms("hello")
    before = api.snapshot(reference)

    for suffix, body, field in WRONG_TYPES:
        with subtests.test(suffix=suffix, body=str(body)[:40]):
            error = _error(api.post(f"/tickets/{reference}{suffix}", body), 422, "invalid")
            assert error["field"] == field
            assert error["message"].startswith(f"{field}: ")

    assert api.snapshot(reference) == before


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES, ids=WRITE_IDS)
def test_a_body_that_is_not_json_is_415(
    api: Api, subtests: pytest.Subtests, method: str, suffix: str, body: object
) -> None:
    reference = api.sms("hello")
    before = api.snapshot(reference)

    for content_type in (
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ):
        with subtests.test(content_type=content_type):
            headers = {} if content_type is None else {"Content-Type": content_type}
            response = api.request(
                method,
                f"/tickets/{reference}{suffix}",
                content=json.dumps(body).encode(),
                headers=headers,
            )
            _error(response, 415, "unsupported_media_type")

    assert api.snapshot(reference) == before


def test_json_with_a_charset_is_json(api: Api) -> None:
    reference = api.sms("hello")
    response = api.request(
        "POST",
        f"/tickets/{reference}/notes",
        content='{"body": "Merci, c\u2019est not\u00e9"}'.encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["message"]["body"] == "Merci, c\u2019est not\u00e9"


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES, ids=WRITE_IDS)
def test_an_oversized_body_is_413(api: Api, method: str, suffix: str, body: object) -> None:
    reference = api.sms("hello")
    before = api.snapshot(reference)
    limit = api.services.settings.max_body_bytes
    content = b'{"body": "' + b"x" * limit + b'"}'

    response = _send(api, method, suffix, reference, content)

    assert response.request.headers["content-length"] == str(len(content))
    _error(response, 413, "too_large")
    assert api.snapshot(reference) == before


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES, ids=WRITE_IDS)
def test_an_oversized_body_without_a_length_is_413(
    api: Api, method: str, suffix: str, body: object
) -> None:
    reference = api.sms("hello")
    before = api.snapshot(reference)
    limit = api.services.settings.max_body_bytes
    chunk = 64 * 1024

    def chunks() -> Iterator[bytes]:
        yield b'{"body": "'
        for _ in range(limit // chunk + 2):
            yield b"x" * chunk
        yield b'"}'

    response = _send(api, method, suffix, reference, chunks())

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    _error(response, 413, "too_large")
    assert api.snapshot(reference) == before


def test_a_body_just_under_the_limit_is_read(sqlite_api: Api) -> None:
    api = sqlite_api
    reference = api.sms("hello")
    limit = api.services.settings.max_body_bytes
    # Past the note's own 20 000 characters, so the body was read whole and judged on its merits.
    content = b'{"body": "' + b"x" * (limit - 20) + b'"}'
    assert len(content) <= limit

    response = _send(api, "POST", "/notes", reference, content)

    _error(response, 422, "invalid")


def test_unknown_paths_and_methods_answer_json(api: Api) -> None:
    reference = api.sms("hello")
    client, headers = api.client, api.auth()

    missing = client.get("/api/v1/no-such-thing", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"

    wrong = client.delete(f"/api/v1/tickets/{reference}", headers=headers)
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    assert api.ticket(reference)["reference"] == reference
