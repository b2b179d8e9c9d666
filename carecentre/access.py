"""Who is asking, and what they may see.

Every ticket, message, attachment and event an agent reaches goes through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from carecentre.models import Agent, AgentQueue, Ticket
from carecentre.states import Role


class Forbidden(Exception):
    """The principal may not do this."""


@dataclass(frozen=True, slots=True)
class Principal:
    agent_id: int
    email: str
    name: str
    role: Role
    # None: every queue. Otherwise only these, and nothing of the others.
    queue_ids: frozenset[int] | None

    def can_see_queue(self, queue_id: int | None) -> bool:
        return self.queue_ids is None or (queue_id is not None and queue_id in self.queue_ids)

    def can_see(self, ticket: Ticket) -> bool:
        return self.can_see_queue(ticket.queue_id)

    @property
    def is_supervisor(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def ticket_clause(self) -> Any:
        """A WHERE clause limiting tickets to what this principal may see."""
        if self.queue_ids is None:
            return True
        return col(Ticket.queue_id).in_(self.queue_ids)


async def load_principal(session: AsyncSession, agent_id: int) -> Principal | None:
    """The principal for an active agent; ``None`` for a missing or deactivated one."""
    agent = await session.get(Agent, agent_id)
    if agent is None or not agent.active:
        return None
    queue_ids: frozenset[int] | None = None
    if agent.limited_to_queues:
        queue_ids = frozenset(
            await session.scalars(
                select(AgentQueue.queue_id).where(AgentQueue.agent_id == agent_id)
            )
        )
    assert agent.id is not None
    return Principal(agent.id, agent.email, agent.name, agent.role, queue_ids)
