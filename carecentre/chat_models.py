"""Tables of the web chat.

A :class:`ChatConversation` is one resident's chat session: its resume token (kept only as a
SHA-256 digest), its chat identity, its ticket once the first message arrives, and its own
sequence counter. Each thing shown in the chat (a resident's message, an agent's, a notice) is
a :class:`ChatEntry` numbered by that counter, so a resident who reconnects can be sent exactly
what they missed. Typing indicators are never stored.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from carecentre.coltypes import BigId, UTCDateTime, enum_type, utcnow


class ChatStatus(StrEnum):
    PRECHAT = "prechat"  # connected, the pre-chat form not sent yet
    OPEN = "open"
    ENDED = "ended"


def _ref(target: str, *, nullable: bool, index: bool = False, unique: bool = False) -> Any:
    return Field(
        default=None,
        sa_column_args=[sa.ForeignKey(target)],
        sa_type=BigId,
        nullable=nullable,
        index=index,
        unique=unique,
    )


def _when(*, nullable: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ChatConversation(SQLModel, table=True):
    __tablename__ = "chat_conversation"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    # SHA-256 of the resume token; the token itself travels only inside the socket.
    token_hash: str = Field(max_length=64, unique=True)
    # The address of the conversation's chat identity (IdentityKind.CHAT).
    chat_id: str = Field(max_length=64, unique=True)
    contact_id: int | None = _ref("contact.id", nullable=True)
    ticket_id: int | None = _ref("ticket.id", nullable=True, index=True)
    status: ChatStatus = Field(default=ChatStatus.PRECHAT, sa_type=enum_type(ChatStatus))
    topic: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    language: str = Field(default="en", max_length=8)
    follow_up_email: str | None = Field(default=None, max_length=320)
    follow_up_phone: str | None = Field(default=None, max_length=32)
    last_seq: int = 0
    # The agent the resident was last told joined; notices say when that changes.
    agent_id: int | None = _ref("agent.id", nullable=True)
    created_at: datetime = _when()
    last_seen_at: datetime = _when()
    ended_at: datetime | None = _when(nullable=True)


class ChatEntry(SQLModel, table=True):
    """One numbered thing in a conversation: a message (resident's or agent's) or a notice."""

    __tablename__ = "chat_entry"
    __table_args__ = (
        sa.UniqueConstraint("conversation_id", "seq", name="uq_chat_entry_seq"),
        sa.UniqueConstraint("conversation_id", "client_id", name="uq_chat_entry_client_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    conversation_id: int = _ref("chat_conversation.id", nullable=False)
    seq: int
    kind: str = Field(max_length=16)  # message | notice
    author: str = Field(max_length=16)  # resident | agent | city
    author_name: str | None = Field(default=None, max_length=200)
    notice: str | None = Field(default=None, max_length=32)
    body: str = Field(default="", sa_type=sa.Text)
    # The resident's own id for a message (dedupes resends), or a key for a notice.
    client_id: str | None = Field(default=None, max_length=80)
    message_id: int | None = _ref("message.id", nullable=True, unique=True)
    # An agent reply the resident was no longer there to read, queued again by email or SMS.
    forwarded_message_id: int | None = _ref("message.id", nullable=True)
    created_at: datetime = _when()
