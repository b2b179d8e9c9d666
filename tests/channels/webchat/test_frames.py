"""Client frames: every accepted shape, and every refusal with its code (pure, no server)."""

from __future__ import annotations

import json

import pytest

from channels.webchat.frames import (
    MAX_BODY,
    End,
    FrameError,
    Hello,
    Ping,
    Say,
    Start,
    Typing,
    decode,
)

LIMIT = 8192


def frame(**fields: object) -> str:
    return json.dumps(fields, ensure_ascii=False)  # as browsers' JSON.stringify does


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (frame(type="hello"), Hello(None, 0, None)),
        (frame(type="hello", token="t" * 43, last_seq=7, language="fr"), Hello("t" * 43, 7, "fr")),
        (frame(type="hello", token=None, last_seq=0), Hello(None, 0, None)),
        (
            frame(type="start", topic="roads", name="  Dana ", email="", phone="613 555 0100"),
            Start("roads", None, "Dana", None, "613 555 0100"),
        ),
        (frame(type="message", client_id="a-1_B", body=" hi\x00 there "), Say("a-1_B", "hi there")),
        (frame(type="message", client_id="c", body="é" * MAX_BODY), Say("c", "é" * MAX_BODY)),
        (frame(type="message", client_id="c", body="😀" * MAX_BODY), Say("c", "😀" * MAX_BODY)),
        (frame(type="typing", active=False), Typing(False)),
        (frame(type="typing"), Typing(True)),
        (frame(type="end", transcript=True, email="a@b.ca"), End(True, "a@b.ca")),
        (frame(type="end"), End(False, None)),
        (frame(type="ping"), Ping()),
    ],
)
def test_accepted_frames(text: str, expected: object) -> None:
    assert decode(text, None, max_bytes=LIMIT) == expected


@pytest.mark.parametrize(
    ("text", "data", "code", "field"),
    [
        (None, b"\x00\x01", "binary_frame", None),
        (None, b"x" * (LIMIT + 1), "too_large", None),
        ("x" * (LIMIT + 1), None, "too_large", None),
        ('{"type": "message", "body": "' + "é" * 4500 + '"}', None, "too_large", None),
        ("{", None, "invalid_json", None),
        ("NaN", None, "invalid_frame", None),
        ("[]", None, "invalid_frame", None),
        (frame(kind="hello"), None, "invalid_frame", None),
        (frame(type=3), None, "invalid_frame", None),
        (frame(type="subscribe"), None, "unknown_type", None),
        (frame(type="hello", token="short"), None, "token_unknown", None),
        (frame(type="hello", token=12345678901234567890123), None, "token_unknown", None),
        (frame(type="hello", last_seq=-1), None, "invalid_field", "last_seq"),
        (frame(type="hello", last_seq=True), None, "invalid_field", "last_seq"),
        (frame(type="hello", language="de"), None, "invalid_field", "language"),
        (frame(type="start"), None, "invalid_field", "topic"),
        (frame(type="start", topic="roads", name="n" * 101), None, "invalid_field", "name"),
        (frame(type="start", topic="roads", email=["a@b.ca"]), None, "invalid_field", "email"),
        (frame(type="message", body="hi"), None, "invalid_field", "client_id"),
        (frame(type="message", client_id="x" * 65, body="hi"), None, "invalid_field", "client_id"),
        (frame(type="message", client_id="ok", body=5), None, "invalid_field", "body"),
        (frame(type="message", client_id="ok", body=" \x07 "), None, "invalid_field", "body"),
        (
            frame(type="message", client_id="ok", body="y" * (MAX_BODY + 1)),
            None,
            "too_long",
            "body",
        ),
        (frame(type="typing", active="yes"), None, "invalid_field", "active"),
        (frame(type="end", transcript="yes"), None, "invalid_field", "transcript"),
    ],
)
def test_refused_frames(text: str | None, data: bytes | None, code: str, field: str | None) -> None:
    with pytest.raises(FrameError) as refused:
        decode(text, data, max_bytes=LIMIT)
    assert (refused.value.code, refused.value.field) == (code, field)
    answer = refused.value.to_frame()
    assert answer["type"] == "error"
    assert answer["code"] == code
    assert answer["message"]


def test_a_refused_message_names_its_client_id_and_when_to_retry() -> None:
    with pytest.raises(FrameError) as refused:
        decode(frame(type="message", client_id="m1", body=""), None, max_bytes=LIMIT)
    assert refused.value.to_frame()["client_id"] == "m1"
    error = FrameError("rate_limited", "slow down", retry_after=0.01)
    assert error.to_frame()["retry_after"] == 0.1
