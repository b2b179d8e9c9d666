"""The inbound pipeline: every channel's messages become tickets here, and only here.

``receive()`` stores the payload exactly as it arrived, before anything else can go wrong; the
channel's parser turns it into an :class:`InboundMessage`; ``ingest()`` then does, in one
transaction: dedupe on (channel, external id) by a unique constraint, resolve the contact, thread,
create or append to the ticket, route, record events. Events are published after the commit. A
payload that fails to parse stays stored with its error, and ``replay()`` runs it again.
A message answered as soon as it is stored (carecentre.backlog) is filed by
``ingest_accepted()``, several in one commit, each in its own unit of work.

Every message of every channel passes here, on the one SQLite writer, so the transaction is
written with plain statements built once (their compiled form is cached) and rows read as plain
values: no ORM object is built, tracked or flushed for a message, and each row is written once,
in its final state (a new ticket with its due time, the raw payload's one update with its fate).
Nothing read is kept between messages: rules, queues and SLA policies are read in the
transaction, so a supervisor's change applies to the next message, from any process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import nh3
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from carecentre import events
from carecentre.attachments import AttachmentStore
from carecentre.coltypes import utcnow
from carecentre.contacts import Resolved, resolve_contact_id
from carecentre.contract import AckContent, AckRequest, Channel, InboundMessage, ParseError
from carecentre.db import Database, inserted_id
from carecentre.events import EventBus
from carecentre.hours import BusinessCalendar
from carecentre.identities import InvalidAddress, normalize
from carecentre.metrics import Metrics
from carecentre.models import Attachment, Message, RawInbound, Ticket
from carecentre.outbox import ReplyRefused, queue_automatic
from carecentre.queue_hours import QueueCalendars
from carecentre.routing import QueueRow
from carecentre.states import DeliveryStatus, Direction, TicketStatus
from carecentre.threads import ThreadMatch, attach_keys, find_thread
from carecentre.ticket_routing import Routed, plan_due, route_new, settle_new
from carecentre.tickets import TicketRow, insert_ticket, receive_on

log = logging.getLogger(__name__)

Parser = Callable[[bytes, Mapping[str, Any]], InboundMessage]
Acknowledger = Callable[[AckRequest], AckContent | None]
Followup = Callable[[InboundMessage, "IngestResult"], None]

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


_raw: Table = RawInbound.__table__  # type: ignore[attr-defined]
_message: Table = Message.__table__  # type: ignore[attr-defined]
_attachment: Table = Attachment.__table__  # type: ignore[attr-defined]
_ticket: Table = Ticket.__table__  # type: ignore[attr-defined]

# Every statement of the hot path is built once: used again, it finds its compiled form in the
# cache straight away, and no ORM object is built, flushed or tracked for a message.
_INSERT_RAW = _raw.insert()
_INSERT_MESSAGE = _message.insert()
_INSERT_ATTACHMENT = _attachment.insert()
_SETTLE_RAW = (
    update(_raw)
    .where(_raw.c.id == bindparam("raw_id"))
    .values(
        status=bindparam("new_status"),
        message_id=bindparam("new_message_id"),
        error=bindparam("new_error"),
        attempts=_raw.c.attempts + 1,
        processed_at=bindparam("now"),
    )
)
_EXISTING = (
    select(_message.c.id, _message.c.ticket_id, _ticket.c.reference, _ticket.c.contact_id)
    .join_from(_message, _ticket, _ticket.c.id == _message.c.ticket_id)
    .where(
        _message.c.channel == bindparam("channel"),
        _message.c.external_id == bindparam("external_id"),
    )
)
# Found through the contact's tickets (both indexed), never by scanning every message: an
# acknowledgement is queued with the ticket it announces, so both are recent.
_RECENT_ACKS = (
    select(func.count())
    .select_from(_message.join(_ticket, _ticket.c.id == _message.c.ticket_id))
    .where(
        _ticket.c.contact_id == bindparam("contact_id"),
        _ticket.c.created_at > bindparam("since"),
        _message.c.kind == "acknowledgement",
        _message.c.address == bindparam("address"),
        _message.c.created_at > bindparam("since"),
    )
)


def _raw_values(
    channel: Channel,
    payload: bytes,
    content_type: str,
    kind: str,
    meta: Mapping[str, Any] | None,
    *,
    received_at: datetime,
    error: str | None = None,
    status: str = "received",
) -> dict[str, Any]:
    """A raw row as received; with ``error``, already settled as failed (kept unparsed)."""
    return {
        "channel": channel,
        "kind": kind,
        "content_type": content_type[:255],
        "payload": payload,
        "meta": dict(meta or {}),
        "status": status if error is None else "failed",
        "error": None if error is None else error[:2000],
        "message_id": None,
        "attempts": 0 if error is None else 1,
        "received_at": received_at,
        "processed_at": None if error is None else received_at,
    }


def _insert_raw(session: Session, values: Mapping[str, Any]) -> int:
    raw_id: int = inserted_id(session.connection().execute(_INSERT_RAW, values))
    return raw_id


def _settle_raw(
    conn: Connection,
    raw_id: int,
    status: str,
    message_id: int | None,
    now: datetime,
    error: str | None = None,
) -> None:
    conn.execute(
        _SETTLE_RAW,
        {
            "raw_id": raw_id,
            "new_status": status,
            "new_message_id": message_id,
            "new_error": error[:2000] if error else None,
            "now": now,
        },
    )


def _internal(error: BaseException) -> str:
    return f"internal error: {type(error).__name__}: {error}"


@dataclass(frozen=True, slots=True)
class _Retry:
    """An accepted message's unit of work lost a race to a concurrent writer (PostgreSQL)."""


