"""Administering the team: invitations, one-time links, role and queue changes that apply at
once, queues and API tokens."""

from __future__ import annotations

import pytest
from sqlmodel import select

from carecentre.access import load_principal
from carecentre.login_limits import LoginLimiter
from carecentre.models import Agent, ApiToken, Event, Queue
from carecentre.seed import ensure_queues
from carecentre.services import Services
from carecentre.sessions import SessionStore
from carecentre.staff import (
    StaffError,
    create_password_link,
    invite_agent,
    link_agent,
    new_api_token,
    revoke_api_token,
    save_queue,
    team,
    update_agent,
    use_password_link,
)
from carecentre.states import Role
from carecentre.tokens import authenticate

PASSWORD = "a-long-enough-password"


async def _admin(svc: Services) -> int:
    async with svc.db.write() as session:
        await ensure_queues(session)
        invited = await invite_agent(
            session,
            email="root@city.example",
            name="Root",
            role=Role.ADMIN,
            queues=[],
            password=PASSWORD,
        )
        return invited.agent_id


async def test_an_invitation_link_works_once(svc: Services) -> None:
    await _admin(svc)
    async with svc.db.write() as session:
        invited = await invite_agent(
            session,
            email=" Ana@City.example ",
            name="Ana",
            role=Role.AGENT,
            queues=["roads"],
            password=None,
        )
    assert invited.link_token is not None
    agent = await link_agent(svc.db, invited.link_token)
    assert agent is not None
    assert agent.email == "ana@city.example"
    with pytest.raises(StaffError, match="at least 12"):
        await use_password_link(svc.db, invited.link_token, "short")
    await use_password_link(svc.db, invited.link_token, PASSWORD)
    with pytest.raises(StaffError, match="expired or was already used"):
        await use_password_link(svc.db, invited.link_token, PASSWORD)
    store = SessionStore(svc.db, svc.settings)
    _, signed = await store.sign_in(
        "ana@city.example", PASSWORD, address="a", limiter=LoginLimiter()
    )
    assert signed.principal.queue_ids is not None
    assert len(signed.principal.queue_ids) == 1


async def test_a_new_link_replaces_the_old_one(svc: Services) -> None:
    await _admin(svc)
    async with svc.db.write() as session:
        invited = await invite_agent(
            session, email="ana@city.example", name="Ana", role=Role.AGENT, queues=[], password=None
        )
        newer = await create_password_link(session, invited.agent_id)
    assert invited.link_token is not None
    assert await link_agent(svc.db, invited.link_token) is None
    assert await link_agent(svc.db, newer) is not None
    assert await link_agent(svc.db, "nonsense") is None


@pytest.mark.parametrize(
    ("email", "name", "queues", "password", "message"),
    [
        ("not-an-email", "Ana", [], None, "email"),
        ("root@city.example", "Ana", [], None, "already exists"),
        ("ana@city.example", " ", [], None, "name"),
        ("ana@city.example", "Ana", ["nowhere"], None, "queues"),
        ("ana@city.example", "Ana", [], "short", "password"),
    ],
)
async def test_bad_invitations_store_nothing(
    svc: Services, email: str, name: str, queues: list[str], password: str | None, message: str
) -> None:
    await _admin(svc)
    with pytest.raises(StaffError, match=message):
        async with svc.db.write() as session:
            await invite_agent(
                session, email=email, name=name, role=Role.AGENT, queues=queues, password=password
            )
    async with svc.db.read() as session:
        assert len(list(await session.scalars(select(Agent)))) == 1


async def test_changes_apply_at_once_and_an_admin_keeps_their_own_role(svc: Services) -> None:
    admin_id = await _admin(svc)
    async with svc.db.write() as session:
        invited = await invite_agent(
            session,
            email="ana@city.example",
            name="Ana",
            role=Role.AGENT,
            queues=[],
            password=PASSWORD,
        )
        actor = await load_principal(session, admin_id)
    assert actor is not None
    store = SessionStore(svc.db, svc.settings)
    token, _ = await store.sign_in(
        "ana@city.example", PASSWORD, address="a", limiter=LoginLimiter()
    )
    async with svc.db.write() as session:
        with pytest.raises(StaffError, match="your own admin role"):
            await update_agent(
                session, actor, admin_id, name="Root", role=Role.AGENT, queues=[], active=True
            )
    async with svc.db.write() as session:
        await update_agent(
            session,
            actor,
            invited.agent_id,
            name="Ana B",
            role=Role.AGENT,
            queues=["waste"],
            active=True,
        )
    signed = await store.resolve(token)
    assert signed is not None
    assert signed.principal.name == "Ana B"
    assert signed.principal.queue_ids is not None
    async with svc.db.write() as session:
        await update_agent(
            session, actor, invited.agent_id, name="Ana B", role=Role.AGENT, queues=[], active=False
        )
    assert await store.resolve(token) is None
    async with svc.db.read() as session:
        reasons = [
            e.data["reason"]
            for e in await session.scalars(
                select(Event).where(Event.type == "agent.access_changed")
            )
        ]
        members = {m.email: m for m in await team(session)}
    assert reasons == ["access_changed", "deactivated"]
    assert not members["ana@city.example"].active
    assert members["ana@city.example"].presence == "offline"


async def test_queues_are_created_renamed_and_deactivated(svc: Services) -> None:
    await _admin(svc)
    async with svc.db.write() as session:
        queue = await save_queue(session, slug="Parks", name="Parks and trails")
        with pytest.raises(StaffError, match="already exists"):
            await save_queue(session, slug="parks", name="Again")
        with pytest.raises(StaffError, match="slug"):
            await save_queue(session, slug="no spaces", name="Bad")
        await save_queue(session, slug="ignored", name="Parks", active=False, queue_id=queue.id)
    async with svc.db.read() as session:
        stored = await session.scalar(select(Queue).where(Queue.slug == "parks"))
    assert stored is not None
    assert (stored.name, stored.active) == ("Parks", False)


async def test_api_tokens_are_created_once_and_revoked(svc: Services) -> None:
    admin_id = await _admin(svc)
    async with svc.db.write() as session:
        token = await new_api_token(session, agent_id=admin_id, name="wallboard")
        with pytest.raises(StaffError):
            await new_api_token(session, agent_id=admin_id, name=" ")
    async with svc.db.read() as session:
        assert await authenticate(session, token) is not None
        row = await session.scalar(select(ApiToken))
    assert row is not None
    assert row.id is not None
    async with svc.db.write() as session:
        await revoke_api_token(session, row.id)
    async with svc.db.read() as session:
        assert await authenticate(session, token) is None
