"""The inbound pipeline: every channel's messages become tickets here, and only here.

``receive()`` stores the payload exactly as it arrived, before anything else can go wrong; the
channel's parser turns it into an :class:`InboundMessage`; ``ingest()`` then does, in one
transaction: dedupe on (channel, external id) by a unique constraint, resolve the contact, thread,
create or append to the ticket, route, record events. Events are published after the commit. A
payload that fails to parse stays stored with its error, and ``replay()`` runs it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import nh3
from sqlalchemy import func, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col, select

from carecentre import events
from carecentre.attachments import AttachmentStore
from carecentre.coltypes import utcnow
from carecentre.contacts import resolve_contact
from carecentre.contract import AckContent, AckRequest, Channel, InboundMessage, ParseError
from carecentre.db import Database
from carecentre.events import EventBus
from carecentre.hours import BusinessCalendar
from carecentre.identities import InvalidAddress, normalize
from carecentre.metrics import Metrics
from carecentre.models import Attachment, Contact, Message, Queue, RawInbound, Ticket
from carecentre.outbox import ReplyRefused, queue_outbound
from carecentre.queue_hours import QueueCalendars
from carecentre.routing import initial_due
from carecentre.states import DeliveryStatus, Direction, TicketStatus
from carecentre.threads import find_thread, register_keys
from carecentre.ticket_routing import Routed, route_new, settle_new
from carecentre.tickets import create_ticket, set_status

log = logging.getLogger(__name__)

Parser = Callable[[bytes, Mapping[str, Any]], InboundMessage]
Acknowledger = Callable[[AckRequest], AckContent | None]

# Acknowledgements to one address within an hour, at most: a loop with another robot stops here.
ACKS_PER_HOUR = 5

# PostgreSQL: unique violation, serialization failure, deadlock. All mean "run it again".
_RETRY_SQLSTATES = {"23505", "40001", "40P01"}
_MAX_TRIES = 8


@dataclass(frozen=True, slots=True)
class IngestResult:
    message_id: int
    ticket_id: int
    reference: str
    contact_id: int
    duplicate: bool = False
    created: bool = False
    reopened: bool = False
    linked_to: str | None = None
    acknowledged: bool = False


@dataclass(frozen=True, slots=True)
class Received:
    """What ``receive()`` did: the raw row, and either a result or the parse error."""

    raw_id: int
    result: IngestResult | None = None
    error: str | None = None


def _retryable(error: DBAPIError) -> bool:
    if isinstance(error, IntegrityError):
        return True
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return code in _RETRY_SQLSTATES


def _raw_row(
    channel: Channel,
    payload: bytes,
    content_type: str,
    kind: str,
    meta: Mapping[str, Any] | None,
) -> RawInbound:
    return RawInbound(
        channel=channel,
        kind=kind,
        content_type=content_type[:255],
        payload=payload,
        meta=dict(meta or {}),
    )


def _insert(session: Session, row: RawInbound) -> int:
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def _internal(error: BaseException) -> str:
    return f"internal error: {type(error).__name__}: {error}"


def _subject(message: InboundMessage) -> str:
    if message.subject and message.subject.strip():
        return " ".join(message.subject.split())[:500]
    first = " ".join(message.body_text.split())
    return (first[:77] + "…") if len(first) > 78 else first


class Pipeline:
    """Receives, parses and ingests. One per app, built in the lifespan."""

    def __init__(
        self,
        *,
        db: Database,
        bus: EventBus,
        store: AttachmentStore,
        metrics: Metrics,
        default_queue: str = "general",
        region: str = "CA",
        language: str = "en",
    ) -> None:
        self.db = db
        self.bus = bus
        self.store = store
        self.metrics = metrics
        self.default_queue = default_queue
        self.region = region
        self.language = language
        # The City's and each queue's hours, for routing rules and SLA due times (set by the app).
        self.calendars = QueueCalendars(BusinessCalendar())
        self.parsers: dict[tuple[Channel, str], Parser] = {}
        self.acknowledgers: dict[Channel, Acknowledger] = {}
        # Called after a commit that queued outbound messages (the dispatcher's wake-up).
        self.on_queued: Callable[[], None] | None = None

    def register_parser(self, channel: Channel, parser: Parser, kind: str = "message") -> None:
        self.parsers[(channel, kind)] = parser

    def register_acknowledger(self, channel: Channel, acknowledger: Acknowledger) -> None:
        """``acknowledger`` words the answer to a resident's first message on ``channel``."""
        self.acknowledgers[channel] = acknowledger

    async def store_raw(
        self,
        channel: Channel,
        payload: bytes,
        *,
        content_type: str,
        kind: str = "message",
        meta: Mapping[str, Any] | None = None,
    ) -> int:
        """Keep the payload exactly as received; committed before anything else happens."""
        raw = _raw_row(channel, payload, content_type, kind, meta)
        return await self.db.run_write(lambda session: _insert(session, raw))

    async def receive(
        self,
        channel: Channel,
        payload: bytes,
        *,
        content_type: str,
        kind: str = "message",
        meta: Mapping[str, Any] | None = None,
    ) -> Received:
        """Store, parse and ingest one payload. Parse errors are kept, never raised."""
        meta = dict(meta or {})
        parser = self.parsers.get((channel, kind))
        try:
            if parser is None:
                raise ParseError(f"no parser for {channel.value}/{kind}")
            message = parser(payload, meta)
        except ParseError as error:
            return await self.keep_unparsed(
                channel, payload, str(error), content_type=content_type, kind=kind, meta=meta
            )
        except Exception as error:
            # A parser bug must not lose the resident's message: stored, marked, replayable.
            log.exception("inbound %s/%s: the parser failed", channel.value, kind)
            return await self.keep_unparsed(
                channel, payload, _internal(error), content_type=content_type, kind=kind, meta=meta
            )
        return await self.receive_message(
            channel, payload, message, content_type=content_type, kind=kind, meta=meta
        )

    async def keep_unparsed(
        self,
        channel: Channel,
        payload: bytes,
        error: str,
        *,
        content_type: str,
        kind: str = "message",
        meta: Mapping[str, Any] | None = None,
    ) -> Received:
        """Store a payload that could not be parsed, with why, for a supervisor to see and
        ``carecentre replay`` to run again after a fix."""
        raw = _raw_row(channel, payload, content_type, kind, meta)
        raw.status, raw.error, raw.attempts = "failed", error[:2000], 1
        raw.processed_at = utcnow()
        raw_id = await self.db.run_write(lambda session: _insert(session, raw))
        self.metrics.raw_failed.labels(channel.value).inc()
        log.warning("inbound %s/%s #%d kept unparsed: %s", channel.value, kind, raw_id, error)
        return Received(raw_id, error=error)

    async def receive_message(
        self,
        channel: Channel,
        payload: bytes,
        message: InboundMessage,
        *,
        content_type: str,
        kind: str = "message",
        meta: Mapping[str, Any] | None = None,
    ) -> Received:
        """Store the payload and ingest its parsed message in ONE unit of work: the raw row is
        committed with the ticket, or alone (marked failed) when ingesting fails, so nothing is
        lost, and a message costs one commit instead of two."""
        raw = _raw_row(channel, payload, content_type, kind, meta)
        try:
            prepared = await self._prepare(message)
        except (ParseError, InvalidAddress) as error:
            return await self.keep_unparsed(
                channel, payload, str(error), content_type=content_type, kind=kind, meta=meta
            )

        def job(session: Session) -> tuple[int, IngestResult | None, BaseException | None]:
            raw_id = _insert(session, raw)
            try:
                with session.begin_nested():
                    return raw_id, self._ingest(session, *prepared, raw_id), None
            except DBAPIError as race:
                if _retryable(race):
                    return raw_id, None, race
                raise
            except Exception as bug:
                raw.status, raw.error = "failed", _internal(bug)[:2000]
                raw.attempts, raw.processed_at = 1, utcnow()
                return raw_id, None, bug

        raw_id, result, problem = await self.db.run_write(job)
        if result is not None:
            self._after(message, result)
            return Received(raw_id, result=result)
        if isinstance(problem, DBAPIError):
            # A concurrent writer won a race (PostgreSQL); the raw row is stored: go round again.
            return Received(raw_id, result=await self.ingest(message, raw_id=raw_id))
        log.error(
            "inbound %s #%d kept after an internal error", channel.value, raw_id, exc_info=problem
        )
        self.metrics.raw_failed.labels(channel.value).inc()
        return Received(raw_id, error=_internal(problem) if problem else "internal error")

    async def replay(self, raw_id: int) -> Received:
        """Parse and ingest a stored payload again (after a parser fix). Idempotent."""
        async with self.db.read() as session:
            raw = await session.get(RawInbound, raw_id)
        if raw is None:
            raise LookupError(f"no stored payload {raw_id}")
        return await self._process(raw_id, raw.channel, raw.kind, raw.payload, raw.meta)

    async def _process(
        self, raw_id: int, channel: Channel, kind: str, payload: bytes, meta: dict[str, Any]
    ) -> Received:
        parser = self.parsers.get((channel, kind))
        try:
            if parser is None:
                raise ParseError(f"no parser for {channel.value}/{kind}")
            message = parser(payload, meta)
            result = await self.ingest(message, raw_id=raw_id)
        except (ParseError, InvalidAddress) as error:
            reason = str(error)
            log.warning("inbound %s/%s #%d kept unparsed: %s", channel.value, kind, raw_id, reason)
        except Exception as error:
            # A bug must not lose the resident's message: it stays stored, marked, replayable.
            reason = f"internal error: {type(error).__name__}: {error}"
            log.exception(
                "inbound %s/%s #%d kept after an internal error", channel.value, kind, raw_id
            )
        else:
            return Received(raw_id, result=result)
        await self._mark_failed(raw_id, reason)
        self.metrics.raw_failed.labels(channel.value).inc()
        return Received(raw_id, error=reason)

    async def settle(self, raw_id: int, status: str, error: str | None = None) -> None:
        """Record what became of a stored payload a channel handled itself (a STOP, say)."""

        def mark(session: Session) -> None:
            session.execute(
                update(RawInbound)
                .where(col(RawInbound.id) == raw_id)
                .values(
                    status=status,
                    error=error[:2000] if error else None,
                    attempts=RawInbound.attempts + 1,
                    processed_at=utcnow(),
                )
            )

        await self.db.run_write(mark)

    async def _mark_failed(self, raw_id: int, error: str) -> None:
        def mark(session: Session) -> None:
            session.execute(
                update(RawInbound)
                .where(col(RawInbound.id) == raw_id)
                .values(
                    status="failed",
                    error=error[:2000],
                    attempts=RawInbound.attempts + 1,
                    processed_at=utcnow(),
                )
            )

        await self.db.run_write(mark)

    async def _prepare(
        self, message: InboundMessage
    ) -> tuple[InboundMessage, str, list[tuple[Any, tuple[str, int] | None]]]:
        """Work done before the transaction, outside the writer: HTML sanitized (whatever the
        channel did, nothing unsanitized is stored), the normalized sender, and the attachments'
        bytes written (content-addressed, so a rolled-back write is harmless)."""
        if message.body_html:
            message = replace(message, body_html=nh3.clean(message.body_html))
        address = normalize(message.identity_kind, message.sender, region=self.region)
        if not message.external_id or len(message.external_id) > 500:
            raise ParseError("the provider's message id is missing or longer than 500 characters")
        stored = [
            (attachment, await self.store.put(attachment.data) if attachment.data else None)
            for attachment in message.attachments
        ]
        return message, address, stored

    def _after(self, message: InboundMessage, result: IngestResult) -> None:
        self.metrics.ingested.labels(
            message.channel.value, "duplicate" if result.duplicate else "stored"
        ).inc()
        if not result.duplicate:
            self.bus.notify()
        if result.acknowledged and self.on_queued is not None:
            self.on_queued()

    async def ingest(self, message: InboundMessage, *, raw_id: int | None = None) -> IngestResult:
        """Turn one normalized message into ticket state. Idempotent on (channel, external id)."""
        clean, address, stored = await self._prepare(message)
        for attempt in range(1, _MAX_TRIES + 1):
            try:
                result = await self.db.run_write(
                    lambda session: self._ingest(session, clean, address, stored, raw_id)
                )
            except DBAPIError as error:
                if not _retryable(error) or attempt == _MAX_TRIES:
                    raise
                await asyncio.sleep(0.005 * attempt)
                continue
            self._after(message, result)
            return result
        raise AssertionError("unreachable")

    def _ingest(
        self,
        session: Session,
        message: InboundMessage,
        address: str,
        stored: list[tuple[Any, tuple[str, int] | None]],
        raw_id: int | None,
    ) -> IngestResult:
        now = utcnow()
        existing = (
            session.execute(
                select(Message.id, Message.ticket_id).where(
                    Message.channel == message.channel, Message.external_id == message.external_id
                )
            )
        ).first()
        if existing is not None:
            ticket = session.get_one(Ticket, existing.ticket_id)
            self._mark_raw(session, raw_id, "duplicate", existing.id, now)
            return IngestResult(
                existing.id, ticket.id or 0, ticket.reference, ticket.contact_id, duplicate=True
            )

        contact_id, _identity = resolve_contact(
            session,
            kind=message.identity_kind,
            address=address,
            name=message.sender_name,
            # Serialize messages from one address, so two first texts cannot open two tickets.
            lock=self.db.is_postgres,
        )
        match = find_thread(session, message, contact_id)
        created, reopened = False, False
        queue: Queue | None = None
        routed: Routed | None = None
        if match.ticket is None:
            routed = route_new(
                session,
                message,
                address=address,
                default_slug=self.default_queue,
                calendars=self.calendars,
                now=now,
            )
            queue = routed.queue
            ticket = create_ticket(
                session,
                contact_id=contact_id,
                queue=queue,
                channel=message.channel,
                subject=_subject(message),
                linked_ticket_id=match.closed.id if match.closed else None,
                now=now,
                due=initial_due,
                last_inbound_at=now,
                language=message.language or self.language,
                priority=routed.priority,
            )
            settle_new(session, ticket, routed, self.calendars)
            created = True
        else:
            ticket = match.ticket
            reopened = ticket.status is TicketStatus.RESOLVED
            if ticket.status in (TicketStatus.RESOLVED, TicketStatus.PENDING):
                # The resident answered: the ball is back with the City.
                set_status(ticket, TicketStatus.OPEN, now=now)
        assert ticket.id is not None
        if not created:
            ticket.updated_at = now
            ticket.last_inbound_at = now

        row = Message(
            ticket_id=ticket.id,
            direction=Direction.INBOUND,
            channel=message.channel,
            external_id=message.external_id,
            address=address,
            subject=message.subject[:500] if message.subject else None,
            body_text=message.body_text,
            body_html=message.body_html,
            full_text=message.full_text,
            automatic=message.automatic,
            delivery_status=DeliveryStatus.RECEIVED,
            raw_id=raw_id,
            meta=dict(message.metadata),
            created_at=now,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        for attachment, blob in stored:
            session.add(
                Attachment(
                    message_id=row.id,
                    filename=attachment.filename[:255] or "attachment",
                    content_type=attachment.content_type[:255],
                    sha256=blob[0] if blob else None,
                    size=blob[1] if blob else None,
                    url=attachment.url,
                    inline=attachment.inline,
                    content_id=attachment.content_id,
                )
            )
        register_keys(session, ticket.id, message.register_keys)
        self._mark_raw(session, raw_id, "ingested", row.id, now)
        session.flush()

        queue_slug = (
            queue.slug
            if queue is not None
            else session.scalar(select(Queue.slug).where(Queue.id == ticket.queue_id))
        )
        ticket_data = {
            "reference": ticket.reference,
            "status": ticket.status.value,
            "queue": queue_slug,
            "channel": ticket.channel.value,
            "subject": ticket.subject,
            "priority": ticket.priority.value,
            "assignee_id": ticket.assignee_id,
            "due_at": ticket.due_at.isoformat() if ticket.due_at else None,
        }
        scope = {"ticket_id": ticket.id, "queue_id": ticket.queue_id}
        if created:
            linked = match.closed.reference if match.closed else None
            events.record_sync(
                session,
                "ticket.created",
                {**ticket_data, "linked_to": linked, "routed_by": routed.label if routed else None},
                **scope,
            )
        else:
            events.record_sync(
                session, "ticket.updated", {**ticket_data, "reopened": reopened}, **scope
            )
        events.record_sync(
            session,
            "message.created",
            {
                "reference": ticket.reference,
                "message_id": row.id,
                "direction": row.direction.value,
                "channel": row.channel.value,
                "preview": " ".join(message.body_text.split())[:140],
                "automatic": message.automatic,
            },
            **scope,
        )
        acknowledged = created and self._acknowledge(session, message, ticket, queue, address, now)
        return IngestResult(
            row.id,
            ticket.id,
            ticket.reference,
            contact_id,
            acknowledged=acknowledged,
            created=created,
            reopened=reopened,
            linked_to=match.closed.reference if match.closed else None,
        )

    def _acknowledge(
        self,
        session: Session,
        message: InboundMessage,
        ticket: Ticket,
        queue: Queue | None,
        address: str,
        now: datetime,
    ) -> bool:
        """Queue the answer that gives the resident their reference, in the same transaction.

        Never for automatic mail (no loops), never more than ACKS_PER_HOUR to one address.
        """
        acknowledger = self.acknowledgers.get(ticket.channel)
        if acknowledger is None or message.automatic or queue is None:
            return False
        since = now - timedelta(hours=1)
        # Found through the contact's tickets (both indexed), never by scanning every message:
        # an acknowledgement is queued with the ticket it announces, so both are recent.
        recent = session.scalar(
            select(func.count())
            .select_from(Message)
            .join(Ticket, col(Ticket.id) == col(Message.ticket_id))
            .where(
                Ticket.contact_id == ticket.contact_id,
                col(Ticket.created_at) > since,
                Message.kind == "acknowledgement",
                Message.address == address,
                col(Message.created_at) > since,
            )
        )
        if (recent or 0) >= ACKS_PER_HOUR:
            log.info("acknowledgement to %s skipped: %d in the last hour", ticket.reference, recent)
            return False
        contact = session.get_one(Contact, ticket.contact_id)
        content = acknowledger(
            AckRequest(
                reference=ticket.reference,
                channel=ticket.channel,
                language=ticket.language,
                contact_name=contact.name,
                queue_name=queue.name,
                subject=ticket.subject,
            )
        )
        if content is None:
            return False
        try:
            queue_outbound(
                session,
                ticket=ticket,
                body=content.body,
                subject=content.subject,
                author_id=None,
                to=address,
                kind="acknowledgement",
                automatic=True,
            )
        except ReplyRefused as refused:
            log.info("no acknowledgement for %s: %s", ticket.reference, refused)
            return False
        return True

    def _mark_raw(
        self,
        session: Session,
        raw_id: int | None,
        status: str,
        message_id: int | None,
        now: datetime,
    ) -> None:
        if raw_id is None:
            return
        session.execute(
            update(RawInbound)
            .where(col(RawInbound.id) == raw_id)
            .values(
                status=status,
                message_id=message_id,
                error=None,
                attempts=RawInbound.attempts + 1,
                processed_at=now,
            )
        )
