"""The tables. One ticket is one resident's matter; see DESIGN.md for the rules around them.

Timestamps are aware UTC (:class:`UTCDateTime`); enums are stored as their text values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from carecentre.coltypes import BigId, UTCDateTime, enum_type, utcnow
from carecentre.contract import Channel, IdentityKind
from carecentre.states import (
    DeliveryStatus,
    Direction,
    Priority,
    Resolution,
    Role,
    TicketStatus,
)


def _ts(*, nullable: bool = False, index: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)


def _pk() -> Any:
    return Field(default=None, primary_key=True, sa_type=BigId)


def _fk(target: str, *, nullable: bool = False, index: bool = True) -> Any:
    return Field(
        default=None,
        sa_column_args=[sa.ForeignKey(target)],
        sa_type=BigId,
        nullable=nullable,
        index=index,
    )


class Queue(SQLModel, table=True):
    __tablename__ = "queue"

    id: int | None = _pk()
    slug: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    active: bool = True
    created_at: datetime = _ts()


class Agent(SQLModel, table=True):
    __tablename__ = "agent"

    id: int | None = _pk()
    email: str = Field(max_length=320, unique=True)
    name: str = Field(max_length=200)
    role: Role = Field(default=Role.AGENT, sa_type=enum_type(Role))
    password_hash: str | None = Field(default=None, max_length=200)
    active: bool = True
    # When true the agent sees only the queues listed in agent_queue, and nothing of the others.
    limited_to_queues: bool = False
    phone: str | None = Field(default=None, max_length=32)
    created_at: datetime = _ts()


class AgentQueue(SQLModel, table=True):
    __tablename__ = "agent_queue"

    agent_id: int = Field(
        sa_column_args=[sa.ForeignKey("agent.id", ondelete="CASCADE")],
        sa_type=BigId,
        primary_key=True,
    )
    queue_id: int = Field(
        sa_column_args=[sa.ForeignKey("queue.id", ondelete="CASCADE")],
        sa_type=BigId,
        primary_key=True,
    )


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = _pk()
    agent_id: int = _fk("agent.id")
    name: str = Field(max_length=200)
    # Only a SHA-256 of the token is kept; the token itself is shown once, at creation.
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _ts()
    last_used_at: datetime | None = _ts(nullable=True)
    revoked_at: datetime | None = _ts(nullable=True)


class Contact(SQLModel, table=True):
    __tablename__ = "contact"

    id: int | None = _pk()
    name: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, max_length=8)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ContactIdentity(SQLModel, table=True):
    __tablename__ = "contact_identity"
    __table_args__ = (sa.UniqueConstraint("kind", "address", name="uq_identity_kind_address"),)

    id: int | None = _pk()
    contact_id: int = _fk("contact.id")
    kind: IdentityKind = Field(sa_type=enum_type(IdentityKind))
    address: str = Field(max_length=320)
    opted_out_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class Ticket(SQLModel, table=True):
    __tablename__ = "ticket"
    __table_args__ = (
        sa.Index("ix_ticket_contact_channel", "contact_id", "channel", "id"),
        sa.Index("ix_ticket_status_due", "status", "due_at"),
        # The queue's order: tickets with a due time by it, then the others (ticket_search).
        sa.Index("ix_ticket_due", "due_at", "id"),
        # Open tickets counted by queue without reading the tickets themselves.
        sa.Index("ix_ticket_status_queue", "status", "queue_id"),
    )

    id: int | None = _pk()
    reference: str = Field(max_length=20, unique=True)
    status: TicketStatus = Field(default=TicketStatus.NEW, sa_type=enum_type(TicketStatus))
    resolution: Resolution | None = Field(
        default=None, sa_type=enum_type(Resolution), nullable=True
    )
    priority: Priority = Field(default=Priority.NORMAL, sa_type=enum_type(Priority))
    queue_id: int = _fk("queue.id")
    assignee_id: int | None = _fk("agent.id", nullable=True)
    contact_id: int = _fk("contact.id", index=False)
    channel: Channel = Field(sa_type=enum_type(Channel))
    subject: str = Field(default="", max_length=500)
    linked_ticket_id: int | None = _fk("ticket.id", nullable=True, index=False)
    language: str = Field(default="en", max_length=8)
    created_at: datetime = _ts(index=True)
    updated_at: datetime = _ts()
    first_response_at: datetime | None = _ts(nullable=True)
    resolved_at: datetime | None = _ts(nullable=True)
    closed_at: datetime | None = _ts(nullable=True)
    due_at: datetime | None = _ts(nullable=True)
    last_inbound_at: datetime | None = _ts(nullable=True)


class ThreadKey(SQLModel, table=True):
    """A key that threads later messages to a ticket: our Message-IDs, reply tokens, CallSids."""

    __tablename__ = "thread_key"

    key: str = Field(primary_key=True, max_length=500)
    ticket_id: int = _fk("ticket.id")
    created_at: datetime = _ts()


class Message(SQLModel, table=True):
    __tablename__ = "message"
    __table_args__ = (
        sa.UniqueConstraint("channel", "external_id", name="uq_message_channel_external_id"),
        sa.Index("ix_message_ticket_created", "ticket_id", "id"),
    )

    id: int | None = _pk()
    ticket_id: int = _fk("ticket.id", index=False)
    direction: Direction = Field(sa_type=enum_type(Direction))
    channel: Channel = Field(sa_type=enum_type(Channel))
    external_id: str | None = Field(default=None, max_length=500)
    address: str | None = Field(default=None, max_length=320)
    subject: str | None = Field(default=None, max_length=500)
    body_text: str = Field(default="", sa_type=sa.Text)
    body_html: str | None = Field(default=None, sa_type=sa.Text)
    full_text: str | None = Field(default=None, sa_type=sa.Text)
    author_id: int | None = _fk("agent.id", nullable=True, index=False)
    automatic: bool = False
    kind: str = Field(default="message", max_length=32)
    delivery_status: DeliveryStatus | None = Field(
        default=None, sa_type=enum_type(DeliveryStatus), nullable=True
    )
    delivery_error: str | None = Field(default=None, max_length=2000)
    delivery_code: str | None = Field(default=None, max_length=64)
    raw_id: int | None = _fk("raw_inbound.id", nullable=True, index=False)
    meta: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = _ts()
    sent_at: datetime | None = _ts(nullable=True)
    delivered_at: datetime | None = _ts(nullable=True)


class Attachment(SQLModel, table=True):
    __tablename__ = "attachment"

    id: int | None = _pk()
    message_id: int = _fk("message.id")
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=255)
    size: int | None = None
    # Content-addressed: the bytes live under DATA_DIR/attachments/<sha256[:2]>/<sha256>.
    sha256: str | None = Field(default=None, max_length=64, index=True)
    # Kept until the bytes are fetched (an MMS picture), so a failed fetch loses nothing.
    url: str | None = Field(default=None, max_length=2000)
    fetch_attempts: int = 0
    fetch_error: str | None = Field(default=None, max_length=2000)
    next_fetch_at: datetime | None = _ts(nullable=True)
    inline: bool = False
    content_id: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts()


class RawInbound(SQLModel, table=True):
    """Every payload exactly as received, stored before parsing; replayable."""

    __tablename__ = "raw_inbound"

    id: int | None = _pk()
    channel: Channel = Field(sa_type=enum_type(Channel))
    kind: str = Field(default="message", max_length=32)
    content_type: str = Field(default="application/octet-stream", max_length=255)
    payload: bytes = Field(sa_type=sa.LargeBinary)
    meta: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    status: str = Field(default="received", max_length=16, index=True)
    error: str | None = Field(default=None, max_length=2000)
    message_id: int | None = Field(default=None, sa_type=BigId)
    attempts: int = 0
    received_at: datetime = _ts()
    processed_at: datetime | None = _ts(nullable=True)


class Event(SQLModel, table=True):
    """The global, strictly increasing event log that dashboards subscribe to."""

    __tablename__ = "event"
    __table_args__ = {"sqlite_autoincrement": True}

    seq: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    type: str = Field(max_length=64)
    at: datetime = _ts()
    ticket_id: int | None = Field(default=None, sa_type=BigId)
    queue_id: int | None = Field(default=None, sa_type=BigId)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class OutboxItem(SQLModel, table=True):
    __tablename__ = "outbox_item"
    __table_args__ = (sa.Index("ix_outbox_due", "state", "next_attempt_at"),)

    id: int | None = _pk()
    message_id: int = Field(
        sa_column_args=[sa.ForeignKey("message.id")], sa_type=BigId, unique=True
    )
    channel: Channel = Field(sa_type=enum_type(Channel))
    state: str = Field(default="pending", max_length=16)  # pending | sending | done | failed
    attempts: int = 0
    next_attempt_at: datetime = _ts()
    locked_until: datetime | None = _ts(nullable=True)
    last_error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


# Tables kept in their own modules, registered with the metadata here.
import carecentre.supervision_models  # noqa: E402, F401
from carecentre import sessions_models, workspace_models  # noqa: E402, F401
from carecentre.calls import Call  # noqa: E402, F401
from carecentre.chat_models import ChatConversation, ChatEntry  # noqa: E402, F401
