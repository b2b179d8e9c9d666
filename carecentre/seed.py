"""First-run set-up: the admin account and the City's demo queues (idempotent)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from carecentre.models import Agent, AgentQueue, Queue
from carecentre.passwords import hash_password
from carecentre.states import Role

DEMO_QUEUES = (
    ("general", "General enquiries", "Anything that fits no other queue."),
    ("waste", "Waste and recycling", "Collection, green bin, large items, depot."),
    ("roads", "Roads and sidewalks", "Potholes, snow clearing, streetlights, signs."),
    ("parking", "Parking", "Permits, tickets, enforcement requests."),
    ("bylaw", "By-law", "Noise, property standards, animal control."),
    ("taxes", "Property tax and water", "Bills, payments, pre-authorized plans."),
    ("recreation", "Recreation", "Programs, facility bookings, memberships."),
)


class AgentExists(ValueError):
    pass


@dataclass(frozen=True)
class AdminSeed:
    email: str
    password: str | None  # set only when generated now, to be shown once


async def ensure_queues(session: AsyncSession) -> int:
    """Create the demo queues that do not exist yet; returns how many were created."""
    existing = set(await session.scalars(select(Queue.slug)))
    created = 0
    for slug, name, description in DEMO_QUEUES:
        if slug not in existing:
            session.add(Queue(slug=slug, name=name, description=description))
            created += 1
    await session.flush()
    return created


async def add_agent(
    session: AsyncSession,
    *,
    email: str,
    name: str,
    role: Role,
    password: str | None,
    queues: list[str] | None = None,
) -> Agent:
    email = email.strip().lower()
    if await session.scalar(select(Agent.id).where(Agent.email == email)) is not None:
        raise AgentExists(f"an agent {email} already exists")
    agent = Agent(
        email=email,
        name=name,
        role=role,
        password_hash=hash_password(password) if password else None,
        limited_to_queues=bool(queues),
    )
    session.add(agent)
    await session.flush()
    assert agent.id is not None
    for slug in queues or []:
        queue_id = await session.scalar(select(Queue.id).where(Queue.slug == slug))
        if queue_id is None:
            raise ValueError(f"no queue {slug!r}")
        session.add(AgentQueue(agent_id=agent.id, queue_id=queue_id))
    await session.flush()
    return agent


async def ensure_admin(session: AsyncSession, *, email: str, password: str | None) -> AdminSeed:
    """Make sure an admin exists. Without a configured password, one is generated and returned
    so it can be printed once; an existing admin is left alone."""
    email = email.strip().lower()
    if await session.scalar(select(Agent.id).where(Agent.email == email)) is not None:
        return AdminSeed(email, None)
    generated = None
    if password is None:
        generated = password = secrets.token_urlsafe(12)
    await add_agent(session, email=email, name="Administrator", role=Role.ADMIN, password=password)
    return AdminSeed(email, generated)
