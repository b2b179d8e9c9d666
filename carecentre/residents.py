"""What a resident can ask of the City directly, without an agent: to stop or restart messages,
and the status of their own request."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session
from sqlmodel import col, select

from carecentre import events
from carecentre.coltypes import utcnow
from carecentre.contacts import resolve_contact
from carecentre.contract import IdentityKind
from carecentre.db import Database
from carecentre.events import EventBus
from carecentre.identities import normalize
from carecentre.models import ContactIdentity, Ticket
from carecentre.references import parse_reference
from carecentre.states import TicketStatus


@dataclass(frozen=True, slots=True)
class StatusView:
    """Only what may be said to whoever holds the phone: the reference and its status."""

    reference: str
    status: TicketStatus


def set_opt_out(session: Session, kind: IdentityKind, address: str, opted_out: bool) -> bool:
    """Record that ``address`` stops (or restarts) receiving our messages; True if it changed.

    An address we have never seen is recorded too, so we never write to it later.
    """
    _contact_id, identity = resolve_contact(session, kind=kind, address=address, name=None)
    if (identity.opted_out_at is not None) == opted_out:
        return False
    identity.opted_out_at = utcnow() if opted_out else None
    events.record_sync(
        session,
        "contact.opted_out" if opted_out else "contact.opted_in",
        {"contact_id": identity.contact_id, "channel": kind.value},
    )
    return True


def status_for(
    session: Session, kind: IdentityKind, address: str, reference: str | None
) -> StatusView | None:
    """The status of the sender's own ticket: the one named, or their latest. Someone else's
    reference gets the same answer as one that does not exist."""
    identity = session.scalar(
        select(ContactIdentity).where(
            ContactIdentity.kind == kind, ContactIdentity.address == address
        )
    )
    if identity is None:
        return None
    query = select(Ticket).where(Ticket.contact_id == identity.contact_id)
    if reference is not None:
        canonical = parse_reference(reference)
        if canonical is None:
            return None
        query = query.where(Ticket.reference == canonical)
    ticket = session.scalar(query.order_by(col(Ticket.id).desc()).limit(1))
    return None if ticket is None else StatusView(ticket.reference, ticket.status)


class Residents:
    """Self-service actions, for the channels; addresses are normalized here."""

    def __init__(self, db: Database, bus: EventBus, *, region: str = "CA") -> None:
        self.db = db
        self.bus = bus
        self.region = region

    async def set_opt_out(self, kind: IdentityKind, raw_address: str, opted_out: bool) -> bool:
        address = normalize(kind, raw_address, region=self.region)
        changed = await self.db.run_write(
            lambda session: set_opt_out(session, kind, address, opted_out)
        )
        if changed:
            self.bus.notify()
        return changed

    async def status(
        self, kind: IdentityKind, raw_address: str, reference: str | None
    ) -> StatusView | None:
        address = normalize(kind, raw_address, region=self.region)
        async with self.db.read() as session:
            return await session.run_sync(lambda sync: status_for(sync, kind, address, reference))
