"""Chat conversations: resume tokens, the pre-chat step, and the numbered entries a resident sees.

Plain functions on a synchronous session (run through ``Database.run_write`` or
``AsyncSession.run_sync``, like :mod:`carecentre.residents`). Each entry takes the next number of
its conversation's own sequence while the conversation row is locked, so numbers never repeat or
skip, and a resident who reconnects with the last number they saw gets exactly what they missed.
Entries are idempotent: a resident's message on its ``client_id``, an agent's on its message id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session
from sqlmodel import col, select

from carecentre.chat_models import ChatConversation, ChatEntry, ChatStatus
from carecentre.coltypes import utcnow
from carecentre.contacts import find_identity
from carecentre.contract import IdentityKind
from carecentre.models import Contact, ContactIdentity, Ticket


def token_digest(token: str) -> str:
    """What is stored of a resume token: its SHA-256, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ConversationView:
    id: int
    chat_id: str
    status: ChatStatus
    language: str
    last_seq: int
    topic: str | None = None
    name: str | None = None
    follow_up_email: str | None = None
    follow_up_phone: str | None = None
    ticket_id: int | None = None
    reference: str | None = None
    last_seen_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EntryView:
    """One numbered thing shown in the chat."""

    seq: int
    kind: str  # message | notice
    author: str  # resident | agent | city
    body: str
    created_at: datetime
    author_name: str | None = None
    notice: str | None = None  # agent_joined | agent_left | ended
    client_id: str | None = None


def view(session: Session, row: ChatConversation) -> ConversationView:
    assert row.id is not None
    reference = None
    if row.ticket_id is not None:
        reference = session.scalar(select(Ticket.reference).where(Ticket.id == row.ticket_id))
    return ConversationView(
        id=row.id,
        chat_id=row.chat_id,
        status=row.status,
        language=row.language,
        last_seq=row.last_seq,
        topic=row.topic,
        name=row.name,
        follow_up_email=row.follow_up_email,
        follow_up_phone=row.follow_up_phone,
        ticket_id=row.ticket_id,
        reference=reference,
        last_seen_at=row.last_seen_at,
        ended_at=row.ended_at,
    )


def entry_view(row: ChatEntry) -> EntryView:
    return EntryView(
        seq=row.seq,
        kind=row.kind,
        author=row.author,
        body=row.body,
        created_at=row.created_at,
        author_name=row.author_name,
        notice=row.notice,
        client_id=row.client_id,
    )


