"""SLA clocks for tests of what the pages show: a policy on a queue open around the clock (so
business time is plain time), and tickets made older, clock and all, as if they had arrived
earlier; nothing else about them changes."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from carecentre.models import Queue, Ticket
from carecentre.services import Services
from carecentre.supervision_models import QueueSettings, SlaPolicy, TicketSla

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ALWAYS_OPEN = {"hours": {day: ["00:00-24:00"] for day in DAYS}, "holidays": False}
_CLOCK_TIMES = (
    "started_at",
    "first_response_due_at",
    "first_response_risk_at",
    "resolution_due_at",
    "resolution_risk_at",
)


async def sla_on(
    svc: Services, slug: str, *, first_response_minutes: int, resolution_minutes: int
) -> None:
    """A policy for every priority of the queue ``slug``, which is open around the clock."""
    async with svc.db.write() as session:
        queue_id = await session.scalar(select(Queue.id).where(Queue.slug == slug))
        assert queue_id is not None
        session.add(QueueSettings(queue_id=queue_id, hours=ALWAYS_OPEN))
        session.add(
            SlaPolicy(
                scope=f"{queue_id}:*",
                queue_id=queue_id,
                first_response_minutes=first_response_minutes,
                resolution_minutes=resolution_minutes,
            )
        )


async def age(svc: Services, reference: str, by: timedelta) -> None:
    """As if the ticket had arrived ``by`` earlier: it and its clock move back in time, and the
    SLA watcher's next look at it with them."""
    async with svc.db.write() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.reference == reference))
        assert ticket is not None
        clock = await session.get_one(TicketSla, ticket.id)
        for name in _CLOCK_TIMES:
            setattr(clock, name, getattr(clock, name) - by)
        if clock.check_at is not None:
            clock.check_at -= by
        ticket.created_at -= by
        ticket.due_at = clock.first_response_due_at
