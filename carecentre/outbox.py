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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Integer, Row, Table, bindparam, func, update
from sqlalchemy.engine import Connection
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
    IdentityKind,
    OutboundMessage,
    PermanentSendError,
    RecipientOptedOut,
    SendError,
    SendResult,
    TransientSendError,
)
from carecentre.db import Database, inserted_id
from carecentre.events import EventBus
from carecentre.metrics import Metrics
from carecentre.models import Contact, ContactIdentity, Message, OutboxItem, ThreadKey, Ticket
from carecentre.senders import SenderRegistry
from carecentre.states import DeliveryStatus, Direction, TicketStatus
from carecentre.threads import register_keys
from carecentre.tickets import TicketRow, set_status

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
    identities = identities_of(session, contact_id)
    chosen = _choose([(i.kind, i.address, i.opted_out_at) for i in identities], channel, to)
    return identities[chosen]


def _choose(
    identities: Sequence[tuple[IdentityKind, str, datetime | None]],
    channel: Channel,
    to: str | None,
) -> int:
    """Which of the contact's identities (kind, address, opted out at; oldest first) a message
    on ``channel`` goes to: ``to`` if given, else the newest of the right kind; never a number
    that opted out of text messages."""
    kind = CHANNEL_IDENTITY[channel]
    candidates = [n for n, (k, address, _) in enumerate(identities) if k is kind]
    if to is not None:
        candidates = [n for n in candidates if identities[n][1] == to]
    if not candidates:
        raise ReplyRefused(f"the resident has no {kind.value} address to answer by {channel.value}")
    chosen = candidates[-1]
    _, address, opted_out_at = identities[chosen]
    if opted_out_at is not None and channel is Channel.SMS:
        raise ReplyRefused(
            f"{address} has opted out of text messages (they sent STOP); "
            "answer on another channel, or wait until they text START"
        )
    return chosen


def _check(
    body: str, *, kind: str, status: TicketStatus, ticket_channel: Channel, channel: Channel | None
) -> tuple[str, Channel]:
    """The body to send and the channel to send it on; raises :class:`ReplyRefused`."""
    body = body.strip()
    if not body:
        raise ReplyRefused("the reply is empty")
    if len(body) > MAX_BODY:
        raise ReplyRefused(f"the reply is longer than {MAX_BODY} characters")
    if status is TicketStatus.CLOSED and kind == "reply":
        raise ReplyRefused("the ticket is closed; the resident's next message opens a new one")
    target = channel or REPLY_CHANNEL[ticket_channel]
    if target is Channel.VOICE:
        raise ReplyRefused("calls cannot carry a written reply; answer by sms or email")
    if target is Channel.SMS and len(body) > SMS_MAX:
        raise ReplyRefused(f"a text message can hold at most {SMS_MAX} characters")
    return body, target


def _created_event(
    reference: str, message_id: int, target: Channel, body: str, automatic: bool
) -> dict[str, Any]:
    return {
        "reference": reference,
        "message_id": message_id,
        "direction": "outbound",
        "channel": target.value,
        "preview": " ".join(body.split())[:140],
        "delivery_status": "queued",
        "automatic": automatic,
    }


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
    body, target = _check(
        body, kind=kind, status=ticket.status, ticket_channel=ticket.channel, channel=channel
    )
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
        _created_event(ticket.reference, message.id, target, body, automatic),
        ticket_id=ticket.id,
        queue_id=ticket.queue_id,
    )
    return message


_queued_identity: Table = ContactIdentity.__table__  # type: ignore[attr-defined]
_QUEUED_IDENTITIES = (
    sa.select(_queued_identity.c.kind, _queued_identity.c.address, _queued_identity.c.opted_out_at)
    .where(_queued_identity.c.contact_id == sa.bindparam("contact_id"))
    .order_by(_queued_identity.c.id)
)
_INSERT_QUEUED = Message.__table__.insert()  # type: ignore[attr-defined]
_INSERT_QUEUED_ITEM = OutboxItem.__table__.insert()  # type: ignore[attr-defined]


