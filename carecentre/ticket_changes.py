"""Changing a ticket's status, resolution, priority, queue and assignee: the one set of rules
behind the agents' workspace and ``PATCH /api/v1/tickets/<reference>``.

Status changes follow the transition table (a closed ticket never reopens), a resolution only
goes with resolved or closed, and a ticket can only move to a queue the agent can see. What
changed is recorded as one ``ticket.updated`` event.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from carecentre import events
from carecentre.access import Principal
from carecentre.coltypes import utcnow
from carecentre.models import Agent, Queue, Ticket
from carecentre.states import IllegalTransition, Priority, Resolution, TicketStatus
from carecentre.tickets import set_status

_RESOLVED = (TicketStatus.RESOLVED, TicketStatus.CLOSED)


class Keep(Enum):
    KEEP = "keep"


# The assignee is left as it is (``None`` means: unassign).
KEEP: Final = Keep.KEEP


class ChangeRefused(ValueError):
    """A change the rules forbid; ``field`` names the input, ``str()`` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


async def change_ticket(
    session: AsyncSession,
    principal: Principal,
    ticket: Ticket,
    *,
    status: TicketStatus | None = None,
    resolution: Resolution | None = None,
    priority: Priority | None = None,
    queue: str | None = None,
    assignee_id: int | Keep | None = KEEP,
) -> dict[str, Any]:
    """Apply what is given; returns what changed (recorded as one ``ticket.updated`` event).

    Raises :class:`ChangeRefused` before anything is changed when any part is refused; the
    caller has checked that ``assignee_id`` is an active agent.
    """
    now = utcnow()
    target = status or ticket.status
    if resolution is not None and target not in _RESOLVED:
        raise ChangeRefused("resolution", "a resolution goes only with resolved or closed")
    moved_to: Queue | None = None
    if queue is not None and queue != "":
        moved_to = await session.scalar(select(Queue).where(Queue.slug == queue))
        if moved_to is None or moved_to.id is None or not principal.can_see_queue(moved_to.id):
            raise ChangeRefused("queue", f"there is no queue {queue!r}")
    changed: dict[str, Any] = {}
    if status is not None or resolution is not None:
        before = (ticket.status, ticket.resolution)
        try:
            set_status(ticket, target, now=now, resolution=resolution)
        except IllegalTransition as error:
            raise ChangeRefused("status", str(error)) from None
        if (ticket.status, ticket.resolution) != before:
            changed["status"] = ticket.status.value
            if ticket.resolution is not None:
                changed["resolution"] = ticket.resolution.value
    if priority is not None and priority is not ticket.priority:
        ticket.priority = priority
        changed["priority"] = priority.value
    if moved_to is not None and moved_to.id != ticket.queue_id:
        assert moved_to.id is not None
        changed["queue"] = moved_to.slug
        changed["from_queue_id"] = ticket.queue_id
        ticket.queue_id = moved_to.id
    data: dict[str, Any] = {"reference": ticket.reference, "changed": changed}
    if assignee_id is not KEEP and assignee_id != ticket.assignee_id:
        ticket.assignee_id = assignee_id
        changed["assignee_id"] = assignee_id
        agent = await session.get(Agent, assignee_id) if assignee_id is not None else None
        data["assignee"] = {"id": agent.id, "name": agent.name} if agent else None
    if not changed:
        return changed
    ticket.updated_at = now
    await session.flush()
    await events.record(
        session,
        "ticket.updated",
        {**data, "by": principal.agent_id},
        ticket_id=ticket.id,
        queue_id=ticket.queue_id,
    )
    return changed
