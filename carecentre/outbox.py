"""The outbox: nothing sent is lost, nothing is sent twice.

An agent's reply is a queued outbound Message plus an OutboxItem, written in one transaction.
The :class:`Dispatcher` (a task inside ``serve``, or ``carecentre worker`` processes) claims due
items, hands each to the sender registered for its channel outside any transaction, and records
the outcome. A transient failure (the provider cannot have accepted it) is retried with exponential
backoff and jitter; a permanent one, or running out of time, marks the message failed with the
reason and raises an event. Inbound messages and notes never get an outbox item, so they are
never sent.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col, select

from carecentre import delivery, events
from carecentre.aio import wait_event
from carecentre.coltypes import utcnow
from carecentre.contacts import identities_of
from carecentre.contract import (
    CHANNEL_IDENTITY,
    Channel,
    OutboundMessage,
    PermanentSendError,
    RecipientOptedOut,
    SendError,
    SendResult,
    TransientSendError,
)
from carecentre.db import Database
from carecentre.events import EventBus
from carecentre.metrics import Metrics
from carecentre.models import Contact, ContactIdentity, Message, OutboxItem, ThreadKey, Ticket
from carecentre.senders import SenderRegistry
from carecentre.states import DeliveryStatus, Direction, TicketStatus
from carecentre.threads import register_keys
from carecentre.tickets import set_status

log = logging.getLogger(__name__)

# Voice has no outbound text: a caller is answered by text message on the same number.
REPLY_CHANNEL = {
    Channel.EMAIL: Channel.EMAIL,
    Channel.SMS: Channel.SMS,
    Channel.VOICE: Channel.SMS,
    Channel.CHAT: Channel.CHAT,
}
MAX_BODY = 20_000
SMS_MAX = 1600


class ReplyRefused(Exception):
    """A reply that cannot be queued; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float = 2.0
    cap: float = 3600.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff with jitter: a retry storm after an outage spreads out."""
        # The exponent is bounded: past ~1000 attempts 2**n no longer fits a float, and a long
        # give-up time must not turn into an OverflowError that wedges the item mid-send.
        exp = min(self.cap, self.base * 2.0 ** min(max(attempt - 1, 0), 1000))
        return float(exp * random.uniform(0.5, 1.0))


def _reply_identity(
    session: Session, contact_id: int, channel: Channel, to: str | None
) -> ContactIdentity:
    kind = CHANNEL_IDENTITY[channel]
    identities = identities_of(session, contact_id)
    candidates = [i for i in identities if i.kind is kind]
    if to is not None:
        candidates = [i for i in candidates if i.address == to]
    if not candidates:
        raise ReplyRefused(f"the resident has no {kind.value} address to answer by {channel.value}")
    identity = candidates[-1]
    if identity.opted_out_at is not None and channel is Channel.SMS:
        raise ReplyRefused(
            f"{identity.address} has opted out of text messages (they sent STOP); "
            "answer on another channel, or wait until they text START"
        )
    return identity


def queue_outbound(
    session: Session,
    *,
    ticket: Ticket,
    body: str,
    author_id: int | None,
    channel: Channel | None = None,
    to: str | None = None,
    subject: str | None = None,
    kind: str = "reply",
    automatic: bool = False,
) -> Message:
    """Queue an outbound message on the ticket's channel (or ``channel``), in the caller's
    transaction. Raises :class:`ReplyRefused` when it cannot be sent.

    ``kind`` is ``"reply"`` for an agent's answer (it counts as the first response) or, e.g.,
    ``"acknowledgement"`` for the automatic answer to a new ticket.
    """
    body = body.strip()
    if not body:
        raise ReplyRefused("the reply is empty")
    if len(body) > MAX_BODY:
        raise ReplyRefused(f"the reply is longer than {MAX_BODY} characters")
    if ticket.status is TicketStatus.CLOSED and kind == "reply":
        raise ReplyRefused("the ticket is closed; the resident's next message opens a new one")
    target = channel or REPLY_CHANNEL[ticket.channel]
    if target is Channel.VOICE:
        raise ReplyRefused("calls cannot carry a written reply; answer by sms or email")
    if target is Channel.SMS and len(body) > SMS_MAX:
        raise ReplyRefused(f"a text message can hold at most {SMS_MAX} characters")
    identity = _reply_identity(session, ticket.contact_id, target, to)
    now = utcnow()
    assert ticket.id is not None
    message = Message(
        ticket_id=ticket.id,
        direction=Direction.OUTBOUND,
        channel=target,
        address=identity.address,
        subject=subject,
        body_text=body,
        author_id=author_id,
        automatic=automatic,
        kind=kind,
        delivery_status=DeliveryStatus.QUEUED,
        created_at=now,
    )
    session.add(message)
    session.flush()
    assert message.id is not None
    session.add(OutboxItem(message_id=message.id, channel=target, next_attempt_at=now))
    if kind == "reply":
        if ticket.first_response_at is None:
            ticket.first_response_at = now
        if ticket.status is TicketStatus.NEW:
            set_status(ticket, TicketStatus.OPEN, now=now)
    ticket.updated_at = now
    session.flush()
    events.record_sync(
        session,
        "message.created",
        {
            "reference": ticket.reference,
            "message_id": message.id,
            "direction": "outbound",
            "channel": target.value,
            "preview": " ".join(body.split())[:140],
            "delivery_status": "queued",
            "automatic": automatic,
        },
        ticket_id=ticket.id,
        queue_id=ticket.queue_id,
    )
    return message


async def queue_reply(
    session: AsyncSession,
    *,
    ticket: Ticket,
    body: str,
    author_id: int | None,
    channel: Channel | None = None,
    to: str | None = None,
    subject: str | None = None,
    kind: str = "reply",
    automatic: bool = False,
) -> Message:
    """:func:`queue_outbound` in an async session."""
    return await session.run_sync(
        lambda sync: queue_outbound(
            sync,
            ticket=ticket,
            body=body,
            author_id=author_id,
            channel=channel,
            to=to,
            subject=subject,
            kind=kind,
            automatic=automatic,
        )
    )


async def add_note(session: AsyncSession, *, ticket: Ticket, body: str, author_id: int) -> Message:
    """An internal note: visible to agents, never sent."""
    body = body.strip()
    if not body:
        raise ReplyRefused("the note is empty")
    if len(body) > MAX_BODY:
        raise ReplyRefused(f"the note is longer than {MAX_BODY} characters")
    assert ticket.id is not None
    now = utcnow()
    note = Message(
        ticket_id=ticket.id,
        direction=Direction.NOTE,
        channel=ticket.channel,
        body_text=body,
        author_id=author_id,
        kind="note",
        created_at=now,
    )
    session.add(note)
    ticket.updated_at = now
    await session.flush()
    await events.record(
        session,
        "message.created",
        {
            "reference": ticket.reference,
            "message_id": note.id,
            "direction": "note",
            "channel": ticket.channel.value,
            "preview": " ".join(body.split())[:140],
        },
        ticket_id=ticket.id,
        queue_id=ticket.queue_id,
    )
    return note


async def set_delivery(
    session: AsyncSession,
    message: Message,
    status: DeliveryStatus,
    *,
    error: str | None = None,
    code: str | None = None,
) -> None:
    """:func:`carecentre.delivery.set_delivery` in an async session."""
    await session.run_sync(
        lambda sync: delivery.set_delivery(sync, message, status, error=error, code=code)
    )


@dataclass(frozen=True, slots=True)
class _Claimed:
    item_id: int
    channel: Channel
    outbound: OutboundMessage


def _outbound(session: Session, item: OutboxItem, message: Message) -> OutboundMessage:
    """Everything the sender needs, read while the item is claimed (senders never query)."""
    ticket = session.get_one(Ticket, message.ticket_id)
    contact = session.get_one(Contact, ticket.contact_id)
    keys = session.scalars(
        select(ThreadKey.key)
        .where(ThreadKey.ticket_id == ticket.id)
        .order_by(col(ThreadKey.created_at))
    )
    assert message.id is not None
    return OutboundMessage(
        message_id=message.id,
        channel=message.channel,
        to=message.address or "",
        body_text=message.body_text,
        body_html=message.body_html,
        subject=message.subject or ticket.subject,
        ticket_reference=ticket.reference,
        attempt=item.attempts,
        contact_name=contact.name,
        language=contact.language or ticket.language,
        automatic=message.automatic,
        thread_keys=tuple(keys),
        metadata={"kind": message.kind},
    )


class Dispatcher:
    """Hands due outbox items to their channel's sender and records what happened."""

    def __init__(
        self,
        *,
        db: Database,
        bus: EventBus,
        senders: SenderRegistry,
        metrics: Metrics,
        backoff: Backoff | None = None,
        give_up_after: timedelta = timedelta(days=2),
        lease: timedelta = timedelta(minutes=5),
        batch: int = 20,
        poll_interval: float = 1.0,
    ) -> None:
        self.db = db
        self.bus = bus
        self.senders = senders
        self.metrics = metrics
        self.backoff = backoff or Backoff()
        self.give_up_after = give_up_after
        self.lease = lease
        self.batch = batch
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._next_stale_check = datetime.min.replace(tzinfo=UTC)

    def notify(self) -> None:
        """A reply was queued: look now rather than at the next poll."""
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("outbox: a dispatch pass failed; trying again")
                handled = 0
            if handled:
                continue
            self._wake.clear()
            await wait_event(self._wake, self.poll_interval)

    async def run_once(self) -> int:
        """One pass: claim what is due, send it, record outcomes. Returns how many were handled.

        The database work runs as plain functions on the writer (one thread hop per step, and on
        SQLite committed together with whatever else is writing), so a reply costs two short
        units of work around the provider's call.
        """
        now = utcnow()
        if now >= self._next_stale_check:
            # Leases are minutes long; looking for dead workers' items every pass is waste.
            self._next_stale_check = now + min(self.lease / 4, timedelta(seconds=30))
            if await self.db.run_write(lambda session: self._expire_stale(session, now)):
                self.bus.notify()
        claimed = await self.db.run_write(lambda session: self._claim(session, now))
        if claimed:
            self.bus.notify()
            await asyncio.gather(*(self._deliver(item) for item in claimed))
        return len(claimed)

    async def pending_count(self) -> int:
        async with self.db.read() as session:
            count = await session.scalar(
                select(func.count()).select_from(OutboxItem).where(OutboxItem.state == "pending")
            )
        self.metrics.outbox_pending.set(count or 0)
        return int(count or 0)

    def _claim(self, session: Session, now: datetime) -> list[_Claimed]:
        due = (
            select(OutboxItem)
            .where(OutboxItem.state == "pending", OutboxItem.next_attempt_at <= now)
            .order_by(col(OutboxItem.next_attempt_at))
            .limit(self.batch)
        )
        if self.db.is_postgres:
            # Several workers: each claims different rows, none waits for another.
            due = due.with_for_update(skip_locked=True)
        items = list(session.scalars(due))
        claimed = []
        for item in items:
            item.state = "sending"
            item.attempts += 1
            item.locked_until = now + self.lease
            item.updated_at = now
            message = session.get_one(Message, item.message_id)
            delivery.set_delivery(session, message, DeliveryStatus.SENDING)
            assert item.id is not None
            claimed.append(_Claimed(item.id, item.channel, _outbound(session, item, message)))
        return claimed

    def _expire_stale(self, session: Session, now: datetime) -> int:
        """An item left 'sending' by a worker that died may or may not have gone out. Sending it
        again could reach the resident twice, so it is marked failed for an agent to check."""
        query = select(OutboxItem).where(
            OutboxItem.state == "sending", col(OutboxItem.locked_until) < now
        )
        if self.db.is_postgres:
            # A row locked by a worker recording its outcome right now is not stale; and two
            # workers expiring at once must not both mark (and announce) the same item.
            query = query.with_for_update(skip_locked=True)
        stale = list(session.scalars(query))
        for item in stale:
            item.state = "failed"
            item.last_error = "the sending worker stopped mid-send; delivery unknown"
            message = session.get_one(Message, item.message_id)
            delivery.set_delivery(
                session,
                message,
                DeliveryStatus.FAILED,
                error="Sending was interrupted; it may not have been delivered. "
                "Check with the resident before sending again.",
            )
        return len(stale)

    async def _deliver(self, claimed: _Claimed) -> None:
        sender = self.senders.get(claimed.channel)
        result: SendResult | None = None
        error: SendError | None = None
        if sender is None:
            error = TransientSendError(f"no sender is configured for {claimed.channel.value}")
        else:
            try:
                result = await sender.send(claimed.outbound)
            except SendError as exc:
                error = exc
            except Exception as exc:
                # A sender bug: whether anything left is unknown, so never retried blindly.
                log.exception("outbox: the %s sender failed unexpectedly", claimed.channel.value)
                error = PermanentSendError(
                    f"internal error in the {claimed.channel.value} sender: {exc}"
                )
        outcome = await self.db.run_write(
            lambda session: self._record(session, claimed.item_id, result, error, utcnow())
        )
        if outcome:
            self.metrics.outbox.labels(claimed.channel.value, outcome).inc()
        self.bus.notify()

    def _record(
        self,
        session: Session,
        item_id: int,
        result: SendResult | None,
        error: SendError | None,
        now: datetime,
    ) -> str | None:
        """Record a send's outcome; returns "sent", "retry" or "failed" (None: lease lost)."""
        query = select(OutboxItem).where(OutboxItem.id == item_id)
        if self.db.is_postgres:
            query = query.with_for_update()
        item = session.scalars(query).one()
        message = session.get_one(Message, item.message_id)
        if item.state != "sending":
            # The send outlived its lease and another pass already marked it failed for an
            # agent to check. That verdict stands (failed never becomes sent again), but what
            # the provider answered is kept so its delivery callbacks and replies still match.
            log.warning(
                "outbox: message %s finished after its lease expired (%s); left %s",
                message.id,
                "sent" if result is not None else "not sent",
                item.state,
            )
            if result is not None:
                if result.provider_id and message.external_id is None:
                    message.external_id = result.provider_id
                register_keys(session, message.ticket_id, result.thread_keys)
            return None
        item.updated_at = now
        item.locked_until = None
        if result is not None:
            item.state = "done"
            item.last_error = None
            if result.provider_id:
                message.external_id = result.provider_id
            # An error kept from an earlier, retried attempt no longer describes the message.
            message.delivery_error = None
            message.delivery_code = None
            status = DeliveryStatus.DELIVERED if result.delivered else DeliveryStatus.SENT
            delivery.set_delivery(session, message, status)
            register_keys(session, message.ticket_id, result.thread_keys)
            return "sent"
        assert error is not None
        if isinstance(error, TransientSendError) and not self._expired(item, now):
            item.state = "pending"
            item.last_error = error.reason[:2000]
            item.next_attempt_at = now + timedelta(seconds=self.backoff.delay(item.attempts))
            delivery.set_delivery(session, message, DeliveryStatus.QUEUED, error=error.reason)
            return "retry"
        item.state = "failed"
        item.last_error = error.reason[:2000]
        reason = error.reason
        if isinstance(error, TransientSendError):
            reason = f"gave up after {item.attempts} attempts: {error.reason}"
        if isinstance(error, RecipientOptedOut) and message.address:
            delivery.mark_opted_out(session, message.address)
        delivery.set_delivery(
            session, message, DeliveryStatus.FAILED, error=reason, code=error.code
        )
        log.warning("outbox: message %s failed: %s", message.id, reason)
        return "failed"

    def _expired(self, item: OutboxItem, now: datetime) -> bool:
        return now - item.created_at > self.give_up_after