def queue_automatic(
    conn: Connection,
    *,
    ticket: TicketRow,
    body: str,
    now: datetime,
    to: str | None = None,
    subject: str | None = None,
    kind: str = "acknowledgement",
    known: tuple[IdentityKind, str, datetime | None] | None = None,
) -> events.NewEvent:
    """:func:`queue_outbound` of an automatic message (never a reply: it is no first response)
    on a ticket written in this transaction at ``now``, by plain statements: the same rules,
    without ORM objects, for the inbound pipeline. Returns the event to record with the
    caller's own, last in its transaction; raises :class:`ReplyRefused`. ``known`` is the
    contact's identity (kind, address, opted out at) already read in this transaction, if any.
    """
    if kind == "reply":
        raise ValueError("an agent's reply goes through queue_outbound")
    body, target = _check(
        body, kind=kind, status=ticket.status, ticket_channel=ticket.channel, channel=None
    )
    if known is not None and to == known[1] and known[0] is CHANNEL_IDENTITY[target]:
        # The identity ``to`` names was just read (kind and address are unique together):
        # it is the only candidate there is.
        identities = [known]
    else:
        identities = [
            (kind, address, opted_out_at)
            for kind, address, opted_out_at in conn.execute(
                _QUEUED_IDENTITIES, {"contact_id": ticket.contact_id}
            )
        ]
    address = identities[_choose(identities, target, to)][1]
    message_id = inserted_id(
        conn.execute(
            _INSERT_QUEUED,
            {
                "ticket_id": ticket.id,
                "direction": Direction.OUTBOUND,
                "channel": target,
                "address": address,
                "subject": subject,
                "body_text": body,
                "automatic": True,
                "kind": kind,
                "delivery_status": DeliveryStatus.QUEUED,
                "meta": {},
                "created_at": now,
            },
        )
    )
    conn.execute(
        _INSERT_QUEUED_ITEM,
        {
            "message_id": message_id,
            "channel": target,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        },
    )
    return events.NewEvent(
        "message.created",
        _created_event(ticket.reference, message_id, target, body, True),
        ticket_id=ticket.id,
        queue_id=ticket.queue_id,
    )


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


# The dispatcher's tables.
_items: Table = OutboxItem.__table__  # type: ignore[attr-defined]
_messages: Table = Message.__table__  # type: ignore[attr-defined]
_tickets: Table = Ticket.__table__  # type: ignore[attr-defined]
_contacts: Table = Contact.__table__  # type: ignore[attr-defined]
_thread_keys: Table = ThreadKey.__table__  # type: ignore[attr-defined]

# Built once, so each pass finds them compiled in the statement cache.
#
# A claim is one statement: the due items are marked "sending" (the lease) and returned. On
# PostgreSQL each worker skips the rows another is claiming; SQLite has one writer and ignores
# the locking clause. The due rows are chosen once, in a materialized CTE: as a subquery of the
# UPDATE, PostgreSQL may run the LIMIT again per row and claim more than a batch.
_DUE = (
    sa.select(_items.c.id)
    .where(_items.c.state == "pending", _items.c.next_attempt_at <= bindparam("now"))
    .order_by(_items.c.next_attempt_at)
    .limit(bindparam("batch", type_=Integer))
    .with_for_update(skip_locked=True)
    .cte("due")
    .prefix_with("MATERIALIZED", dialect="postgresql")
)
_CLAIM = (
    update(_items)
    .where(_items.c.id == _DUE.c.id, _items.c.state == "pending")
    .values(
        state="sending",
        attempts=_items.c.attempts + 1,
        locked_until=bindparam("until"),
        updated_at=bindparam("stamp"),
    )
    .returning(
        _items.c.id,
        _items.c.message_id,
        _items.c.channel,
        _items.c.attempts,
        _items.c.created_at,
    )
)
# Everything a sender needs, for a whole claim at once (senders never query).
_OUTBOUND = (
    sa.select(
        _messages.c.id,
        _messages.c.channel,
        _messages.c.address,
        _messages.c.subject,
        _messages.c.body_text,
        _messages.c.body_html,
        _messages.c.automatic,
        _messages.c.kind,
        _messages.c.ticket_id,
        _tickets.c.reference,
        _tickets.c.subject.label("ticket_subject"),
        _tickets.c.language.label("ticket_language"),
        _contacts.c.name.label("contact_name"),
        _contacts.c.language.label("contact_language"),
    )
    .join_from(_messages, _tickets, _tickets.c.id == _messages.c.ticket_id)
    .join_from(_tickets, _contacts, _contacts.c.id == _tickets.c.contact_id)
    .where(_messages.c.id.in_(bindparam("ids", expanding=True)))
)
_KEYS = (
    sa.select(_thread_keys.c.ticket_id, _thread_keys.c.key)
    .where(_thread_keys.c.ticket_id.in_(bindparam("tickets", expanding=True)))
    .order_by(_thread_keys.c.created_at)
)


