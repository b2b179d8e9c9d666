"""Administering the team: agents (invite, role, queues, deactivate), one-time set-password
links, queues, and API tokens.

Each change that narrows what an agent may do ends or rechecks their sessions at once (see
:mod:`carecentre.sessions`). An administrator cannot take away their own admin role or
deactivate themselves, so the team always keeps someone who can undo a mistake.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from carecentre.access import Principal
from carecentre.coltypes import utcnow
from carecentre.db import Database
from carecentre.models import Agent, AgentQueue, ApiToken, Queue
from carecentre.passwords import WeakPassword, hash_password
from carecentre.seed import AgentExists, add_agent
from carecentre.sessions import digest, end_sessions, record_access_changed
from carecentre.sessions_models import AgentPresence, PasswordLink
from carecentre.states import Role
from carecentre.tokens import create_token

LINK_VALID_FOR = timedelta(days=3)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class StaffError(ValueError):
    """A change the rules refuse; ``str()`` says what to do instead."""


@dataclass(frozen=True)
class Invited:
    agent_id: int
    # The one-time set-password token, when no initial password was given; shown once.
    link_token: str | None


def _name(value: str, what: str = "name") -> str:
    value = " ".join(value.split())
    if not value:
        raise StaffError(f"{what}: fill it in")
    if len(value) > 200:
        raise StaffError(f"{what}: at most 200 characters")
    return value


async def invite_agent(
    session: AsyncSession,
    *,
    email: str,
    name: str,
    role: Role,
    queues: list[str],
    password: str | None,
) -> Invited:
    """A new agent, limited to ``queues`` when some are given, with an initial password or a
    one-time link to choose one."""
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise StaffError("email: give an address such as name@city.example")
    try:
        agent = await add_agent(
            session,
            email=email,
            name=_name(name),
            role=role,
            password=password or None,
            queues=queues or None,
        )
    except AgentExists:
        raise StaffError(f"email: an agent {email} already exists") from None
    except WeakPassword as error:
        raise StaffError(f"password: {error}") from None
    except ValueError as error:
        raise StaffError(f"queues: {error}") from None
    assert agent.id is not None
    link = None if password else await create_password_link(session, agent.id)
    return Invited(agent.id, link)


async def create_password_link(session: AsyncSession, agent_id: int) -> str:
    """A one-time token for choosing a password; earlier unused ones stop working."""
    if await session.get(Agent, agent_id) is None:
        raise StaffError("that agent no longer exists")
    await session.execute(
        delete(PasswordLink).where(
            col(PasswordLink.agent_id) == agent_id, col(PasswordLink.used_at).is_(None)
        )
    )
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        PasswordLink(
            agent_id=agent_id,
            token_hash=digest(token),
            created_at=now,
            expires_at=now + LINK_VALID_FOR,
        )
    )
    await session.flush()
    return token


async def link_agent(db: Database, token: str) -> Agent | None:
    """The active agent a still-valid link is for."""
    if not token or len(token) > 200:
        return None
    async with db.read() as session:
        link = await session.scalar(
            select(PasswordLink).where(PasswordLink.token_hash == digest(token))
        )
        if link is None or link.used_at is not None or link.expires_at <= utcnow():
            return None
        agent = await session.get(Agent, link.agent_id)
    return agent if agent is not None and agent.active else None


async def use_password_link(db: Database, token: str, password: str) -> Agent:
    """Set the password through a link, once; the agent's existing sessions end."""
    agent = await link_agent(db, token)
    if agent is None or agent.id is None:
        raise StaffError("This link has expired or was already used; ask an administrator.")
    if len(password) > 1024:
        raise StaffError("password: at most 1024 characters")
    try:
        hashed = await asyncio.to_thread(hash_password, password)
    except WeakPassword as error:
        raise StaffError(f"password: {error}") from None
    async with db.write() as session:
        used = await session.execute(
            update(PasswordLink)
            .where(
                col(PasswordLink.token_hash) == digest(token),
                col(PasswordLink.used_at).is_(None),
            )
            .values(used_at=utcnow())
        )
        if used.rowcount != 1:  # type: ignore[attr-defined]
            raise StaffError("This link has expired or was already used; ask an administrator.")
        await session.execute(
            update(Agent).where(col(Agent.id) == agent.id).values(password_hash=hashed)
        )
        await end_sessions(session, agent.id, reason="password_changed")
    return agent


