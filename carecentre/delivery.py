"""Delivery status of outbound messages: moved forward only, each change an event.

Providers report out of order (Twilio's callbacks can arrive "delivered" before "sent"); the
channel ranks its provider's statuses, and a change that would move a message backwards is
ignored here rather than refused, since the later report already said more.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlmodel import col, select

from carecentre import events
from carecentre.coltypes import utcnow
from carecentre.contract import Channel
from carecentre.db import Database
from carecentre.events import EventBus
from carecentre.models import ContactIdentity, Message, Ticket
from carecentre.states import DeliveryStatus, IllegalTransition, check_delivery_transition


@dataclass(frozen=True, slots=True)
class StatusOutcome:
    found: bool
    changed: bool
    message_id: int | None = None


def set_delivery(
    session: Session,
    message: Message,
    status: DeliveryStatus,
    *,
    error: str | None = None,
    code: str | None = None,
) -> None:
    """Move a message's delivery status (checked) and record a ``message.status`` event."""
    current = message.delivery_status or DeliveryStatus.QUEUED
    if status is current:
        return
    check_delivery_transition(current, status)
    now = utcnow()
    message.delivery_status = status
    if error is not None:
        message.delivery_error = error[:2000]
    if code is not None:
        message.delivery_code = code[:64]
    if status is DeliveryStatus.SENT:
        message.sent_at = now
    elif status is DeliveryStatus.DELIVERED:
        message.delivered_at = now
        message.sent_at = message.sent_at or now
    ticket = session.get_one(Ticket, message.ticket_id)
    events.record_sync(
        session,
        "message.status",
        {
            "reference": ticket.reference,
            "message_id": message.id,
            "delivery_status": status.value,
            "error": message.delivery_error,
            "code": message.delivery_code,
        },
        ticket_id=ticket.id,
        queue_id=ticket.queue_id,
    )


def mark_opted_out(session: Session, address: str) -> None:
    """The provider says this address refuses our messages (SMS STOP, Twilio 21610)."""
    session.execute(
        update(ContactIdentity)
        .where(col(ContactIdentity.address) == address, col(ContactIdentity.opted_out_at).is_(None))
        .values(opted_out_at=utcnow())
    )


def apply_provider_status(
    session: Session,
    *,
    channel: Channel,
    provider_id: str,
    status: DeliveryStatus,
    error: str | None = None,
    code: str | None = None,
    opted_out: bool = False,
) -> StatusOutcome:
    """A delivery report from the provider about the message it calls ``provider_id``."""
    # Locked (PostgreSQL): the same report delivered twice at once must change things once.
    message = session.scalar(
        select(Message)
        .where(Message.channel == channel, Message.external_id == provider_id)
        .with_for_update()
    )
    if message is None:
        return StatusOutcome(found=False, changed=False)
    if opted_out and message.address:
        mark_opted_out(session, message.address)
    try:
        before = message.delivery_status
        set_delivery(session, message, status, error=error, code=code)
    except IllegalTransition:
        return StatusOutcome(found=True, changed=False, message_id=message.id)
    return StatusOutcome(found=True, changed=before is not status, message_id=message.id)


class DeliveryReports:
    """What channels call when a provider reports on a message we sent."""

    def __init__(self, db: Database, bus: EventBus) -> None:
        self.db = db
        self.bus = bus

    async def report(
        self,
        *,
        channel: Channel,
        provider_id: str,
        status: DeliveryStatus,
        error: str | None = None,
        code: str | None = None,
        opted_out: bool = False,
    ) -> StatusOutcome:
        outcome = await self.db.run_write(
            lambda session: apply_provider_status(
                session,
                channel=channel,
                provider_id=provider_id,
                status=status,
                error=error,
                code=code,
                opted_out=opted_out,
            )
        )
        if outcome.changed:
            self.bus.notify()
        return outcome
