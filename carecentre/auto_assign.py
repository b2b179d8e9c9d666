"""Auto-assignment: each queue hands out its unassigned tickets manually (the default), round-robin,
or to the least-loaded agent, never past an agent's capacity (most open tickets assigned).

Only agents who are active, ``available`` with a fresh presence, and allowed to see the queue
receive work. Most urgent first (due time, then age).

Two servers can assign at once without giving an agent more than their capacity or one ticket
to two agents. On PostgreSQL one pass over a queue locks, in this order: the queue's settings
row (``FOR UPDATE``: passes over one queue take turns, and round-robin's "last agent" stays
true), the eligible agents' rows in id order (``FOR NO KEY UPDATE``: a pass over another queue
that would give the same agent work waits, then counts their load again), and the tickets it
takes (``FOR UPDATE SKIP LOCKED``). Each ticket is then taken by a conditional UPDATE (``WHERE
assignee_id IS NULL``), so a manual claim in between wins cleanly. On SQLite writes are one at a
time anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import exists, text, update
from sqlalchemy.orm import Session
from sqlmodel import col, select

from carecentre import events
from carecentre.models import Agent, AgentQueue, Ticket
from carecentre.presence import PresenceStatus
from carecentre.sessions_models import AgentPresence
from carecentre.sql_text import use_index
from carecentre.states import TicketStatus
from carecentre.supervision_models import AgentCapacity, QueueSettings

ASSIGNABLE = (TicketStatus.NEW, TicketStatus.OPEN)
PASS_LIMIT = 200


class AssignmentMode(StrEnum):
    MANUAL = "manual"
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"


@dataclass
class _Agent:
    id: int
    name: str
    load: int
    capacity: int

    @property
    def free(self) -> int:
        return self.capacity - self.load


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def auto_queues(session: Session) -> list[int]:
    """Queues that assign automatically."""
    return list(
        session.scalars(
            select(QueueSettings.queue_id).where(QueueSettings.assignment != AssignmentMode.MANUAL)
        )
    )


def eligible_agents(
    session: Session, queue_id: int, *, now: datetime, fresh_for: float, lock: bool = False
) -> list[tuple[int, str]]:
    """Active, available agents who may see ``queue_id``, in id order (locked when asked)."""
    may_see = ~col(Agent.limited_to_queues) | exists().where(
        col(AgentQueue.agent_id) == col(Agent.id), col(AgentQueue.queue_id) == queue_id
    )
    query = (
        select(Agent.id, Agent.name)
        .join(AgentPresence, col(AgentPresence.agent_id) == col(Agent.id))
        .where(
            col(Agent.active).is_(True),
            AgentPresence.status == PresenceStatus.AVAILABLE.value,
            col(AgentPresence.updated_at) >= now - timedelta(seconds=fresh_for),
            may_see,
        )
        .order_by(col(Agent.id))
    )
    if lock and _postgres(session):
        query = query.with_for_update(of=Agent, key_share=True)
    return [(int(agent_id), name) for agent_id, name in session.execute(query)]


def loads(session: Session, agent_ids: list[int]) -> dict[int, int]:
    """Open tickets (new, open, pending) assigned to each agent."""
    if not agent_ids:
        return {}
    # Every agent's load in one pass over the open tickets' index, kept here for the few asked.
    hint = use_index(session, "ix_ticket_open")
    rows = session.execute(
        text(
            f"SELECT assignee_id, count(*) FROM ticket{hint}"  # noqa: S608 (an index name)
            " WHERE status IN ('new', 'open', 'pending') AND assignee_id IS NOT NULL"
            " GROUP BY assignee_id"
        )
    )
    wanted = set(agent_ids)
    return {int(agent): int(count) for agent, count in rows if agent in wanted}


def capacities(session: Session, agent_ids: list[int], default: int) -> dict[int, int]:
    rows = session.execute(
        select(AgentCapacity.agent_id, AgentCapacity.max_open).where(
            col(AgentCapacity.agent_id).in_(agent_ids)
        )
    )
    found = {int(agent_id): int(most) for agent_id, most in rows}
    return {agent_id: found.get(agent_id, default) for agent_id in agent_ids}


def _pick(mode: AssignmentMode, agents: list[_Agent], last: int | None) -> _Agent | None:
    free = [a for a in agents if a.free > 0]
    if not free:
        return None
    # Whoever comes after the last one served, wrapping around: round-robin's order, and
    # least-loaded's tie-break, so equal loads take turns instead of piling on the first id.
    after = [a for a in free if last is None or a.id > last] + [
        a for a in free if last is not None and a.id <= last
    ]
    if mode is AssignmentMode.ROUND_ROBIN:
        return after[0]
    return min(after, key=lambda a: a.load)


def assign_queue(
    session: Session,
    queue_id: int,
    *,
    now: datetime,
    fresh_for: float,
    default_capacity: int,
    limit: int = PASS_LIMIT,
) -> list[tuple[int, int]]:
    """One pass over a queue; returns the (ticket id, agent id) pairs it assigned."""
    query = select(QueueSettings).where(QueueSettings.queue_id == queue_id)
    if _postgres(session):
        query = query.with_for_update()
    settings = session.scalars(query.execution_options(populate_existing=True)).first()
    if settings is None or settings.assignment == AssignmentMode.MANUAL:
        return []
    mode = AssignmentMode(settings.assignment)
    found = eligible_agents(session, queue_id, now=now, fresh_for=fresh_for, lock=True)
    ids = [agent_id for agent_id, _ in found]
    load, room = loads(session, ids), capacities(session, ids, default_capacity)
    agents = [_Agent(i, name, load.get(i, 0), room[i]) for i, name in found]
    spare = sum(max(a.free, 0) for a in agents)
    if spare <= 0:
        return []
    tickets = select(Ticket.id, Ticket.reference).where(
        Ticket.queue_id == queue_id,
        col(Ticket.assignee_id).is_(None),
        col(Ticket.status).in_(ASSIGNABLE),
    )
    # Most urgent first; tickets without a due time after every dated one.
    tickets = tickets.order_by(
        col(Ticket.due_at).is_(None), col(Ticket.due_at), col(Ticket.id)
    ).limit(min(limit, spare))
    if _postgres(session):
        tickets = tickets.with_for_update(of=Ticket, skip_locked=True)
    done: list[tuple[int, int, str, _Agent]] = []
    for ticket_id, reference in session.execute(tickets).all():
        agent = _pick(mode, agents, settings.last_agent_id)
        if agent is None:
            break
        taken = session.execute(
            update(Ticket)
            .where(col(Ticket.id) == ticket_id, col(Ticket.assignee_id).is_(None))
            .values(assignee_id=agent.id, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            continue  # claimed by hand a moment ago
        agent.load += 1
        settings.last_agent_id = agent.id
        done.append((ticket_id, agent.id, reference, agent))
    session.flush()
    for ticket_id, _, reference, agent in done:
        events.record_sync(
            session,
            "ticket.updated",
            {
                "reference": reference,
                "changed": {"assignee_id": agent.id},
                "assignee": {"id": agent.id, "name": agent.name},
                "by": None,
                "auto": mode.value,
            },
            ticket_id=ticket_id,
            queue_id=queue_id,
        )
    return [(ticket_id, agent_id) for ticket_id, agent_id, _, _ in done]


def hand_back(session: Session, agent_id: int, *, by: int, now: datetime) -> list[str]:
    """Return an agent's unanswered tickets (no first response yet, not pending) to their
    queues; returns their references. For an agent going away or signing out."""
    query = (
        select(Ticket)
        .where(
            Ticket.assignee_id == agent_id,
            col(Ticket.status).in_(ASSIGNABLE),
            col(Ticket.first_response_at).is_(None),
        )
        .order_by(col(Ticket.id))
    )
    if _postgres(session):
        query = query.with_for_update()
    tickets = list(session.scalars(query))
    for ticket in tickets:
        ticket.assignee_id = None
        ticket.updated_at = now
    session.flush()
    for ticket in tickets:
        events.record_sync(
            session,
            "ticket.updated",
            {
                "reference": ticket.reference,
                "changed": {"assignee_id": None},
                "assignee": None,
                "by": by,
                "handed_back": True,
            },
            ticket_id=ticket.id,
            queue_id=ticket.queue_id,
        )
    return [t.reference for t in tickets]
