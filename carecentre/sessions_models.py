"""Tables of an agent's sign-in state: browser sessions, one-time set-password links, presence.

Only SHA-256 digests of session ids and link tokens are stored; the values themselves live in the
agent's cookie or link and nowhere else.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from carecentre.coltypes import BigId, UTCDateTime, utcnow


def _agent_fk(*, primary_key: bool = False) -> int:
    found: int = Field(
        default=None,
        sa_column_args=[sa.ForeignKey("agent.id", ondelete="CASCADE")],
        sa_type=BigId,
        primary_key=primary_key,
        index=not primary_key,
        nullable=False,
    )
    return found


def _now() -> datetime:
    found: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    return found


class AgentSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds the id; the table holds its digest."""

    __tablename__ = "agent_session"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    agent_id: int = _agent_fk()
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _now()
    last_seen_at: datetime = _now()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    address: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)


class PasswordLink(SQLModel, table=True):
    """A one-time link that lets an invited agent choose their password."""

    __tablename__ = "password_link"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    agent_id: int = _agent_fk()
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _now()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class AgentPresence(SQLModel, table=True):
    """Whether an agent is available, away or offline (see :mod:`carecentre.presence`)."""

    __tablename__ = "agent_presence"

    agent_id: int = _agent_fk(primary_key=True)
    status: str = Field(default="offline", max_length=16)
    updated_at: datetime = _now()
