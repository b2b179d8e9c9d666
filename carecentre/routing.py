"""Routing a new ticket: which queue, what priority, when it is due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, bindparam, select
from sqlalchemy.engine import Connection

from carecentre.contract import InboundMessage
from carecentre.db import inserted_id
from carecentre.models import Queue
from carecentre.states import Priority

# Until SLA policies are configured, a ticket is due this long after it arrives.
DEFAULT_TARGETS = {
    Priority.URGENT: timedelta(hours=4),
    Priority.HIGH: timedelta(hours=24),
    Priority.NORMAL: timedelta(days=2),
    Priority.LOW: timedelta(days=5),
}

_queue: Table = Queue.__table__  # type: ignore[attr-defined]
_COLUMNS = (_queue.c.id, _queue.c.slug, _queue.c.name, _queue.c.active)
_BY_SLUG = select(*_COLUMNS).where(_queue.c.slug == bindparam("slug"))
_BY_ID = select(*_COLUMNS).where(_queue.c.id == bindparam("queue_id"))
_INSERT = _queue.insert()


@dataclass(frozen=True, slots=True)
class QueueRow:
    """A queue as routing reads it, read in the caller's transaction (never kept: a
    supervisor's change is seen by the next message)."""

    id: int
    slug: str
    name: str
    active: bool


def queue_by_slug(conn: Connection, slug: str) -> QueueRow | None:
    row = conn.execute(_BY_SLUG, {"slug": slug}).first()
    return None if row is None else QueueRow(*row)


def queue_by_id(conn: Connection, queue_id: int) -> QueueRow | None:
    row = conn.execute(_BY_ID, {"queue_id": queue_id}).first()
    return None if row is None else QueueRow(*row)


def choose_queue(
    conn: Connection, message: InboundMessage, default_slug: str, *, now: datetime
) -> QueueRow:
    """The queue the channel hinted (an IVR option, a chat topic) if it exists, else the default.

    A missing default queue is created rather than losing the message.
    """
    if message.queue_hint:
        hinted = queue_by_slug(conn, message.queue_hint)
        if hinted is not None and hinted.active:
            return hinted
    queue = queue_by_slug(conn, default_slug)
    if queue is None:
        name = default_slug.replace("-", " ").title()
        values = {"slug": default_slug, "name": name, "description": "", "active": True}
        queue_id = inserted_id(conn.execute(_INSERT, {**values, "created_at": now}))
        queue = QueueRow(queue_id, default_slug, name, True)
    return queue


def initial_due(created_at: datetime, priority: Priority) -> datetime:
    return created_at + DEFAULT_TARGETS[priority]
