"""What supervisors do to the live queue: reassign tickets (one or many at once), move them to
another queue, set an agent away, and hand an agent's unanswered tickets back.

Only supervisors and administrators may (:class:`Forbidden` otherwise), and only within the queues
they may see: a supervisor limited to some queues manages the tickets of those queues and the
agents who work only in them. A bulk change is checked whole before anything changes, so it
applies to every ticket or to none, and each refusal says which ticket and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from carecentre import events
from carecentre.access import Forbidden, Principal, load_principal
from carecentre.auto_assign import hand_back
from carecentre.coltypes import utcnow
from carecentre.models import Agent, AgentQueue, Queue, Ticket
from carecentre.presence import PresenceStatus, set_presence
from carecentre.references import parse_reference
from carecentre.sessions_models import AgentPresence
from carecentre.ticket_search import agent_id as find_agent

MAX_BULK = 500


class ActionRefused(ValueError):
    """A change refused before anything changed; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Unset:
    """The assignee was not given (as opposed to ``None``: unassign)."""


UNSET = Unset()


def require_supervisor(principal: Principal) -> None:
    if not principal.is_supervisor:
        raise Forbidden("only supervisors and administrators may do this")


async def _tickets(
    session: AsyncSession, principal: Principal, references: Sequence[str]
) -> list[Ticket]:
    if not references:
        raise ActionRefused("tickets", "choose at least one ticket")
    if len(references) > MAX_BULK:
        raise ActionRefused("tickets", f"at most {MAX_BULK} tickets at once")
    wanted = {ref: parse_reference(ref) for ref in references}
    query = select(Ticket).where(col(Ticket.reference).in_([c for c in wanted.values() if c]))
    if session.get_bind().dialect.name == "postgresql":
        query = query.order_by(col(Ticket.id)).with_for_update()
    found = {t.reference: t for t in await session.scalars(query)}
    missing = [
        ref for ref, canonical in wanted.items()
        if canonical not in found or not principal.can_see(found[canonical])
    ]  # fmt: skip
    if missing:
        raise ActionRefused("tickets", f"no ticket {', '.join(missing[:10])}")
    return [found[c] for c in dict.fromkeys(c for c in wanted.values() if c)]


async def reassign(
    session: AsyncSession,
    principal: Principal,
    references: Sequence[str],
    *,
    assignee: int | str | Unset | None = UNSET,
    queue: str | None = None,
) -> list[dict[str, Any]]:
    """Give tickets to an agent (``None``: back to the queue) and/or move them to ``queue``.

    Moving a ticket to a queue its assignee may not see returns it to the queue, unless a new
    assignee is given. Returns what changed, per ticket.
    """
    require_supervisor(principal)
    if isinstance(assignee, Unset) and queue is None:
        raise ActionRefused("assignee", "say who gets the tickets, or which queue they move to")
    tickets = await _tickets(session, principal, references)
    target: Queue | None = None
    if queue is not None:
        target = await session.scalar(select(Queue).where(Queue.slug == queue))
        if target is None or target.id is None or not principal.can_see_queue(target.id):
            raise ActionRefused("queue", f"there is no queue {queue!r}")
        if not target.active:
            raise ActionRefused("queue", f"the queue {queue!r} is switched off")
    agent: Agent | None = None
    viewer: Principal | None = None
    if not isinstance(assignee, Unset) and assignee is not None:
        found = await find_agent(session, assignee)
        viewer = await load_principal(session, found) if found is not None else None
        if found is None or viewer is None:
            raise ActionRefused("assignee", f"no active agent {assignee!r}")
        agent = await session.get_one(Agent, found)
        blind = [
            t.reference for t in tickets
            if not viewer.can_see_queue(target.id if target else t.queue_id)
        ]  # fmt: skip
        if blind:
            raise ActionRefused(
                "assignee", f"{agent.name} cannot see the queue of {', '.join(blind[:10])}"
            )
    now = utcnow()
    changes: list[tuple[Ticket, dict[str, Any]]] = []
    for ticket in tickets:
        changed: dict[str, Any] = {}
        if target is not None and target.id != ticket.queue_id:
            assert target.id is not None
            changed.update(queue=target.slug, from_queue_id=ticket.queue_id)
            ticket.queue_id = target.id
            if isinstance(assignee, Unset) and ticket.assignee_id is not None:
                holder = await load_principal(session, ticket.assignee_id)
                if holder is None or not holder.can_see_queue(target.id):
                    ticket.assignee_id = None
                    changed["assignee_id"] = None
        if not isinstance(assignee, Unset):
            new = agent.id if agent is not None else None
            if new != ticket.assignee_id:
                ticket.assignee_id = new
                changed["assignee_id"] = new
        if changed:
            ticket.updated_at = now
            changes.append((ticket, changed))
    await session.flush()
    for ticket, changed in changes:
        data: dict[str, Any] = {"reference": ticket.reference, "changed": changed}
        data["by"] = principal.agent_id
        if "assignee_id" in changed:
            data["assignee"] = (
                {"id": agent.id, "name": agent.name} if changed["assignee_id"] and agent else None
            )
        await events.record(
            session, "ticket.updated", data, ticket_id=ticket.id, queue_id=ticket.queue_id
        )
    return [{"reference": t.reference, "changed": c} for t, c in changes]


async def manageable_agent(session: AsyncSession, principal: Principal, agent_id: int) -> Agent:
    """An agent the principal may manage: themselves, or anyone for a supervisor who sees
    every queue; a supervisor limited to queues manages agents who work only in those."""
    agent = await session.get(Agent, agent_id)
    if agent is None or not agent.active:
        raise LookupError(f"no agent {agent_id}")
    if agent_id == principal.agent_id:
        return agent
    require_supervisor(principal)
    if principal.queue_ids is None:
        return agent
    theirs = set(
        await session.scalars(select(AgentQueue.queue_id).where(AgentQueue.agent_id == agent_id))
    )
    if not agent.limited_to_queues or not theirs <= principal.queue_ids:
        raise LookupError(f"no agent {agent_id}")
    return agent


async def set_agent_presence(
    session: AsyncSession, principal: Principal, agent_id: int, status: PresenceStatus
) -> bool:
    """Set an agent's presence (a supervisor sets someone away); True when it changed."""
    if agent_id != principal.agent_id:
        require_supervisor(principal)
    await manageable_agent(session, principal, agent_id)
    return await session.run_sync(lambda sync: set_presence(sync, agent_id, status))


async def give_back(
    session: AsyncSession,
    principal: Principal,
    agent_id: int,
    *,
    presence: PresenceStatus | None = None,
) -> list[str]:
    """Return an agent's unanswered tickets to their queues and, when given, set their presence
    in the same transaction (so auto-assignment cannot hand the tickets straight back).
    Returns the references."""
    await manageable_agent(session, principal, agent_id)
    postgres = session.get_bind().dialect.name == "postgresql"
    if presence is not None and postgres:
        # Every row this changes is locked before the first event takes the events lock.
        await session.execute(
            select(AgentPresence).where(AgentPresence.agent_id == agent_id).with_for_update()
        )
    now = utcnow()
    references = await session.run_sync(
        lambda sync: hand_back(sync, agent_id, by=principal.agent_id, now=now)
    )
    if presence is not None:
        await session.run_sync(lambda sync: set_presence(sync, agent_id, presence))
    return references
