"""The demo data behind ``serve --demo``: SLA policies added once and never over a City's own,
and demo tickets that get due times and SLA clocks from them."""

from __future__ import annotations

from sqlmodel import func, select

from carecentre.demo import DEMO_MESSAGES, DEMO_POLICIES, ensure_demo_policies, load_demo
from carecentre.seed import ensure_queues
from carecentre.services import Services
from carecentre.sla import scope_key
from carecentre.supervision_models import SlaPolicy, TicketSla


async def test_the_demo_has_sla_policies_and_its_tickets_run_on_them(svc: Services) -> None:
    async with svc.db.write() as session:
        await ensure_queues(session)
        assert await ensure_demo_policies(session) == len(DEMO_POLICIES)
    async with svc.db.write() as session:
        assert await ensure_demo_policies(session) == 0
    assert await load_demo(svc.pipeline) == len(DEMO_MESSAGES)
    assert await load_demo(svc.pipeline) == 0
    async with svc.db.read() as session:
        scopes = set(await session.scalars(select(SlaPolicy.scope)))
        clocks = await session.scalar(select(func.count()).select_from(TicketSla))
    assert scopes == {scope_key(None, None), scope_key(None, "urgent")}
    assert clocks == len(DEMO_MESSAGES)


async def test_a_citys_own_policies_are_left_alone(svc: Services) -> None:
    async with svc.db.write() as session:
        session.add(
            SlaPolicy(
                scope=scope_key(None, None), first_response_minutes=30, resolution_minutes=600
            )
        )
    async with svc.db.write() as session:
        assert await ensure_demo_policies(session) == 0
    async with svc.db.read() as session:
        (policy,) = await session.scalars(select(SlaPolicy))
    assert (policy.first_response_minutes, policy.resolution_minutes) == (30, 600)
