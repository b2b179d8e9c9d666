"""Sessions: sign-in with argon2 passwords, no account enumeration, rate limits, expiry, CSRF
tokens, password changes that end the other sessions, and deactivation that counts at once."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, update
from sqlmodel import col, select

from carecentre.coltypes import utcnow
from carecentre.login_limits import LoginLimiter, LoginLimits
from carecentre.models import Agent, Event
from carecentre.seed import add_agent
from carecentre.services import Services
from carecentre.sessions import (
    BAD_CREDENTIALS,
    PasswordRefused,
    SessionStore,
    SignInRefused,
    csrf_matches,
    digest,
)
from carecentre.sessions_models import AgentSession
from carecentre.states import Role

PASSWORD = "correct-horse-battery"


async def _agent(svc: Services, email: str = "ana@city.example", **kw: object) -> int:
    async with svc.db.write() as session:
        agent = await add_agent(
            session, email=email, name="Ana", role=Role.AGENT, password=PASSWORD, **kw
        )
        assert agent.id is not None
        return agent.id


def _store(svc: Services, now: list[datetime] | None = None) -> SessionStore:
    if now is None:
        return SessionStore(svc.db, svc.settings)
    return SessionStore(svc.db, svc.settings, clock=lambda: now[0])


async def test_sign_in_gives_a_session_stored_only_as_a_digest(svc: Services) -> None:
    agent_id = await _agent(svc)
    token, signed = await _store(svc).sign_in(
        " ANA@city.example ", PASSWORD, address="10.0.0.1", limiter=LoginLimiter()
    )
    assert signed.principal.agent_id == agent_id
    async with svc.db.read() as session:
        row = await session.scalar(select(AgentSession))
    assert row is not None
    assert row.token_hash == digest(token)
    assert token not in row.token_hash
    resolved = await _store(svc).resolve(token)
    assert resolved is not None
    assert resolved.principal.agent_id == agent_id
    assert resolved.csrf_token == signed.csrf_token
    assert csrf_matches(resolved, signed.csrf_token)
    assert not csrf_matches(resolved, "forged")
    assert not csrf_matches(resolved, None)


@pytest.mark.parametrize("case", ["unknown", "wrong", "inactive", "no_password"])
async def test_every_refusal_says_the_same(svc: Services, case: str) -> None:
    agent_id = await _agent(svc)
    email, password = "ana@city.example", PASSWORD
    if case == "unknown":
        email = "nobody@city.example"
    elif case == "wrong":
        password = "not-the-password"
    else:
        values = {"active": False} if case == "inactive" else {"password_hash": None}
        async with svc.db.write() as session:
            await session.execute(update(Agent).where(col(Agent.id) == agent_id).values(values))
    with pytest.raises(SignInRefused) as refused:
        await _store(svc).sign_in(email, password, address="10.0.0.1", limiter=LoginLimiter())
    assert str(refused.value) == BAD_CREDENTIALS
    async with svc.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(AgentSession)) == 0


async def test_too_many_failures_lock_the_account_even_for_the_right_password(
    svc: Services,
) -> None:
    await _agent(svc)
    limiter = LoginLimiter(LoginLimits(per_account=3, per_address=100))
    for _ in range(3):
        with pytest.raises(SignInRefused):
            await _store(svc).sign_in(
                "ana@city.example", "wrong-password", address="a", limiter=limiter
            )
    with pytest.raises(SignInRefused) as refused:
        await _store(svc).sign_in("ana@city.example", PASSWORD, address="b", limiter=limiter)
    assert "Too many sign-in attempts" in str(refused.value)
    assert refused.value.retry_after is not None


async def test_unknown_accounts_are_limited_alike(svc: Services) -> None:
    limiter = LoginLimiter(LoginLimits(per_account=2, per_address=100))
    for _ in range(2):
        with pytest.raises(SignInRefused):
            await _store(svc).sign_in("ghost@city.example", "x" * 12, address="a", limiter=limiter)
    with pytest.raises(SignInRefused) as refused:
        await _store(svc).sign_in("ghost@city.example", "x" * 12, address="a", limiter=limiter)
    assert "Too many" in str(refused.value)


async def test_expired_and_idle_sessions_stop_working(svc: Services) -> None:
    await _agent(svc)
    now = [utcnow()]
    store = _store(svc, now)
    token, _ = await store.sign_in(
        "ana@city.example", PASSWORD, address="a", limiter=LoginLimiter()
    )
    now[0] += timedelta(seconds=svc.settings.session_idle_timeout - 30)
    assert await store.resolve(token) is not None  # and it was touched
    now[0] += timedelta(seconds=svc.settings.session_idle_timeout - 30)
    assert await store.resolve(token) is not None
    now[0] += timedelta(seconds=svc.settings.session_max_age)
    assert await store.resolve(token) is None
    assert await store.resolve("") is None
    assert await store.resolve("x" * 500) is None


async def test_a_deactivated_agent_is_signed_out_at_once(svc: Services) -> None:
    agent_id = await _agent(svc)
    token, _ = await _store(svc).sign_in(
        "ana@city.example", PASSWORD, address="a", limiter=LoginLimiter()
    )
    async with svc.db.write() as session:
        await session.execute(update(Agent).where(col(Agent.id) == agent_id).values(active=False))
    assert await _store(svc).resolve(token) is None


async def test_a_password_change_ends_the_other_sessions_only(svc: Services) -> None:
    await _agent(svc)
    store = _store(svc)
    here, signed = await store.sign_in(
        "ana@city.example", PASSWORD, address="a", limiter=LoginLimiter()
    )
    there, _ = await store.sign_in(
        "ana@city.example", PASSWORD, address="b", limiter=LoginLimiter()
    )
    with pytest.raises(PasswordRefused, match="current password"):
        await store.change_password(signed, "wrong-password", "another-long-password")
    with pytest.raises(PasswordRefused, match="too short"):
        await store.change_password(signed, PASSWORD, "short")
    assert await store.resolve(there) is not None  # refusals changed nothing
    await store.change_password(signed, PASSWORD, "another-long-password")
    assert await store.resolve(here) is not None
    assert await store.resolve(there) is None
    async with svc.db.read() as session:
        events = list(
            await session.scalars(select(Event).where(Event.type == "agent.access_changed"))
        )
    assert events[-1].data == {"agent_id": signed.principal.agent_id, "reason": "password_changed"}
    with pytest.raises(SignInRefused):
        await store.sign_in("ana@city.example", PASSWORD, address="c", limiter=LoginLimiter())
    await store.sign_in(
        "ana@city.example", "another-long-password", address="c", limiter=LoginLimiter()
    )


async def test_sign_out_ends_the_session(svc: Services) -> None:
    await _agent(svc)
    store = _store(svc)
    token, signed = await store.sign_in(
        "ana@city.example", PASSWORD, address="a", limiter=LoginLimiter()
    )
    await store.sign_out(signed)
    assert await store.resolve(token) is None
    assert await store.still_valid(signed) is None
