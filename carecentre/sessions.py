"""Agents signing in to the web workspace: server-side sessions, CSRF tokens, password changes.

The session id is 32 random bytes, kept in an HttpOnly cookie and stored only as its SHA-256.
Every request looks the session up again and reloads the agent (:func:`load_principal`), so a
deactivated agent, a changed password or a sign-out elsewhere takes effect on the next request.
The CSRF token of a session is an HMAC of its stored digest under the secret key: nothing more to
store, and useless to anyone who does not already hold the session.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from carecentre import events
from carecentre.access import Principal, load_principal
from carecentre.coltypes import utcnow
from carecentre.db import Database
from carecentre.login_limits import LoginLimiter
from carecentre.models import Agent
from carecentre.passwords import WeakPassword, hash_password, needs_rehash, verify_password
from carecentre.services import Services
from carecentre.sessions_models import AgentSession
from carecentre.settings import Settings

COOKIE = "cc_session"
# On https the __Host- prefix makes the browser refuse the cookie unless it is Secure, set by
# this host itself and for the whole site: a sibling subdomain cannot plant one.
SECURE_COOKIE = "__Host-cc_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
BAD_CREDENTIALS = "That email and password do not match an active account."
MAX_PASSWORD = 1024
# Writing last_seen_at on every request would turn every page view into a write.
_TOUCH_EVERY = timedelta(seconds=60)
_EXTRA = "carecentre.sessions"


class SignInRefused(Exception):
    """Wrong credentials or too many attempts; ``str()`` is what to show."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PasswordRefused(ValueError):
    """A password change that cannot be made; ``str()`` says why."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A request's signed-in agent, their session and its CSRF token."""

    principal: Principal
    session_id: int
    csrf_token: str


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def cookie_name(settings: Settings) -> str:
    return SECURE_COOKIE if is_https(settings) else COOKIE


def is_https(settings: Settings) -> bool:
    return settings.public_url.scheme == "https"


def csrf_token(secret: str, token_hash: str) -> str:
    return hmac.new(secret.encode(), b"csrf:" + token_hash.encode(), hashlib.sha256).hexdigest()


def csrf_matches(signed: SignedIn, supplied: str | None) -> bool:
    return bool(supplied) and hmac.compare_digest(signed.csrf_token, str(supplied))


@functools.cache
def _dummy_hash() -> str:
    # Checked against when the account is unknown, so both answers take an argon2 verification.
    return hash_password(secrets.token_urlsafe(16))


async def record_access_changed(session: AsyncSession, agent_id: int, reason: str) -> None:
    """Tell the agent's open dashboards to check their session again (they may close)."""
    await events.record(session, "agent.access_changed", {"agent_id": agent_id, "reason": reason})


async def end_sessions(
    session: AsyncSession, agent_id: int, *, reason: str, keep: int | None = None
) -> None:
    """End every session of an agent (but ``keep``), in the caller's transaction."""
    query = delete(AgentSession).where(col(AgentSession.agent_id) == agent_id)
    if keep is not None:
        query = query.where(col(AgentSession.id) != keep)
    await session.execute(query)
    await record_access_changed(session, agent_id, reason)


