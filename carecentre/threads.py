"""Threading: which ticket an inbound message belongs to (DESIGN.md, "Rules of the domain").

Strong keys first (our own email Message-IDs, reply tokens, chat sessions, CallSids: unguessable or
provider-issued), then a reference the resident typed, accepted only when they are that ticket's
contact, then, for SMS, the contact's latest ticket on the channel. A resolved ticket reopens; a
closed one is never reopened: the message starts a new ticket linked to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session
from sqlmodel import col, select

from carecentre.contract import InboundMessage
from carecentre.models import ThreadKey, Ticket
from carecentre.references import parse_reference
from carecentre.states import TicketStatus


@dataclass(frozen=True, slots=True)
class ThreadMatch:
    """Where a message goes: ``ticket`` to append to, or a new ticket (linked to ``closed``)."""

    ticket: Ticket | None
    closed: Ticket | None = None
    matched_by: str = "new"


def _by_keys(session: Session, keys: tuple[str, ...]) -> Ticket | None:
    if not keys:
        return None
    ticket_id = session.scalar(
        select(ThreadKey.ticket_id)
        .where(col(ThreadKey.key).in_(keys))
        .order_by(col(ThreadKey.ticket_id).desc())
        .limit(1)
    )
    return None if ticket_id is None else session.get(Ticket, ticket_id)


def _by_reference(session: Session, hint: str | None, contact_id: int) -> Ticket | None:
    reference = parse_reference(hint) if hint else None
    if reference is None:
        return None
    # A stranger quoting someone else's reference must not land on their ticket.
    return session.scalar(
        select(Ticket).where(Ticket.reference == reference, Ticket.contact_id == contact_id)
    )


def _latest_on_channel(session: Session, message: InboundMessage, contact_id: int) -> Ticket | None:
    return session.scalar(
        select(Ticket)
        .where(Ticket.contact_id == contact_id, Ticket.channel == message.channel)
        .order_by(col(Ticket.id).desc())
        .limit(1)
    )


def find_thread(session: Session, message: InboundMessage, contact_id: int) -> ThreadMatch:
    ticket = _by_keys(session, message.thread_keys)
    how = "key"
    if ticket is None:
        ticket, how = _by_reference(session, message.reference_hint, contact_id), "reference"
    if ticket is None and message.thread_by_contact:
        ticket, how = _latest_on_channel(session, message, contact_id), "contact"
    if ticket is None:
        return ThreadMatch(None)
    if ticket.status is TicketStatus.CLOSED:
        return ThreadMatch(None, closed=ticket, matched_by=how)
    return ThreadMatch(ticket, matched_by=how)


def register_keys(session: Session, ticket_id: int, keys: tuple[str, ...]) -> None:
    """Attach keys to a ticket; a key already attached keeps its first ticket."""
    keys = tuple(key for key in dict.fromkeys(keys) if len(key) <= 500)
    if not keys:
        return
    existing = set(session.scalars(select(ThreadKey.key).where(col(ThreadKey.key).in_(keys))))
    for key in keys:
        if key not in existing:
            session.add(ThreadKey(key=key, ticket_id=ticket_id))
