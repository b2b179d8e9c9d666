"""Agent presence: whether an agent is ready to take chats (``available``), ``away`` or ``offline``.

One row per agent (:class:`carecentre.sessions_models.AgentPresence`). The agent UI sets it; the
web chat reads it to tell residents honestly whether someone can answer now. An ``available``
that has not been refreshed for ``fresh_for`` seconds does not count: a browser that crashed or
lost its network must not keep promising residents an agent, so the agent UI refreshes presence
(:meth:`Presence.set` again, or :meth:`Presence.touch`) while the agent stays available.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from sqlalchemy import func
from sqlalchemy.orm import Session
from sqlmodel import col, select

from carecentre import events
from carecentre.coltypes import utcnow
from carecentre.db import Database
from carecentre.events import EventBus
from carecentre.models import Agent
from carecentre.sessions_models import AgentPresence


class PresenceStatus(StrEnum):
    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"


def set_presence(session: Session, agent_id: int, status: PresenceStatus) -> bool:
    """Record an agent's presence (refreshing ``updated_at``); True if the status changed.

    A change is also a ``presence.changed`` event for the dashboards.
    """
    if session.get(Agent, agent_id) is None:
        raise LookupError(f"no agent {agent_id}")
    row = session.get(AgentPresence, agent_id)
    if row is None:
        row = AgentPresence(agent_id=agent_id)
        session.add(row)
        changed = True
    else:
        changed = row.status != status.value
    row.status = status.value
    row.updated_at = utcnow()
    session.flush()
    if changed:
        events.record_sync(
            session, "presence.changed", {"agent_id": agent_id, "status": status.value}
        )
    return changed


def available_count(session: Session, *, fresh_for: float) -> int:
    """How many active agents are ``available`` and refreshed within ``fresh_for`` seconds."""
    since = utcnow() - timedelta(seconds=fresh_for)
    count = session.scalar(
        select(func.count())
        .select_from(AgentPresence)
        .join(Agent, col(Agent.id) == col(AgentPresence.agent_id))
        .where(
            AgentPresence.status == PresenceStatus.AVAILABLE.value,
            col(AgentPresence.updated_at) >= since,
            col(Agent.active).is_(True),
        )
    )
    return int(count or 0)


class Presence:
    """Presence for the agent UI (to set) and the channels (to read)."""

    def __init__(self, db: Database, bus: EventBus, *, fresh_for: float = 300.0) -> None:
        self.db = db
        self.bus = bus
        self.fresh_for = fresh_for

    async def set(self, agent_id: int, status: PresenceStatus | str) -> bool:
        """Set and refresh an agent's presence. Raises ``ValueError`` for an unknown status and
        ``LookupError`` for an unknown agent."""
        wanted = PresenceStatus(status)
        changed = await self.db.run_write(lambda session: set_presence(session, agent_id, wanted))
        if changed:
            self.bus.notify()
        return changed

    async def touch(self, agent_id: int) -> None:
        """Keep the current status fresh (a heartbeat from the agent's open dashboard)."""

        def refresh(session: Session) -> None:
            row = session.get(AgentPresence, agent_id)
            if row is not None:
                row.updated_at = utcnow()

        await self.db.run_write(refresh)

    async def available(self) -> int:
        """How many agents can take a chat now."""
        async with self.db.read() as session:
            return await session.run_sync(
                lambda sync: available_count(sync, fresh_for=self.fresh_for)
            )
