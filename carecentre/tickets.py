"""Ticket rules: creation with a unique reference, status changes, assignment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import select

from carecentre.contract import Channel
from carecentre.models import Queue, Ticket
from carecentre.references import new_reference, parse_reference
from carecentre.states import (
    Priority,
    Resolution,
    TicketStatus,
    check_ticket_transition,
)


def create_ticket(
    session: Session,
    *,
    contact_id: int,
    queue: Queue,
    channel: Channel,
    subject: str,
    now: datetime,
    due: Callable[[datetime, Priority], datetime],
    linked_ticket_id: int | None = None,
    priority: Priority = Priority.NORMAL,
    last_inbound_at: datetime | None = None,
    language: str = "en",
) -> Ticket:
    """A new ticket with a fresh reference. A collision (about one in 10^8 per ticket) fails the
    unique constraint, and the caller's retry draws another."""
    reference = new_reference()
    assert queue.id is not None
    ticket = Ticket(
        reference=reference,
        contact_id=contact_id,
        queue_id=queue.id,
        channel=channel,
        subject=subject,
        priority=priority,
        linked_ticket_id=linked_ticket_id,
        created_at=now,
        updated_at=now,
        due_at=due(now, priority),
        last_inbound_at=last_inbound_at,
        language=language,
    )
    session.add(ticket)
    session.flush()
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
