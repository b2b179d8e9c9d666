"""API bearer tokens: shown once, stored only as a SHA-256 digest, tied to an agent."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from carecentre.access import Principal, load_principal
from carecentre.coltypes import utcnow
from carecentre.models import ApiToken

PREFIX = "cct_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(session: AsyncSession, *, agent_id: int, name: str) -> str:
    """Create a token for an agent; returns the token itself, which is never stored."""
    token = PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(agent_id=agent_id, name=name[:200], token_hash=digest(token)))
    await session.flush()
    return token


async def authenticate(session: AsyncSession, token: str) -> Principal | None:
    """The principal behind a bearer token; ``None`` when unknown, revoked or the agent inactive."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    return await load_principal(session, row.agent_id)


async def touch(session: AsyncSession, token: str) -> None:
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token)))
    if row is not None:
        row.last_used_at = utcnow()
