"""Threading: which ticket an inbound message belongs to (DESIGN.md, "Rules of the domain").

Strong keys first (our own email Message-IDs, reply tokens, chat sessions, CallSids: unguessable or
provider-issued), then a reference the resident typed, accepted only when they are that ticket's
contact, then, for SMS, the contact's latest ticket on the channel. A resolved ticket reopens; a
closed one is never reopened: the message starts a new ticket linked to it.

Every message of every channel comes through here on the writer, so the lookups are plain
statements built once (their compiled form is cached) returning plain rows, not ORM objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from carecentre.coltypes import utcnow
from carecentre.contract import InboundMessage
from carecentre.models import ThreadKey, Ticket
from carecentre.references import parse_reference
from carecentre.states import TicketStatus
from carecentre.tickets import TICKET_COLUMNS, TICKET_WITH_QUEUE, TicketRow

_key: Table = ThreadKey.__table__  # type: ignore[attr-defined]
_ticket: Table = Ticket.__table__  # type: ignore[attr-defined]

_BY_KEYS = (
    select(*TICKET_COLUMNS)
    .select_from(TICKET_WITH_QUEUE.join(_key, _key.c.ticket_id == _ticket.c.id))
    .where(_key.c.key.in_(bindparam("keys", expanding=True)))
    .order_by(_key.c.ticket_id.desc())
    .limit(1)
)
# A stranger quoting someone else's reference must not land on their ticket.
_BY_REFERENCE = (
    select(*TICKET_COLUMNS)
    .select_from(TICKET_WITH_QUEUE)
    .where(
        _ticket.c.reference == bindparam("reference"),
        _ticket.c.contact_id == bindparam("contact_id"),
    )
)
_LATEST_ON_CHANNEL = (
    select(*TICKET_COLUMNS)
    .select_from(TICKET_WITH_QUEUE)
    .where(
        _ticket.c.contact_id == bindparam("contact_id"),
        _ticket.c.channel == bindparam("channel"),
    )
    .order_by(_ticket.c.id.desc())
    .limit(1)
)
# A key already attached keeps its first ticket; a concurrent writer attaching the same key
# waits for this one and then does nothing, so neither fails.
_ATTACH = {
    "sqlite": sqlite.insert(_key).on_conflict_do_nothing(index_elements=[_key.c.key]),
    "postgresql": postgresql.insert(_key).on_conflict_do_nothing(index_elements=[_key.c.key]),
}


@dataclass(frozen=True, slots=True)
class ThreadMatch:
    """Where a message goes: ``ticket`` to append to, or a new ticket (linked to ``closed``)."""

    ticket: TicketRow | None
    closed: TicketRow | None = None
    matched_by: str = "new"


def _first(conn: Connection, statement: Select[Any], params: Mapping[str, Any]) -> TicketRow | None:
    row = conn.execute(statement, params).first()
    return None if row is None else TicketRow.from_row(row)


def _by_keys(conn: Connection, keys: tuple[str, ...]) -> TicketRow | None:
    if not keys:
        return None
    return _first(conn, _BY_KEYS, {"keys": list(keys)})


def _by_reference(conn: Connection, hint: str | None, contact_id: int) -> TicketRow | None:
    reference = parse_reference(hint) if hint else None
    if reference is None:
        return None
    return _first(conn, _BY_REFERENCE, {"reference": reference, "contact_id": contact_id})


def _latest_on_channel(
    conn: Connection, message: InboundMessage, contact_id: int
) -> TicketRow | None:
    return _first(conn, _LATEST_ON_CHANNEL, {"contact_id": contact_id, "channel": message.channel})


def find_thread(conn: Connection, message: InboundMessage, contact_id: int) -> ThreadMatch:
    ticket = _by_keys(conn, message.thread_keys)
    how = "key"
    if ticket is None:
        ticket, how = _by_reference(conn, message.reference_hint, contact_id), "reference"
    if ticket is None and message.thread_by_contact:
        ticket, how = _latest_on_channel(conn, message, contact_id), "contact"
    if ticket is None:
        return ThreadMatch(None)
    if ticket.status is TicketStatus.CLOSED:
        return ThreadMatch(None, closed=ticket, matched_by=how)
    return ThreadMatch(ticket, matched_by=how)


def attach_keys(
    conn: Connection, ticket_id: int, keys: Iterable[str], *, now: datetime | None = None
) -> None:
    """Attach keys to a ticket; a key already attached keeps its first ticket."""
    unique = [key for key in dict.fromkeys(keys) if len(key) <= 500]
    if not unique:
        return
    at = now or utcnow()
    conn.execute(
        _ATTACH[conn.dialect.name],
        [{"key": key, "ticket_id": ticket_id, "created_at": at} for key in unique],
    )


def register_keys(session: Session, ticket_id: int, keys: tuple[str, ...]) -> None:
    """:func:`attach_keys` in a session (objects it holds are written first: the ticket may be
    one of them)."""
    if not keys:
        return
    if session.new:
        session.flush()
    attach_keys(session.connection(), ticket_id, keys)
