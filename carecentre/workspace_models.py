"""Tables of the agents' workspace: tags on tickets, and canned responses."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from carecentre.coltypes import BigId, UTCDateTime, utcnow


class Tag(SQLModel, table=True):
    __tablename__ = "tag"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    name: str = Field(max_length=40, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class TicketTag(SQLModel, table=True):
    __tablename__ = "ticket_tag"

    ticket_id: int = Field(
        sa_column_args=[sa.ForeignKey("ticket.id", ondelete="CASCADE")],
        sa_type=BigId,
        primary_key=True,
    )
    tag_id: int = Field(
        sa_column_args=[sa.ForeignKey("tag.id", ondelete="CASCADE")],
        sa_type=BigId,
        primary_key=True,
        index=True,
    )


class CannedResponse(SQLModel, table=True):
    """A reusable answer; ``{{ resident_name }}``, ``{{ reference }}`` and ``{{ agent_name }}``
    are filled in when an agent inserts it (see :mod:`carecentre.workspace`)."""

    __tablename__ = "canned_response"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    title: str = Field(max_length=200, unique=True)
    body: str = Field(sa_type=sa.Text)
    created_by: int | None = Field(
        default=None,
        sa_column_args=[sa.ForeignKey("agent.id", ondelete="SET NULL")],
        sa_type=BigId,
        nullable=True,
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
