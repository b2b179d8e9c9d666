"""Frames the server sends, built from the core's views. Pure; see docs/chat-protocol.md."""

from __future__ import annotations

from typing import Any

from carecentre.chat_service import Availability
from carecentre.conversations import ConversationView, EntryView
from channels.webchat.frames import MAX_BODY
from channels.webchat.wording import Topic


def entry(item: EntryView) -> dict[str, Any]:
    """A ``message`` or ``notice`` frame: numbered, replayable, shown once."""
    at = item.created_at.isoformat()
    if item.kind == "notice":
        return {
            "type": "notice",
            "seq": item.seq,
            "event": item.notice,
            "author": item.author_name,
            "at": at,
        }
    frame: dict[str, Any] = {
        "type": "message",
        "seq": item.seq,
        "from": item.author,
        "author": item.author_name,
        "body": item.body,
        "at": at,
    }
    if item.client_id is not None and item.author == "resident":
        frame["client_id"] = item.client_id
    return frame


def conversation(view: ConversationView) -> dict[str, Any]:
    return {
        "status": view.status.value,
        "topic": view.topic,
        "name": view.name,
        "language": view.language,
        "reference": view.reference,
        "follow_up": {"email": view.follow_up_email, "phone": view.follow_up_phone},
        "last_seq": view.last_seq,
    }


def conversation_frame(view: ConversationView) -> dict[str, Any]:
    return {"type": "conversation", "conversation": conversation(view)}


def availability(found: Availability) -> dict[str, Any]:
    reason = None
    if found.closed is not None:
        reason = found.closed.reason.value
    elif not found.live:
        reason = "no_agents"
    return {
        "live": found.live,
        "reason": reason,
        "label": found.closed.label if found.closed else None,
        "next_open": found.next_open.isoformat() if found.next_open else None,
    }


def availability_frame(found: Availability) -> dict[str, Any]:
    return {"type": "availability", "availability": availability(found)}


def welcome(
    *,
    token: str,
    view: ConversationView,
    resumed: bool,
    found: Availability,
    topics: tuple[Topic, ...],
) -> dict[str, Any]:
    return {
        "type": "welcome",
        "token": token,
        "resumed": resumed,
        "conversation": conversation(view),
        "availability": availability(found),
        "topics": [{"id": t.slug, "en": t.en, "fr": t.fr} for t in topics],
        "limits": {"max_body": MAX_BODY},
    }


def typing(who: str, active: bool, author: str | None) -> dict[str, Any]:
    return {"type": "typing", "from": who, "active": active, "author": author}


def ended(transcript: str | None, message: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "ended", "transcript": transcript}
    if message:
        frame["message"] = message
    return frame