class SessionStore:
    """Signs agents in and out and finds the agent behind a session cookie."""

    def __init__(
        self, db: Database, settings: Settings, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db = db
        self.secret = settings.secret()
        self.idle = timedelta(seconds=settings.session_idle_timeout)
        self.max_age = timedelta(seconds=settings.session_max_age)
        self.clock = clock

    async def sign_in(
        self,
        email: str,
        password: str,
        *,
        address: str,
        user_agent: str = "",
        limiter: LoginLimiter,
    ) -> tuple[str, SignedIn]:
        """A new session for the agent; returns the cookie value and the signed-in view.

        Raises :class:`SignInRefused` with the same message for an unknown email, a wrong
        password and a deactivated agent, so the answer reveals no account.
        """
        email = email.strip().lower()[:320]
        wait = limiter.retry_after(email, address)
        if wait > 0:
            minutes = max(1, round(wait / 60))
            raise SignInRefused(
                f"Too many sign-in attempts. Try again in {minutes} minute"
                f"{'s' if minutes != 1 else ''}, or ask an administrator to reset your password.",
                retry_after=wait,
            )
        async with self.db.read() as session:
            agent = await session.scalar(select(Agent).where(Agent.email == email))
        stored = agent.password_hash if agent is not None and agent.password_hash else None
        candidate = password if len(password) <= MAX_PASSWORD else ""
        ok = await asyncio.to_thread(verify_password, stored or _dummy_hash(), candidate)
        if not ok or agent is None or stored is None or not agent.active:
            limiter.failed(email, address)
            raise SignInRefused(BAD_CREDENTIALS)
        limiter.succeeded(email)
        assert agent.id is not None
        rehashed = (
            await asyncio.to_thread(hash_password, candidate) if needs_rehash(stored) else None
        )
        token = secrets.token_urlsafe(32)
        now = self.clock()
        async with self.db.write() as session:
            await session.execute(
                delete(AgentSession).where(
                    col(AgentSession.agent_id) == agent.id, col(AgentSession.expires_at) <= now
                )
            )
            row = AgentSession(
                agent_id=agent.id,
                token_hash=digest(token),
                created_at=now,
                last_seen_at=now,
                expires_at=now + self.max_age,
                address=address[:64] or None,
                user_agent=user_agent[:300] or None,
            )
            session.add(row)
            if rehashed is not None:
                await session.execute(
                    update(Agent).where(col(Agent.id) == agent.id).values(password_hash=rehashed)
                )
            await session.flush()
            principal = await load_principal(session, agent.id)
        assert principal is not None
        assert row.id is not None
        return token, SignedIn(principal, row.id, csrf_token(self.secret, row.token_hash))

    async def resolve(self, token: str | None) -> SignedIn | None:
        """The signed-in agent behind a cookie value, or ``None`` (unknown, expired, idle too
        long, or the agent deactivated)."""
        if not token or len(token) > 200:
            return None
        token_hash = digest(token)
        now = self.clock()
        async with self.db.read() as session:
            row = await session.scalar(
                select(AgentSession).where(AgentSession.token_hash == token_hash)
            )
            if row is None or row.expires_at <= now or row.last_seen_at + self.idle <= now:
                return None
            principal = await load_principal(session, row.agent_id)
        if principal is None or row.id is None:
            return None
        if now - row.last_seen_at >= _TOUCH_EVERY:
            async with self.db.write() as session:
                await session.execute(
                    update(AgentSession)
                    .where(col(AgentSession.id) == row.id)
                    .values(last_seen_at=now)
                )
        return SignedIn(principal, row.id, csrf_token(self.secret, token_hash))

    async def still_valid(self, signed: SignedIn) -> SignedIn | None:
        """The session again, as it is now (for a long-lived socket): ``None`` once it ended."""
        now = self.clock()
        async with self.db.read() as session:
            row = await session.get(AgentSession, signed.session_id)
            if row is None or row.expires_at <= now or row.last_seen_at + self.idle <= now:
                return None
            principal = await load_principal(session, row.agent_id)
        if principal is None:
            return None
        return SignedIn(principal, signed.session_id, signed.csrf_token)

    async def sign_out(self, signed: SignedIn) -> None:
        async with self.db.write() as session:
            await session.execute(
                delete(AgentSession).where(col(AgentSession.id) == signed.session_id)
            )
            await record_access_changed(session, signed.principal.agent_id, "signed_out")

    async def change_password(self, signed: SignedIn, current: str, new: str) -> None:
        """Set a new password after checking the current one; the agent's other sessions end."""
        agent_id = signed.principal.agent_id
        async with self.db.read() as session:
            agent = await session.get_one(Agent, agent_id)
        if not await asyncio.to_thread(
            verify_password, agent.password_hash, current[:MAX_PASSWORD]
        ):
            raise PasswordRefused("The current password is not right.")
        if new == current:
            raise PasswordRefused("Choose a new password, not the current one.")
        if len(new) > MAX_PASSWORD:
            raise PasswordRefused(f"A password can have at most {MAX_PASSWORD} characters.")
        try:
            new_hash = await asyncio.to_thread(hash_password, new)
        except WeakPassword as error:
            raise PasswordRefused(f"The new password is too short: {error}.") from None
        async with self.db.write() as session:
            await session.execute(
                update(Agent).where(col(Agent.id) == agent_id).values(password_hash=new_hash)
            )
            await end_sessions(session, agent_id, reason="password_changed", keep=signed.session_id)


def store(svc: Services) -> SessionStore:
    """The session store of a running app, made on first use."""
    found = svc.extras.get(_EXTRA)
    if not isinstance(found, SessionStore):
        found = svc.extras[_EXTRA] = SessionStore(svc.db, svc.settings)
    return found
