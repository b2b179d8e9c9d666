"""Agent presence: set, counted only while fresh and active, each change an event."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from carecentre.models import Agent, Event
from carecentre.presence import Presence, PresenceStatus
from carecentre.seed import add_agent
from carecentre.services import Services
from carecentre.states import Role


async def agent(svc: Services, email: str) -> int:
    async with svc.db.write() as session:
        found = await add_agent(session, email=email, name="A", role=Role.AGENT, password=None)
        assert found.id is not None
        return found.id


async def test_available_agents_are_counted_while_fresh_and_active(svc: Services) -> None:
    presence = Presence(svc.db, svc.bus, fresh_for=300)
    first, second = await agent(svc, "a@city.example"), await agent(svc, "b@city.example")
    assert await presence.available() == 0
    assert await presence.set(first, PresenceStatus.AVAILABLE) is True
    assert await presence.set(first, "available") is False  # a refresh, not a change
    await presence.set(second, PresenceStatus.AWAY)
    assert await presence.available() == 1
    assert await Presence(svc.db, svc.bus, fresh_for=1e-6).available() == 0  # stale
    async with svc.db.write() as session:
        await session.execute(update(Agent).where(col(Agent.id) == first).values(active=False))
    assert await presence.available() == 0
    async with svc.db.read() as session:
        changes = list(await session.scalars(select(Event).where(Event.type == "presence.changed")))
    assert [(e.data["agent_id"], e.data["status"]) for e in changes] == [
        (first, "available"),
        (second, "away"),
    ]


async def test_unknown_agents_and_statuses_are_refused(svc: Services) -> None:
    presence = Presence(svc.db, svc.bus)
    with pytest.raises(LookupError):
        await presence.set(999, PresenceStatus.AVAILABLE)
    with pytest.raises(ValueError, match="busy"):
        await presence.set(await agent(svc, "c@city.example"), "busy")
