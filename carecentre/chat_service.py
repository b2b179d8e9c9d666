"""The web chat's door into the core: conversations, follow-ups, availability and typing.

The chat channel calls :class:`ChatService`; it never opens a session itself. Addresses are
normalized here (``InvalidAddress`` for a bad one). :class:`TypingSignals` carries typing
indicators between residents' chat sockets and agents' dashboards inside one process; they are
never stored. Both sides find it with :func:`typing_signals`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from carecentre import chat_agents, chat_followup, conversations
from carecentre.chat_followup import Ended, Forwarded, Render, RenderTranscript
from carecentre.coltypes import utcnow
from carecentre.contract import IdentityKind
from carecentre.conversations import ConversationView, EntryView
from carecentre.hours import BusinessCalendar, Closed
from carecentre.identities import normalize
from carecentre.presence import Presence
from carecentre.services import Services

AVAILABILITY_REUSE = 2.0


@dataclass(frozen=True, slots=True)
class Availability:
    """Whether a resident who starts a chat now can expect a live answer, and if not why."""

    live: bool
    closed: Closed | None = None
    agents: int = 0
    next_open: datetime | None = None


@dataclass(frozen=True, slots=True)
class TypingSignal:
    ticket_id: int
    who: str  # resident | agent
    active: bool
    name: str | None = None


class TypingSignals:
    """In-process fan-out of typing indicators; listeners must not block."""

    def __init__(self) -> None:
        self._listeners: set[Callable[[TypingSignal], None]] = set()

    @contextmanager
    def listen(self, listener: Callable[[TypingSignal], None]) -> Iterator[None]:
        self._listeners.add(listener)
        try:
            yield
        finally:
            self._listeners.discard(listener)

    def publish(self, signal: TypingSignal) -> None:
        for listener in tuple(self._listeners):
            listener(signal)


def typing_signals(svc: Services) -> TypingSignals:
    """The app's one :class:`TypingSignals`, made on first use."""
    found = svc.extras.setdefault("chat.typing", TypingSignals())
    assert isinstance(found, TypingSignals)
    return found


class ChatService:
    """Conversations for the chat channel. Built in the channel's lifespan."""

    def __init__(self, svc: Services, *, calendar: BusinessCalendar | None = None) -> None:
        self.svc = svc
        self.db = svc.db
        settings = svc.settings
        self.region = settings.default_region
        self.token_ttl = settings.chat_token_ttl
        # The City's calendar (CARECENTRE_HOURS_FILE, else the default hours), one for all.
        self.calendar = calendar or svc.calendar
        self.presence = Presence(svc.db, svc.bus, fresh_for=settings.chat_presence_ttl)
        self.typing = typing_signals(svc)
        self._availability: tuple[float, Availability] | None = None

    def _queued(self) -> None:
        self.svc.bus.notify()
        self.svc.dispatcher.notify()

    async def availability(self) -> Availability:
        """Whether a live answer is possible now. Reused for AVAILABILITY_REUSE seconds: a
        burst of residents opening the chat costs one presence query, not one each."""
        now = time.monotonic()
        if self._availability is not None and now - self._availability[0] < AVAILABILITY_REUSE:
            return self._availability[1]
        found = await self.availability_at(utcnow())
        self._availability = (now, found)
        return found

    def forget_availability(self) -> None:
        """Presence changed: the next :meth:`availability` looks again."""
        self._availability = None

    async def availability_at(self, at: datetime) -> Availability:
        closed = self.calendar.closure_reason(at)
        agents = await self.presence.available()
        next_open = None
        if closed is not None:
            try:
                next_open = self.calendar.next_open(at)
            except ValueError:  # a calendar with no open time at all
                next_open = None
        return Availability(closed is None and agents > 0, closed, agents, next_open)

    async def create(self, language: str) -> tuple[str, ConversationView]:
        """A new conversation and its resume token (shown once; only its digest is kept)."""
        token = secrets.token_urlsafe(32)
        chat_id = secrets.token_urlsafe(12)
        digest = conversations.token_digest(token)
        found = await self.db.run_write(
            lambda s: conversations.create(s, token_hash=digest, chat_id=chat_id, language=language)
        )
        return token, found

    async def resume(self, token: str) -> tuple[ConversationView | None, bool]:
        """``(conversation, expired)``; ``(None, False)`` for a token never issued."""
        digest = conversations.token_digest(token)
        return await self.db.run_write(
            lambda s: conversations.resume(s, digest, ttl=self.token_ttl)
        )

    async def start(
        self,
        conversation_id: int,
        *,
        topic: str,
        language: str,
        name: str | None,
        email: str | None,
        phone: str | None,
    ) -> ConversationView:
        """The pre-chat step. Raises ``InvalidAddress`` naming a bad email or phone."""
        email = normalize(IdentityKind.EMAIL, email) if email else None
        phone = normalize(IdentityKind.PHONE, phone, region=self.region) if phone else None
        return await self.db.run_write(
            lambda s: conversations.start(
                s,
                conversation_id,
                topic=topic,
                language=language,
                name=name,
                email=email,
                phone=phone,
            )
        )

    async def entry_for_client(self, conversation_id: int, client_id: str) -> EntryView | None:
        async with self.db.read() as session:
            return await session.run_sync(
                lambda s: conversations.entry_for_client(s, conversation_id, client_id)
            )

    async def entries_after(self, conversation_id: int, after: int) -> list[EntryView]:
        async with self.db.read() as session:
            return await session.run_sync(
                lambda s: conversations.entries_after(s, conversation_id, after)
            )

    async def record_resident(
        self, conversation_id: int, *, client_id: str, body: str, message_id: int, ticket_id: int
    ) -> EntryView:
        return await self.db.run_write(
            lambda s: conversations.record_resident(
                s,
                conversation_id,
                client_id=client_id,
                body=body,
                message_id=message_id,
                ticket_id=ticket_id,
            )
        )

    async def record_agent(
        self, *, chat_id: str, message_id: int
    ) -> tuple[ConversationView, list[EntryView], bool] | None:
        return await self.db.run_write(
            lambda s: chat_agents.record_agent(s, chat_id=chat_id, message_id=message_id)
        )

    async def forward(self, message_id: int, render: Render) -> Forwarded | None:
        forwarded = await self.db.run_write(
            lambda s: chat_followup.forward_reply(s, message_id=message_id, render=render)
        )
        if forwarded is not None:
            self._queued()
        return forwarded

    async def end(
        self, conversation_id: int, *, transcript_to: str | None, render: RenderTranscript
    ) -> Ended:
        """End the chat; ``transcript_to`` (raw) is normalized, ``InvalidAddress`` if bad."""
        address = normalize(IdentityKind.EMAIL, transcript_to) if transcript_to else None
        ended = await self.db.run_write(
            lambda s: chat_followup.end(s, conversation_id, transcript_to=address, render=render)
        )
        self._queued()
        return ended

    async def agent_change(
        self, ticket_id: int, *, agent_id: int | None, key: str
    ) -> tuple[int, list[EntryView]] | None:
        changed = await self.db.run_write(
            lambda s: chat_agents.agent_change(s, ticket_id, agent_id=agent_id, key=key)
        )
        return changed
