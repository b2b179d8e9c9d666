"""Tickets at fixed times, for tests of numbers that depend on the clock (wallboard, reports):
a ticket is ingested the real way, then its times and status are set to the test's."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col

from carecentre.contract import Channel
from carecentre.models import Ticket
from carecentre.services import Services
from carecentre.states import TicketStatus
from carecentre.supervision_models import TicketSla
from tests.support.factories import ingest

_senders = itertools.count(1)
_ADDRESS = {
    Channel.SMS: "+1613555{:04d}",
    Channel.VOICE: "+1613556{:04d}",
    Channel.EMAIL: "resident{}@example.org",
    Channel.CHAT: "chat-session-{:08d}",
}


async def ticket_at(
    svc: Services,
    channel: Channel,
    created_at: datetime,
    *,
    queue: str = "general",
    status: TicketStatus = TicketStatus.NEW,
    **times: Any,
) -> int:
    """A ticket in ``queue`` created at ``created_at``, with ``status`` and any other ticket
    columns (``first_response_at``, ``resolved_at``, ``assignee_id``…) as given."""
    sender = _ADDRESS[channel].format(next(_senders))
    result = await ingest(svc, channel, sender, "Something to fix", queue_hint=queue)
    async with svc.db.write() as session:
        await session.execute(
            update(Ticket)
            .where(col(Ticket.id) == result.ticket_id)
            .values(created_at=created_at, status=status, **times)
        )
    return result.ticket_id


async def clock_at(svc: Services, ticket_id: int, **fields: Any) -> None:
    """An SLA clock for the ticket; every time not given is the ticket's creation time."""
    async with svc.db.write() as session:
        ticket = await session.get_one(Ticket, ticket_id)
        start = ticket.created_at
        values: dict[str, Any] = {
            "first_response_due_at": start,
            "first_response_risk_at": start,
            "resolution_due_at": start,
            "resolution_risk_at": start,
            **fields,
        }
        session.add(
            TicketSla(
                ticket_id=ticket_id,
                queue_id=ticket.queue_id,
                channel=ticket.channel.value,
                priority=ticket.priority.value,
                started_at=start,
                first_response_seconds=3600,
                resolution_seconds=3600 * 8,
                **values,
            )
        )
