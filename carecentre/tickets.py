"""Ticket rules: creation with a unique reference, status changes, assignment."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from carecentre.contract import Channel
from carecentre.db import inserted_id
from carecentre.models import Queue, Ticket
from carecentre.references import new_reference, parse_reference
from carecentre.states import (
    Priority,
    Resolution,
    TicketStatus,
    check_ticket_transition,
)

_ticket: Table = Ticket.__table__  # type: ignore[attr-defined]
_queue: Table = Queue.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class TicketRow:
    """What the inbound pipeline reads and writes of a ticket, as plain values: building an
    ORM object per message costs more than every statement the message needs."""

    id: int
    reference: str
    status: TicketStatus
    priority: Priority
    queue_id: int
    queue_slug: str
    contact_id: int
    channel: Channel
    subject: str
    assignee_id: int | None
    due_at: datetime | None
    language: str

    @classmethod
    def from_row(cls, row: Row[Any]) -> TicketRow:
        """From a row of :data:`TICKET_COLUMNS`."""
        return cls(*row)  # type: ignore[call-arg]


# The columns of TicketRow, in its order, selected from TICKET_WITH_QUEUE.
TICKET_COLUMNS = (
    _ticket.c.id,
    _ticket.c.reference,
    _ticket.c.status,
    _ticket.c.priority,
    _ticket.c.queue_id,
    _queue.c.slug,
    _ticket.c.contact_id,
    _ticket.c.channel,
    _ticket.c.subject,
    _ticket.c.assignee_id,
    _ticket.c.due_at,
    _ticket.c.language,
)
TICKET_WITH_QUEUE = _ticket.join(_queue, _queue.c.id == _ticket.c.queue_id)

_INSERT = _ticket.insert()
_TOUCH = (
    update(_ticket)
    .where(_ticket.c.id == bindparam("ticket_id"))
    .values(updated_at=bindparam("now"), last_inbound_at=bindparam("now"))
)
_REOPEN = (
    update(_ticket)
    .where(_ticket.c.id == bindparam("ticket_id"))
    .values(
        status=TicketStatus.OPEN,
        resolution=None,
        resolved_at=None,
        updated_at=bindparam("now"),
        last_inbound_at=bindparam("now"),
    )
)


def insert_ticket(
    conn: Connection,
    *,
    contact_id: int,
    queue_id: int,
    queue_slug: str,
    channel: Channel,
    subject: str,
    now: datetime,
    due_at: datetime,
    linked_ticket_id: int | None = None,
    priority: Priority = Priority.NORMAL,
    language: str = "en",
) -> TicketRow:
    """A new ticket with a fresh reference, received now. A collision (about one in 10^8 per
    ticket) fails the unique constraint, and the caller's retry draws another."""
    reference = new_reference()
    ticket_id = inserted_id(
        conn.execute(
            _INSERT,
            {
                "reference": reference,
                "status": TicketStatus.NEW,
                "priority": priority,
                "queue_id": queue_id,
                "contact_id": contact_id,
                "channel": channel,
                "subject": subject,
                "linked_ticket_id": linked_ticket_id,
                "language": language,
                "created_at": now,
                "updated_at": now,
                "due_at": due_at,
                "last_inbound_at": now,
            },
        )
    )
    return TicketRow(
        ticket_id,
        reference,
        TicketStatus.NEW,
        priority,
        queue_id,
        queue_slug,
        contact_id,
        channel,
        subject,
        None,
        due_at,
        language,
    )


def receive_on(conn: Connection, ticket: TicketRow, now: datetime) -> TicketRow:
    """A resident's message arrived on ``ticket``: a resolved or pending one opens again (the
    ball is back with the City), as :func:`set_status` would move it."""
    if ticket.status in (TicketStatus.RESOLVED, TicketStatus.PENDING):
        check_ticket_transition(ticket.status, TicketStatus.OPEN)
        conn.execute(_REOPEN, {"ticket_id": ticket.id, "now": now})
        return replace(ticket, status=TicketStatus.OPEN)
    conn.execute(_TOUCH, {"ticket_id": ticket.id, "now": now})
    return ticket


def set_status(
    ticket: Ticket,
    status: TicketStatus,
    *,
    now: datetime,
    resolution: Resolution | None = None,
) -> None:
    """Move a ticket to ``status``; raises IllegalTransition when the rules forbid it."""
    if status is ticket.status:
        if resolution is not None and status is TicketStatus.RESOLVED:
            ticket.resolution = resolution
        return
    check_ticket_transition(ticket.status, status)
    ticket.status = status
    ticket.updated_at = now
    if status is TicketStatus.RESOLVED:
        ticket.resolution = resolution or Resolution.ANSWERED
        ticket.resolved_at = now
    elif status is TicketStatus.CLOSED:
        ticket.resolution = ticket.resolution or resolution or Resolution.ANSWERED
        ticket.closed_at = now
    else:
        ticket.resolution = None
        ticket.resolved_at = None


async def get_by_reference(session: AsyncSession, reference: str) -> Ticket | None:
    canonical = parse_reference(reference)
    if canonical is None:
        return None
    return await session.scalar(select(Ticket).where(Ticket.reference == canonical))
