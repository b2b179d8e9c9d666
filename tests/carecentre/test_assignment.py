"""Claiming is atomic: of two agents claiming at once, one wins and the other learns who."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from carecentre.access import Principal, load_principal
from carecentre.assignment import AlreadyClaimed, NotYours, assign, claim, release
from carecentre.models import Event, Ticket
from carecentre.seed import add_agent, ensure_queues
from carecentre.services import Services
from carecentre.states import Role
from tests.support.factories import sms_ticket


async def _principal(svc: Services, email: str, role: Role = Role.AGENT, **kw: object) -> Principal:
    async with svc.db.write() as session:
        await ensure_queues(session)
        agent = await add_agent(
            session, email=email, name=email.split("@")[0].title(), role=role, password=None, **kw
        )
        assert agent.id is not None
        found = await load_principal(session, agent.id)
        assert found is not None
        return found


async def _claim(svc: Services, who: Principal, ticket_id: int) -> str:
    try:
        async with svc.db.write() as session:
            ticket = await session.get_one(Ticket, ticket_id)
            await claim(session, who, ticket)
        return "won"
    except AlreadyClaimed as error:
        return f"lost to {error.holder_name}"


async def test_two_claims_at_once_one_wins_the_other_is_told_who(svc: Services) -> None:
    ana = await _principal(svc, "ana@city.example")
    ben = await _principal(svc, "ben@city.example")
    ticket = await sms_ticket(svc)
    assert ticket.id is not None
    results = await asyncio.gather(_claim(svc, ana, ticket.id), _claim(svc, ben, ticket.id))
    assert sorted(results) in (["lost to Ana", "won"], ["lost to Ben", "won"])
    winner = ana if results[0] == "won" else ben
    async with svc.db.read() as session:
        stored = await session.get_one(Ticket, ticket.id)
        events = list(await session.scalars(select(Event).where(Event.type == "ticket.updated")))
    assert stored.assignee_id == winner.agent_id
    assert len(events) == 1  # the loser recorded nothing
    assert events[0].data["assignee"] == {"id": winner.agent_id, "name": winner.name}
    # Claiming one's own ticket again is harmless.
    assert await _claim(svc, winner, ticket.id) == "won"


async def test_release_is_for_the_holder_or_a_supervisor(svc: Services) -> None:
    ana = await _principal(svc, "ana@city.example")
    ben = await _principal(svc, "ben@city.example")
    boss = await _principal(svc, "boss@city.example", Role.SUPERVISOR)
    ticket = await sms_ticket(svc)
    assert ticket.id is not None
    await _claim(svc, ana, ticket.id)
    async with svc.db.write() as session:
        row = await session.get_one(Ticket, ticket.id)
        with pytest.raises(NotYours):
            await release(session, ben, row)
    async with svc.db.write() as session:
        row = await session.get_one(Ticket, ticket.id)
        await release(session, boss, row)
        assert row.assignee_id is None


async def test_only_supervisors_assign_and_only_to_who_can_see_it(svc: Services) -> None:
    ana = await _principal(svc, "ana@city.example")
    boss = await _principal(svc, "boss@city.example", Role.SUPERVISOR)
    waste_only = await _principal(svc, "wes@city.example", queues=["waste"])
    ticket = await sms_ticket(svc)
    async with svc.db.write() as session:
        row = await session.get_one(Ticket, ticket.id)
        with pytest.raises(NotYours, match="only supervisors"):
            await assign(session, ana, row, boss.agent_id)
        with pytest.raises(NotYours, match="cannot see"):
            await assign(session, boss, row, waste_only.agent_id)
        await assign(session, boss, row, ana.agent_id)
        assert row.assignee_id == ana.agent_id
