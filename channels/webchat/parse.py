"""A resident's chat message, as stored, → the core's InboundMessage. Pure; used for replays too.

The stored payload is the ``message`` frame exactly as it arrived; its conversation context (chat
identity, topic, name, language) travels in the stored ``meta``, so a replay rebuilds the same
message. The external id is the conversation id plus the resident's ``client_id``: a message
resent after a reconnect is the same message, and ingest keeps it once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from carecentre.contract import Channel, InboundMessage, ParseError
from channels.webchat.frames import FrameError, Say, decode


def thread_key(conversation_id: int) -> str:
    return f"chat:{conversation_id}"


def external_id(conversation_id: int, client_id: str) -> str:
    return f"{conversation_id}:{client_id}"


def context(
    *, conversation_id: int, chat_id: str, topic: str | None, name: str | None, language: str
) -> dict[str, Any]:
    """The ``meta`` stored beside a message's payload."""
    return {
        "conversation_id": conversation_id,
        "chat_id": chat_id,
        "topic": topic,
        "name": name,
        "language": language,
    }


def parse_chat_message(payload: bytes, meta: Mapping[str, Any]) -> InboundMessage:
    """Raises :class:`ParseError` for a payload that is not a valid ``message`` frame."""
    try:
        frame = decode(payload.decode("utf-8"), None, max_bytes=max(len(payload), 1))
    except (UnicodeDecodeError, FrameError) as error:
        raise ParseError(f"not a chat message frame: {error}") from None
    if not isinstance(frame, Say):
        raise ParseError("not a chat message frame")
    conversation_id = meta.get("conversation_id")
    chat_id = meta.get("chat_id")
    if not isinstance(conversation_id, int) or not isinstance(chat_id, str):
        raise ParseError("the chat message's conversation is missing")
    topic, name, language = meta.get("topic"), meta.get("name"), meta.get("language")
    key = thread_key(conversation_id)
    return InboundMessage(
        channel=Channel.CHAT,
        external_id=external_id(conversation_id, frame.client_id),
        sender=chat_id,
        sender_name=name if isinstance(name, str) else None,
        body_text=frame.body,
        thread_keys=(key,),
        register_keys=(key,),
        queue_hint=topic if isinstance(topic, str) else None,
        language=language if isinstance(language, str) else None,
        metadata={"client_id": frame.client_id},
    )


def encode_say(client_id: str, body: str) -> bytes:
    """A ``message`` frame as bytes (what tests and replays store)."""
    return json.dumps({"type": "message", "client_id": client_id, "body": body}).encode()
