"""Claiming tickets: two agents who claim the same ticket at once cannot both have it.

A claim is one conditional UPDATE (``... WHERE assignee_id IS NULL``): the database decides who
was first. On PostgreSQL the second UPDATE waits for the first transaction's row lock and then
finds the ticket taken; on SQLite writers are serialized anyway. The loser learns who won.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from carecentre import events
from carecentre.access import Principal, load_principal
from carecentre.coltypes import utcnow
from carecentre.models import Agent, Ticket


class AlreadyClaimed(Exception):
    """Someone else holds the ticket; ``holder_name`` says who."""

    def __init__(self, holder_id: int, holder_name: str) -> None:
        super().__init__(f"{holder_name} has already claimed this ticket")
        self.holder_id = holder_id
        self.holder_name = holder_name


class NotYours(Exception):
    """Releasing a ticket the agent does not hold."""


async def _changed(
    session: AsyncSession, ticket: Ticket, principal: Principal, assignee: Agent | None
) -> None:
    await events.record(
        session,
        "ticket.updated",
        {
            "reference": ticket.reference,
            "changed": {"assignee_id": assignee.id if assignee else None},
            "assignee": {"id": assignee.id, "name": assignee.name} if assignee else None,
            "by": principal.agent_id,
        },
        ticket_id=ticket.id,
        queue_id=ticket.queue_id,
    )


async def claim(session: AsyncSession, principal: Principal, ticket: Ticket) -> Ticket:
    """Make the principal the ticket's assignee if nobody is; claiming one's own is a no-op.

    Raises :class:`AlreadyClaimed` naming the agent who holds it. The caller has checked that
    the principal may see the ticket.
    """
    now = utcnow()
    result = await session.execute(
        update(Ticket)
        .where(col(Ticket.id) == ticket.id, col(Ticket.assignee_id).is_(None))
        .values(assignee_id=principal.agent_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(ticket)
    if result.rowcount == 0:  # type: ignore[attr-defined]
        if ticket.assignee_id == principal.agent_id:
            return ticket
        assert ticket.assignee_id is not None
        holder = await session.get_one(Agent, ticket.assignee_id)
        raise AlreadyClaimed(ticket.assignee_id, holder.name)
    me = await session.get_one(Agent, principal.agent_id)
    await _changed(session, ticket, principal, me)
    return ticket


async def release(session: AsyncSession, principal: Principal, ticket: Ticket) -> Ticket:
    """Give a claimed ticket back to the queue; only its assignee may (supervisors may too)."""
    query = (
        update(Ticket)
        .where(col(Ticket.id) == ticket.id)
        .values(assignee_id=None, updated_at=utcnow())
    )
    if not principal.is_supervisor:
        query = query.where(col(Ticket.assignee_id) == principal.agent_id)
    result = await session.execute(query.execution_options(synchronize_session=False))
    await session.refresh(ticket)
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotYours("only the agent who claimed this ticket can release it")
    await _changed(session, ticket, principal, None)
    return ticket


async def assign(
    session: AsyncSession, principal: Principal, ticket: Ticket, agent_id: int
) -> Ticket:
    """A supervisor gives the ticket to an active agent who can see its queue."""
    if not principal.is_supervisor:
        raise NotYours("only supervisors assign tickets to others; claim it instead")
    agent = await session.get(Agent, agent_id)
    if agent is None or not agent.active or agent.id is None:
        raise NotYours("choose an active agent")
    viewer = await load_principal(session, agent.id)
    if viewer is None or not viewer.can_see(ticket):
        raise NotYours(f"{agent.name} cannot see the {ticket.reference} ticket's queue")
    ticket.assignee_id = agent.id
    ticket.updated_at = utcnow()
    await session.flush()
    await _changed(session, ticket, principal, agent)
    return ticket