async def update_agent(
    session: AsyncSession,
    actor: Principal,
    agent_id: int,
    *,
    name: str,
    role: Role,
    queues: list[str],
    active: bool,
) -> Agent:
    """Change an agent. ``queues`` empty: every queue. Narrowing access applies at once."""
    agent = await session.get(Agent, agent_id)
    if agent is None:
        raise StaffError("that agent no longer exists")
    if agent_id == actor.agent_id and (role is not Role.ADMIN or not active):
        raise StaffError("you cannot remove your own admin role or deactivate yourself")
    queue_ids: list[int] = []
    for slug in queues:
        queue_id = await session.scalar(select(Queue.id).where(Queue.slug == slug))
        if queue_id is None:
            raise StaffError(f"queues: no queue {slug!r}")
        queue_ids.append(queue_id)
    before_queues = set(
        await session.scalars(select(AgentQueue.queue_id).where(AgentQueue.agent_id == agent_id))
    )
    narrowed = (
        agent.role is not role
        or agent.limited_to_queues != bool(queue_ids)
        or (bool(queue_ids) and before_queues != set(queue_ids))
    )
    was_active = agent.active
    agent.name, agent.role, agent.active = _name(name), role, active
    agent.limited_to_queues = bool(queue_ids)
    await session.execute(delete(AgentQueue).where(col(AgentQueue.agent_id) == agent_id))
    for queue_id in queue_ids:
        session.add(AgentQueue(agent_id=agent_id, queue_id=queue_id))
    await session.flush()
    if was_active and not active:
        await end_sessions(session, agent_id, reason="deactivated")
    elif narrowed:
        await record_access_changed(session, agent_id, "access_changed")
    return agent


async def save_queue(
    session: AsyncSession,
    *,
    slug: str,
    name: str,
    description: str = "",
    active: bool = True,
    queue_id: int | None = None,
) -> Queue:
    """Create a queue, or rename / (de)activate the one with ``queue_id`` (its slug stays)."""
    name = _name(name)
    description = description.strip()[:2000]
    if queue_id is None:
        slug = slug.strip().lower()
        if not _SLUG.match(slug):
            raise StaffError("slug: use lower-case letters, digits and '-', e.g. 'parks'")
        if await session.scalar(select(Queue.id).where(Queue.slug == slug)) is not None:
            raise StaffError(f"slug: a queue {slug!r} already exists")
        queue = Queue(slug=slug, name=name, description=description, active=active)
        session.add(queue)
    else:
        found = await session.get(Queue, queue_id)
        if found is None:
            raise StaffError("that queue no longer exists")
        queue = found
        queue.name, queue.description, queue.active = name, description, active
    await session.flush()
    return queue


async def new_api_token(session: AsyncSession, *, agent_id: int, name: str) -> str:
    """A bearer token for an active agent; returned once, stored only as a digest."""
    agent = await session.get(Agent, agent_id)
    if agent is None or not agent.active:
        raise StaffError("agent: choose an active agent")
    return await create_token(session, agent_id=agent_id, name=_name(name, "what it is for"))


async def revoke_api_token(session: AsyncSession, token_id: int) -> None:
    await session.execute(
        update(ApiToken)
        .where(col(ApiToken.id) == token_id, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )


@dataclass(frozen=True)
class Member:
    id: int
    name: str
    email: str
    role: Role
    active: bool
    queues: list[str]  # empty: every queue
    presence: str


async def team(session: AsyncSession, *, fresh_for: float = 300.0) -> list[Member]:
    """Every agent with their queues and presence. A status not refreshed for ``fresh_for``
    seconds shows as offline: the browser that set it is gone."""
    agents = list(await session.scalars(select(Agent).order_by(col(Agent.name))))
    slugs: dict[int, list[str]] = {}
    for agent_id, slug in await session.execute(
        select(AgentQueue.agent_id, Queue.slug)
        .join(Queue, col(Queue.id) == col(AgentQueue.queue_id))
        .order_by(col(Queue.slug))
    ):
        slugs.setdefault(agent_id, []).append(slug)
    stale = utcnow() - timedelta(seconds=fresh_for)
    presence = {
        row.agent_id: row.status if row.updated_at >= stale else "offline"
        for row in await session.scalars(select(AgentPresence))
    }
    return [
        Member(
            a.id or 0,
            a.name,
            a.email,
            a.role,
            a.active,
            slugs.get(a.id or 0, []) if a.limited_to_queues else [],
            presence.get(a.id or 0, "offline") if a.active else "offline",
        )
        for a in agents
    ]