@dataclass(frozen=True, slots=True)
class _Failed:
    """An accepted message's unit of work failed; its payload is marked failed, with why."""

    error: BaseException


def _fail_raw(session: Session, *, raw_id: int, error: str) -> None:
    _settle_raw(session.connection(), raw_id, "failed", None, utcnow(), error)


def _kept_raw(session: Session, problem: Exception, *, raw_id: int) -> _Retry | _Failed:
    """In place of an accepted message's failed unit of work: the payload stays stored,
    marked failed (replayable), unless a concurrent writer won a race and it is to be run
    again."""
    if isinstance(problem, DBAPIError) and _retryable(problem):
        return _Retry()
    _fail_raw(session, raw_id=raw_id, error=_internal(problem))
    return _Failed(problem)


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
        self.followups: dict[Channel, Followup] = {}
        # Called after a commit that queued outbound messages (the dispatcher's wake-up).
        self.on_queued: Callable[[], None] | None = None

    def register_parser(self, channel: Channel, parser: Parser, kind: str = "message") -> None:
        self.parsers[(channel, kind)] = parser

    def register_acknowledger(self, channel: Channel, acknowledger: Acknowledger) -> None:
        """``acknowledger`` words the answer to a resident's first message on ``channel``."""
        self.acknowledgers[channel] = acknowledger

    def register_followup(self, channel: Channel, followup: Followup) -> None:
        """``followup`` is told of every message of ``channel`` once it is filed (a media
        fetcher's wake-up, say); it must not block."""
        self.followups[channel] = followup

    async def store_raw(
        self,
        channel: Channel,
        payload: bytes,
        *,
        content_type: str,
        kind: str = "message",
        meta: Mapping[str, Any] | None = None,
        status: str = "received",
    ) -> int:
        """Keep the payload exactly as received; committed before anything else happens.

        ``status`` ``"accepted"`` marks a payload whose message the backlog (carecentre.backlog)
        ingests after the sender has had its answer."""
        raw = _raw_values(
            channel, payload, content_type, kind, meta, received_at=utcnow(), status=status
        )
        return await self.db.run_write(lambda session: _insert_raw(session, raw))

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
        raw = _raw_values(
            channel, payload, content_type, kind, meta, received_at=utcnow(), error=error
        )
        raw_id = await self.db.run_write(lambda session: _insert_raw(session, raw))
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
        raw = _raw_values(channel, payload, content_type, kind, meta, received_at=utcnow())
        try:
            prepared = await self._prepare(message)
        except (ParseError, InvalidAddress) as error:
            return await self.keep_unparsed(
                channel, payload, str(error), content_type=content_type, kind=kind, meta=meta
            )

        def job(session: Session) -> tuple[int, IngestResult | None, BaseException | None]:
            raw_id = _insert_raw(session, raw)
            return raw_id, self._ingest(session, *prepared, raw_id), None

        def kept(
            session: Session, problem: Exception
        ) -> tuple[int, IngestResult | None, BaseException | None]:
            # The ingest was undone; the payload is stored all the same.
            if isinstance(problem, DBAPIError):
                if not _retryable(problem):
                    raise problem
                return _insert_raw(session, raw), None, problem
            failed = {**raw, "status": "failed", "error": _internal(problem)[:2000]}
            return (
                _insert_raw(session, {**failed, "attempts": 1, "processed_at": utcnow()}),
                None,
                problem,
            )

        raw_id, result, problem = await self.db.run_write(job, kept)
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
        address = self.check(message)
        with_data = [attachment.data for attachment in message.attachments if attachment.data]
        blobs = iter(await self.store.put_many(with_data))
        stored = [
            (attachment, next(blobs) if attachment.data else None)
            for attachment in message.attachments
        ]
        return message, address, stored

    def check(self, message: InboundMessage) -> str:
        """What must hold of a parsed message before it can be filed; returns the sender's
        normalized address. Raises ParseError or InvalidAddress (nothing is written)."""
        address = normalize(message.identity_kind, message.sender, region=self.region)
        if not message.external_id or len(message.external_id) > 500:
            raise ParseError("the provider's message id is missing or longer than 500 characters")
        return address

    def _after(self, message: InboundMessage, result: IngestResult) -> None:
        self.metrics.ingested.labels(
            message.channel.value, "duplicate" if result.duplicate else "stored"
        ).inc()
        if not result.duplicate:
            self.bus.notify()
            followup = self.followups.get(message.channel)
            if followup is not None:
                followup(message, result)
        if result.acknowledged and self.on_queued is not None:
            self.on_queued()

    async def ingest_accepted(
        self, accepted: Sequence[tuple[int, InboundMessage]]
    ) -> list[Received]:
        """File messages whose payloads are stored as accepted, ``(raw id, message)``, in this
        order: on SQLite in one commit. Each is settled (ingested, duplicate or failed with
        why) in its own unit of work, so one that fails leaves the others filed."""
        units: list[tuple[Callable[[Session], Any], Any]] = []
        ready: list[tuple[int, InboundMessage, str | None]] = []
        for raw_id, message in accepted:
            try:
                prepared = await self._prepare(message)
            except (ParseError, InvalidAddress) as error:
                units.append((partial(_fail_raw, raw_id=raw_id, error=str(error)), None))
                ready.append((raw_id, message, str(error)))
                continue
            units.append(
                (
                    partial(self._ingest_raw, prepared=prepared, raw_id=raw_id),
                    partial(_kept_raw, raw_id=raw_id),
                )
            )
            ready.append((raw_id, message, None))
        outcomes = await self.db.run_writes(units)
        received = []
        for (raw_id, message, refused), outcome in zip(ready, outcomes, strict=True):
            received.append(await self._settled(raw_id, message, refused, outcome))
        return received

    def _ingest_raw(
        self,
        session: Session,
        *,
        prepared: tuple[InboundMessage, str, list[tuple[Any, tuple[str, int] | None]]],
        raw_id: int,
    ) -> IngestResult:
        return self._ingest(session, *prepared, raw_id)

    async def _settled(
        self, raw_id: int, message: InboundMessage, refused: str | None, outcome: object
    ) -> Received:
        """What became of one accepted message, with its log line and metrics."""
        channel = message.channel
        if isinstance(outcome, IngestResult):
            self._after(message, outcome)
            return Received(raw_id, result=outcome)
        if refused is not None:
            log.warning("inbound %s #%d kept unparsed: %s", channel.value, raw_id, refused)
            self.metrics.raw_failed.labels(channel.value).inc()
            return Received(raw_id, error=refused)
        if isinstance(outcome, _Retry):
            # A concurrent writer won a race (PostgreSQL): go round again, on its own.
            try:
                return Received(raw_id, result=await self.ingest(message, raw_id=raw_id))
            except Exception as error:
                outcome = error
                await self._mark_failed(raw_id, _internal(error))
        problem = outcome.error if isinstance(outcome, _Failed) else outcome
        assert isinstance(problem, BaseException)
        log.error(
            "inbound %s #%d kept after an internal error", channel.value, raw_id, exc_info=problem
        )
        self.metrics.raw_failed.labels(channel.value).inc()
        return Received(raw_id, error=_internal(problem))

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
        conn = session.connection()
        now = utcnow()
        existing = conn.execute(
            _EXISTING, {"channel": message.channel, "external_id": message.external_id}
        ).first()
        if existing is not None:
            if raw_id is not None:
                _settle_raw(conn, raw_id, "duplicate", existing.id, now)
            return IngestResult(
                existing.id, existing.ticket_id, existing.reference, existing.contact_id,
                duplicate=True,
            )  # fmt: skip

        contact = resolve_contact_id(
            conn,
            kind=message.identity_kind,
            address=address,
            name=message.sender_name,
            now=now,
            # Serialize messages from one address, so two first texts cannot open two tickets.
            lock=self.db.is_postgres,
        )
        contact_id = contact.contact_id
        match = find_thread(conn, message, contact_id)
        routed: Routed | None = None
        if match.ticket is None:
            routed = route_new(
                conn,
                message,
                address=address,
                default_slug=self.default_queue,
                calendars=self.calendars,
                now=now,
            )
            ticket = self._create(conn, message, contact_id, match, routed, now)
        else:
            ticket = receive_on(conn, match.ticket, now)
        message_id = self._store_message(conn, message, address, stored, ticket.id, raw_id, now)
        attach_keys(conn, ticket.id, message.register_keys, now=now)
        if raw_id is not None:
            _settle_raw(conn, raw_id, "ingested", message_id, now)

        linked = match.closed.reference if match.closed else None
        reopened = match.ticket is not None and match.ticket.status is TicketStatus.RESOLVED
        recorded = [
            self._ticket_event(ticket, routed, linked, reopened),
            events.NewEvent(
                "message.created",
                {
                    "reference": ticket.reference,
                    "message_id": message_id,
                    "direction": Direction.INBOUND.value,
                    "channel": message.channel.value,
                    "preview": " ".join(message.body_text.split())[:140],
                    "automatic": message.automatic,
                },
                ticket_id=ticket.id,
                queue_id=ticket.queue_id,
            ),
        ]
        acknowledgement = None
        if routed is not None:
            acknowledgement = self._acknowledge(conn, message, ticket, routed.queue, contact, now)
        if acknowledgement is not None:
            recorded.append(acknowledgement)
        # Last: on PostgreSQL this takes the events lock, held until the commit.
        events.insert_events(session, recorded)
        return IngestResult(
            message_id,
            ticket.id,
            ticket.reference,
            contact_id,
            acknowledged=acknowledgement is not None,
            created=routed is not None,
            reopened=reopened,
            linked_to=linked,
        )

    def _create(
        self,
        conn: Connection,
        message: InboundMessage,
        contact_id: int,
        match: ThreadMatch,
        routed: Routed,
        now: datetime,
    ) -> TicketRow:
        """A new ticket where routing sent it, written once with its due time, then its
        routing record, tags and SLA clock."""
        planned = plan_due(conn, routed, self.calendars, now)
        ticket = insert_ticket(
            conn,
            contact_id=contact_id,
            queue_id=routed.queue.id,
            queue_slug=routed.queue.slug,
            channel=message.channel,
            subject=_subject(message),
            linked_ticket_id=match.closed.id if match.closed else None,
            now=now,
            due_at=planned.due_at,
            language=message.language or self.language,
            priority=routed.priority,
        )
        settle_new(conn, ticket, routed, planned, now)
        return ticket

    @staticmethod
    def _store_message(
        conn: Connection,
        message: InboundMessage,
        address: str,
        stored: list[tuple[Any, tuple[str, int] | None]],
        ticket_id: int,
        raw_id: int | None,
        now: datetime,
    ) -> int:
        """The inbound message and its attachments' rows; returns the message's id."""
        message_id: int = inserted_id(
            conn.execute(
                _INSERT_MESSAGE,
                {
                    "ticket_id": ticket_id,
                    "direction": Direction.INBOUND,
                    "channel": message.channel,
                    "external_id": message.external_id,
                    "address": address,
                    "subject": message.subject[:500] if message.subject else None,
                    "body_text": message.body_text,
                    "body_html": message.body_html,
                    "full_text": message.full_text,
                    "automatic": message.automatic,
                    "kind": "message",
                    "delivery_status": DeliveryStatus.RECEIVED,
                    "raw_id": raw_id,
                    "meta": dict(message.metadata),
                    "created_at": now,
                },
            )
        )
        if stored:
            conn.execute(
                _INSERT_ATTACHMENT,
                [
                    {
                        "message_id": message_id,
                        "filename": attachment.filename[:255] or "attachment",
                        "content_type": attachment.content_type[:255],
                        "sha256": blob[0] if blob else None,
                        "size": blob[1] if blob else None,
                        "url": attachment.url,
                        "inline": attachment.inline,
                        "content_id": attachment.content_id,
                        "fetch_attempts": 0,
                        "created_at": now,
                    }
                    for attachment, blob in stored
                ],
            )
        return message_id

    @staticmethod
    def _ticket_event(
        ticket: TicketRow, routed: Routed | None, linked: str | None, reopened: bool
    ) -> events.NewEvent:
        data: dict[str, Any] = {
            "reference": ticket.reference,
            "status": ticket.status.value,
            "queue": ticket.queue_slug,
            "channel": ticket.channel.value,
            "subject": ticket.subject,
            "priority": ticket.priority.value,
            "assignee_id": ticket.assignee_id,
            "due_at": ticket.due_at.isoformat() if ticket.due_at else None,
        }
        if routed is not None:
            data.update(linked_to=linked, routed_by=routed.label)
            kind = "ticket.created"
        else:
            data["reopened"] = reopened
            kind = "ticket.updated"
        return events.NewEvent(kind, data, ticket_id=ticket.id, queue_id=ticket.queue_id)

    def _acknowledge(
        self,
        conn: Connection,
        message: InboundMessage,
        ticket: TicketRow,
        queue: QueueRow,
        contact: Resolved,
        now: datetime,
    ) -> events.NewEvent | None:
        """Queue the answer that gives the resident their new ticket's reference, in the same
        transaction; returns its event, for the caller to record with its own.

        Never for automatic mail (no loops), never more than ACKS_PER_HOUR to one address.
        """
        acknowledger = self.acknowledgers.get(ticket.channel)
        if acknowledger is None or message.automatic:
            return None
        # A contact created by this very message has had nothing acknowledged yet.
        recent: int | None = 0
        if not contact.created:
            recent = conn.execute(
                _RECENT_ACKS,
                {
                    "contact_id": ticket.contact_id,
                    "since": now - timedelta(hours=1),
                    "address": contact.address,
                },
            ).scalar()
        if (recent or 0) >= ACKS_PER_HOUR:
            log.info("acknowledgement to %s skipped: %d in the last hour", ticket.reference, recent)
            return None
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
            return None
        try:
            return queue_automatic(
                conn,
                ticket=ticket,
                body=content.body,
                subject=content.subject,
                to=contact.address,
                kind="acknowledgement",
                now=now,
                known=(contact.kind, contact.address, contact.opted_out_at),
            )
        except ReplyRefused as refused:
            log.info("no acknowledgement for %s: %s", ticket.reference, refused)
            return None