def locked(session: Session, conversation_id: int) -> ChatConversation:
    """The conversation row, locked until commit (PostgreSQL; SQLite has one writer anyway)."""
    row = session.scalar(
        select(ChatConversation)
        .where(ChatConversation.id == conversation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise LookupError(f"no chat conversation {conversation_id}")
    return row


def append(
    session: Session,
    conversation: ChatConversation,
    *,
    kind: str,
    author: str,
    body: str = "",
    author_name: str | None = None,
    notice: str | None = None,
    client_id: str | None = None,
    message_id: int | None = None,
) -> ChatEntry:
    """Add the next entry of a conversation the caller has :func:`locked`."""
    assert conversation.id is not None
    conversation.last_seq += 1
    row = ChatEntry(
        conversation_id=conversation.id,
        seq=conversation.last_seq,
        kind=kind,
        author=author,
        author_name=author_name[:200] if author_name else None,
        notice=notice,
        body=body,
        client_id=client_id,
        message_id=message_id,
    )
    session.add(row)
    session.flush()
    return row


def create(session: Session, *, token_hash: str, chat_id: str, language: str) -> ConversationView:
    row = ChatConversation(token_hash=token_hash, chat_id=chat_id, language=language)
    session.add(row)
    session.flush()
    return view(session, row)


def resume(
    session: Session, token_hash: str, *, ttl: float
) -> tuple[ConversationView | None, bool]:
    """The conversation a token opens and whether it has expired; ``(None, False)`` if unknown.

    A token lives ``ttl`` seconds after its conversation's last activity; using it renews it.
    """
    row = session.scalar(select(ChatConversation).where(ChatConversation.token_hash == token_hash))
    if row is None:
        return None, False
    now = utcnow()
    if row.last_seen_at < now - timedelta(seconds=ttl):
        return view(session, row), True
    row.last_seen_at = now
    return view(session, row), False


def attach_identity(session: Session, contact_id: int, kind: IdentityKind, address: str) -> bool:
    """Make ``address`` (normalized) an identity of the contact; False when another contact
    already owns it (then it is left alone: contacts are never merged here)."""
    identity = find_identity(session, kind, address)
    if identity is None:
        session.add(ContactIdentity(contact_id=contact_id, kind=kind, address=address))
        session.flush()
        return True
    return identity.contact_id == contact_id


def start(
    session: Session,
    conversation_id: int,
    *,
    topic: str,
    language: str,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
) -> ConversationView:
    """The pre-chat step: topic, name and follow-up addresses (already normalized).

    The chat identity joins the contact that already owns the email or phone given, so agents
    see the resident's whole story; otherwise a new contact is made. Either way the follow-up
    addresses become identities of that contact, which is what lets a reply go out by email or
    SMS later and the resident's answer there reach the same contact.
    """
    row = locked(session, conversation_id)
    if row.status is not ChatStatus.PRECHAT:
        raise ValueError("this chat has already started")
    contact_id: int | None = None
    for kind, address in ((IdentityKind.EMAIL, email), (IdentityKind.PHONE, phone)):
        found = find_identity(session, kind, address) if address else None
        if found is not None:
            contact_id = found.contact_id
            break
    if contact_id is None:
        contact = Contact(name=name[:200] if name else None, language=language)
        session.add(contact)
        session.flush()
        assert contact.id is not None
        contact_id = contact.id
    elif name:
        contact = session.get_one(Contact, contact_id)
        contact.name = contact.name or name[:200]
    session.add(ContactIdentity(contact_id=contact_id, kind=IdentityKind.CHAT, address=row.chat_id))
    if email:
        attach_identity(session, contact_id, IdentityKind.EMAIL, email)
    if phone:
        attach_identity(session, contact_id, IdentityKind.PHONE, phone)
    row.contact_id = contact_id
    row.topic, row.name, row.language = topic, name, language
    row.follow_up_email, row.follow_up_phone = email, phone
    row.status = ChatStatus.OPEN
    row.last_seen_at = utcnow()
    session.flush()
    return view(session, row)


def entry_for_client(session: Session, conversation_id: int, client_id: str) -> EntryView | None:
    row = session.scalar(
        select(ChatEntry).where(
            ChatEntry.conversation_id == conversation_id, ChatEntry.client_id == client_id
        )
    )
    return None if row is None else entry_view(row)


def record_resident(
    session: Session,
    conversation_id: int,
    *,
    client_id: str,
    body: str,
    message_id: int,
    ticket_id: int,
) -> EntryView:
    """The resident's message, already ingested as ``message_id`` on ``ticket_id``."""
    row = locked(session, conversation_id)
    existing = entry_for_client(session, conversation_id, client_id)
    if existing is not None:
        return existing
    row.ticket_id = row.ticket_id or ticket_id
    row.last_seen_at = utcnow()
    entry = append(
        session,
        row,
        kind="message",
        author="resident",
        body=body,
        client_id=client_id,
        message_id=message_id,
    )
    return entry_view(entry)


def entries_after(
    session: Session, conversation_id: int, after: int, *, limit: int = 500
) -> list[EntryView]:
    rows = session.scalars(
        select(ChatEntry)
        .where(ChatEntry.conversation_id == conversation_id, col(ChatEntry.seq) > after)
        .order_by(col(ChatEntry.seq))
        .limit(limit)
    )
    return [entry_view(row) for row in rows]