def _finish(state: str, **values: Any) -> Any:
    """An outcome for an item, applied only while this worker still holds its lease."""
    return (
        update(_items)
        .where(_items.c.id == bindparam("item"), _items.c.state == "sending")
        .values(
            state=state,
            locked_until=None,
            last_error=bindparam("error"),
            updated_at=bindparam("stamp"),
            **values,
        )
        .returning(_items.c.id)
    )


_DONE = _finish("done")
_RETRY = _finish("pending", next_attempt_at=bindparam("next_attempt"))
_FAILED = _finish("failed")


@dataclass(frozen=True, slots=True)
class _Claimed:
    item_id: int
    channel: Channel
    ticket_id: int
    created_at: datetime
    outbound: OutboundMessage


def _outbound_messages(session: Session, items: list[Row[Any]]) -> list[_Claimed]:
    """The claimed items with what their senders need, read in two queries for the batch."""
    connection = session.connection()
    rows = {
        row.id: row
        for row in connection.execute(_OUTBOUND, {"ids": [item.message_id for item in items]})
    }
    keys: dict[int, list[str]] = {}
    for key in connection.execute(
        _KEYS, {"tickets": list({row.ticket_id for row in rows.values()})}
    ):
        keys.setdefault(key.ticket_id, []).append(key.key)
    claimed = []
    for item in sorted(items, key=lambda item: int(item.id)):
        row = rows[item.message_id]
        outbound = OutboundMessage(
            message_id=row.id,
            channel=row.channel,
            to=row.address or "",
            body_text=row.body_text,
            body_html=row.body_html,
            subject=row.subject or row.ticket_subject,
            ticket_reference=row.reference,
            attempt=item.attempts,
            contact_name=row.contact_name,
            language=row.contact_language or row.ticket_language,
            automatic=row.automatic,
            thread_keys=tuple(keys.get(row.ticket_id, ())),
            metadata={"kind": row.kind},
        )
        claimed.append(_Claimed(item.id, item.channel, row.ticket_id, item.created_at, outbound))
    return claimed


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
            # Cleared before the pass, not after: a reply queued while it runs wakes the next.
            self._wake.clear()
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("outbox: a dispatch pass failed; trying again")
                handled = 0
            if handled >= self.batch:
                continue  # a full batch: more may be due already
            # Fewer than a batch: nothing else was due when it was claimed.
            await wait_event(self._wake, self.poll_interval)

    async def run_once(self) -> int:
        """One pass: claim what is due, send it, record outcomes. Returns how many were handled.

        The database work runs as plain functions on the writer (on SQLite committed together
        with whatever else is writing): one unit of work claims a batch, and one per item
        records its outcome.
        """
        now = utcnow()
        expire = now >= self._next_stale_check
        if expire:
            # Leases are minutes long; looking for dead workers' items every pass is waste.
            self._next_stale_check = now + min(self.lease / 4, timedelta(seconds=30))

        def claim(session: Session) -> tuple[int, list[_Claimed]]:
            expired = self._expire_stale(session, now) if expire else 0
            return expired, self._claim(session, now)

        expired, claimed = await self.db.run_write(claim)
        if expired:
            self.bus.notify()
        if claimed:
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
        """Lease the due items: they are "sending" (the message itself stays queued until
        its outcome is known), and no other pass or worker takes them."""
        items = list(
            session.connection().execute(
                _CLAIM,
                {"now": now, "batch": self.batch, "until": now + self.lease, "stamp": now},
            )
        )
        if not items:
            return []
        return _outbound_messages(session, items)

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
            lambda session: self._record(session, claimed, result, error, utcnow())
        )
        if outcome:
            self.metrics.outbox.labels(claimed.channel.value, outcome).inc()
        self.bus.notify()

    def _record(
        self,
        session: Session,
        claimed: _Claimed,
        result: SendResult | None,
        error: SendError | None,
        now: datetime,
    ) -> str | None:
        """Record a send's outcome; returns "sent", "retry" or "failed" (None: lease lost).

        The item's row moves only while it is still "sending" (this worker's lease), in the
        same statement that checks it; the message's status then moves on from queued.
        """
        connection = session.connection()
        message_id = claimed.outbound.message_id
        lease = {"item": claimed.item_id, "stamp": now}
        if result is not None:
            if connection.execute(_DONE, {**lease, "error": None}).first() is None:
                self._late(session, claimed, result)
                return None
            delivered = DeliveryStatus.DELIVERED if result.delivered else DeliveryStatus.SENT
            # An error kept from an earlier, retried attempt no longer describes the message.
            delivery.record_outcome(
                session,
                message_id,
                delivered,
                clear_error=True,
                external_id=result.provider_id,
                connection=connection,
            )
            if result.thread_keys:
                register_keys(session, claimed.ticket_id, result.thread_keys)
            return "sent"
        assert error is not None
        reason = error.reason
        attempts = claimed.outbound.attempt
        if isinstance(error, TransientSendError) and not self._expired(claimed.created_at, now):
            retry_at = now + timedelta(seconds=self.backoff.delay(attempts))
            values = {**lease, "error": reason[:2000], "next_attempt": retry_at}
            if connection.execute(_RETRY, values).first() is None:
                self._late(session, claimed, None)
                return None
            delivery.record_outcome(
                session, message_id, DeliveryStatus.QUEUED, error=reason, connection=connection
            )
            return "retry"
        if connection.execute(_FAILED, {**lease, "error": reason[:2000]}).first() is None:
            self._late(session, claimed, None)
            return None
        if isinstance(error, TransientSendError):
            reason = f"gave up after {attempts} attempts: {error.reason}"
        if isinstance(error, RecipientOptedOut) and claimed.outbound.to:
            delivery.mark_opted_out(session, claimed.outbound.to)
        delivery.record_outcome(
            session,
            message_id,
            DeliveryStatus.FAILED,
            error=reason,
            code=error.code,
            connection=connection,
        )
        log.warning("outbox: message %s failed: %s", message_id, reason)
        return "failed"

    def _late(self, session: Session, claimed: _Claimed, result: SendResult | None) -> None:
        """The send outlived its lease and another pass already marked it failed for an agent
        to check. That verdict stands (failed never becomes sent again), but what the provider
        answered is kept so its delivery callbacks and replies still match."""
        message = session.get_one(Message, claimed.outbound.message_id)
        log.warning(
            "outbox: message %s finished after its lease expired (%s); left %s",
            message.id,
            "sent" if result is not None else "not sent",
            session.get_one(OutboxItem, claimed.item_id).state,
        )
        if result is not None:
            if result.provider_id and message.external_id is None:
                message.external_id = result.provider_id
            register_keys(session, message.ticket_id, result.thread_keys)

    def _expired(self, created_at: datetime, now: datetime) -> bool:
        return now - created_at > self.give_up_after
