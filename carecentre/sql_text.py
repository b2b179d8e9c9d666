"""Helpers for the few hand-written aggregate queries (wallboard, report figures, loads).

They are written as SQL text so each can name, on SQLite, the index it must read: SQLite's planner
keeps no value histograms (no STAT4 in most builds), and given a GROUP BY it would rather walk an
index in group order over the whole table than read the narrow range of another (a second, not a
millisecond, at a million tickets). PostgreSQL plans these well on its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session


def _dialect(session: AsyncSession | Session) -> str:
    return session.get_bind().dialect.name


def use_index(session: AsyncSession | Session, name: str) -> str:
    """`` INDEXED BY <name>`` on SQLite, nothing elsewhere: put it after the table's name."""
    return f" INDEXED BY {name}" if _dialect(session) == "sqlite" else ""


def bind_time(session: AsyncSession | Session, value: datetime) -> Any:
    """A time as a parameter of a textual query: SQLite stores naive UTC text (as the column
    type does), PostgreSQL an aware timestamp."""
    if _dialect(session) == "sqlite":
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


def read_time(value: Any) -> datetime | None:
    """A time read back by a textual query, aware and in UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
