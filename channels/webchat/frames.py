"""The chat socket's client frames, parsed and checked; pure functions, no I/O.

Every frame is one JSON object with a ``type``. :func:`decode` turns a websocket message into
one of the frame dataclasses or raises :class:`FrameError`, whose ``code`` and ``message`` are
sent back as an ``error`` frame (see docs/chat-protocol.md). Nothing here trusts the client: sizes,
types and characters are checked before anything is stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_BODY = 2000  # characters: any script, emoji included, fits the default 8 KiB frame
MAX_NAME = 100
MAX_ADDRESS = 254
LANGUAGES = ("en", "fr")
# Characters no resident types, which a terminal or a log could misread.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class FrameError(Exception):
    """A frame the server cannot use; answered with an ``error`` frame, the socket stays open."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        client_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.client_id = client_id
        self.retry_after = retry_after

    def to_frame(self) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "error", "code": self.code, "message": self.message}
        if self.field is not None:
            frame["field"] = self.field
        if self.client_id is not None:
            frame["client_id"] = self.client_id
        if self.retry_after is not None:
            frame["retry_after"] = max(0.1, round(self.retry_after, 1))
        return frame


@dataclass(frozen=True, slots=True)
class Hello:
    token: str | None
    last_seq: int
    language: str | None


@dataclass(frozen=True, slots=True)
class Start:
    topic: str
    language: str | None
    name: str | None
    email: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class Say:
    client_id: str
    body: str


@dataclass(frozen=True, slots=True)
class Typing:
    active: bool


@dataclass(frozen=True, slots=True)
class End:
    transcript: bool
    email: str | None


@dataclass(frozen=True, slots=True)
class Ping:
    pass


Frame = Hello | Start | Say | Typing | End | Ping


def _text(obj: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str | None:
    value = obj.get(name)
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            raise FrameError("invalid_field", f"{name} is required", field=name)
        return None
    if not isinstance(value, str):
        raise FrameError("invalid_field", f"{name} must be a string", field=name)
    value = _CONTROL.sub("", value).strip()
    if required and not value:
        raise FrameError("invalid_field", f"{name} is empty", field=name)
    if len(value) > limit:
        raise FrameError("invalid_field", f"{name} is longer than {limit} characters", field=name)
    return value


def _language(obj: dict[str, Any]) -> str | None:
    value = obj.get("language")
    if value is None:
        return None
    if value not in LANGUAGES:
        raise FrameError("invalid_field", "language must be 'en' or 'fr'", field="language")
    return str(value)


def _hello(obj: dict[str, Any]) -> Hello:
    token = obj.get("token")
    if token is not None and (not isinstance(token, str) or not 20 <= len(token) <= 100):
        raise FrameError("token_unknown", "this chat cannot be resumed; start a new one")
    last_seq = obj.get("last_seq", 0)
    if isinstance(last_seq, bool) or not isinstance(last_seq, int) or last_seq < 0:
        raise FrameError("invalid_field", "last_seq must be a whole number", field="last_seq")
    return Hello(token or None, last_seq, _language(obj))


def _start(obj: dict[str, Any]) -> Start:
    topic = _text(obj, "topic", 64, required=True)
    assert topic is not None
    return Start(
        topic=topic,
        language=_language(obj),
        name=_text(obj, "name", MAX_NAME),
        email=_text(obj, "email", MAX_ADDRESS),
        phone=_text(obj, "phone", 40),
    )


def _say(obj: dict[str, Any]) -> Say:
    client_id = obj.get("client_id")
    if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
        raise FrameError(
            "invalid_field", "client_id must be 1-64 letters, digits, - or _", field="client_id"
        )
    value = obj.get("body")
    if not isinstance(value, str):
        raise FrameError(
            "invalid_field", "body must be a string", field="body", client_id=client_id
        )
    body = _CONTROL.sub("", value).strip()
    if not body:
        raise FrameError("invalid_field", "the message is empty", field="body", client_id=client_id)
    if len(body) > MAX_BODY:
        raise FrameError(
            "too_long",
            f"a message can hold at most {MAX_BODY} characters",
            field="body",
            client_id=client_id,
        )
    return Say(client_id, body)


def _typing(obj: dict[str, Any]) -> Typing:
    active = obj.get("active", True)
    if not isinstance(active, bool):
        raise FrameError("invalid_field", "active must be true or false", field="active")
    return Typing(active)


def _end(obj: dict[str, Any]) -> End:
    transcript = obj.get("transcript", False)
    if not isinstance(transcript, bool):
        raise FrameError("invalid_field", "transcript must be true or false", field="transcript")
    return End(transcript, _text(obj, "email", MAX_ADDRESS))


def _ping(_obj: dict[str, Any]) -> Ping:
    return Ping()


_PARSERS: dict[str, Callable[[dict[str, Any]], Frame]] = {
    "hello": _hello,
    "start": _start,
    "message": _say,
    "typing": _typing,
    "end": _end,
    "ping": _ping,
}


def decode(text: str | None, data: bytes | None, *, max_bytes: int) -> Frame:
    """One websocket message → a frame. Raises :class:`FrameError` saying what is wrong."""
    if text is None:
        size = len(data or b"")
        if size > max_bytes:
            raise FrameError("too_large", f"frames are limited to {max_bytes} bytes")
        raise FrameError("binary_frame", "send frames as JSON text, not binary")
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise FrameError("too_large", f"frames are limited to {max_bytes} bytes")
    try:
        obj = json.loads(text)
    except ValueError:
        raise FrameError("invalid_json", "the frame is not valid JSON") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise FrameError("invalid_frame", "a frame is a JSON object with a string 'type'")
    parser = _PARSERS.get(obj["type"])
    if parser is None:
        raise FrameError("unknown_type", f"unknown frame type {obj['type'][:40]!r}")
    frame: Frame = parser(obj)
    return frame
