"""What the phone channel stores about a call, beyond the messages it ingests.

Plain functions on a synchronous session (run through ``Database.run_write``), wrapped by
:class:`CallLog` for the channel:

- the call's row (:class:`carecentre.calls.Call`): a step appended at each turn of the menu, the
  final status and duration from Twilio's status callback;
- the status of a request whose reference a caller keys in (only the status: see
  :func:`reference_status`);
- amendments to messages the channel ingested earlier: a voicemail's transcript arriving after
  its recording (or the other way round), a callback request's due time on its ticket.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import select

from carecentre import events
from carecentre.calls import Call, CallDirection
from carecentre.coltypes import utcnow
from carecentre.db import Database
from carecentre.events import EventBus
from carecentre.models import Message, Ticket
from carecentre.references import parse_reference
from carecentre.residents import StatusView

# A caller stuck in a loop must not grow the row without bound; the first steps tell the story.
MAX_STEPS = 60
MAX_STEP_LENGTH = 200


@dataclass(frozen=True, slots=True)
class CallView:
    """A call's row, as plain values."""

    id: int
    call_sid: str | None
    direction: CallDirection
    number: str
    language: str | None
    queue: str | None
    topic: str | None
    reference: str | None
    path: tuple[str, ...]
    status: str | None
    duration: int | None
    outcome: str | None
    outcome_duration: int | None
    ticket_id: int | None
    agent_id: int | None
    message_id: int | None


def view_of(call: Call) -> CallView:
    assert call.id is not None
    return CallView(
        call.id,
        call.call_sid,
        call.direction,
        call.number,
        call.language,
        call.queue,
        call.topic,
        call.reference,
        tuple(call.path),
        call.status,
        call.duration,
        call.outcome,
        call.outcome_duration,
        call.ticket_id,
        call.agent_id,
        call.message_id,
    )


def locked_call(session: Session, call_sid: str) -> Call | None:
    """The call's row, locked until commit on PostgreSQL (a callback can race the last step)."""
    query = select(Call).where(Call.call_sid == call_sid)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)


def _call(session: Session, call_sid: str, number: str) -> Call:
    call = locked_call(session, call_sid)
    if call is None:
        call = Call(call_sid=call_sid, direction=CallDirection.INBOUND, number=number)
        session.add(call)
    return call


def record_steps(
    session: Session,
    call_sid: str,
    *,
    number: str,
    steps: Sequence[str],
    changes: Mapping[str, str | None],
) -> CallView:
    """Append ``steps`` to the call's path and apply ``changes`` (language, queue, topic,
    reference, number); the row is created at the call's first webhook."""
    call = _call(session, call_sid, number)
    for name, value in changes.items():
        if name not in ("language", "queue", "topic", "reference", "number"):
            raise ValueError(f"not a call field a menu step may change: {name}")
        setattr(call, name, value)
    room = MAX_STEPS - len(call.path)
    if steps and room > 0:
        # A new list: the JSON column only notices assignment.
        call.path = [*call.path, *(step[:MAX_STEP_LENGTH] for step in steps[:room])]
    call.updated_at = utcnow()
    session.flush()
    return view_of(call)


def finish_call(
    session: Session, call_sid: str, *, number: str, status: str, duration: int | None
) -> CallView:
    """Record the final status and duration Twilio reported (idempotent)."""
    call = _call(session, call_sid, number)
    call.status = status[:16]
    if duration is not None:
        call.duration = duration
    now = utcnow()
    call.ended_at = call.ended_at or now
    call.updated_at = now
    session.flush()
    return view_of(call)


def find_call(session: Session, call_sid: str) -> CallView | None:
    call = session.scalar(select(Call).where(Call.call_sid == call_sid))
    return None if call is None else view_of(call)


def reference_status(session: Session, reference: str) -> StatusView | None:
    """The status of the request with this reference, whoever asks.

    Unlike :func:`carecentre.residents.status_for`, this is not limited to the caller's own
    tickets: residents phone from another line (a landline, a relative's phone) as often as from
    the one on file. What it gives is only the reference and its status word, which says
    nothing about the person or the matter; the reference is random and check-digited, so it
    cannot be guessed at the pace of a phone menu. A reference that fails its check digit and
    one that does not exist get the same answer.
    """
    canonical = parse_reference(reference)
    if canonical is None:
        return None
    row = session.execute(
        select(Ticket.reference, Ticket.status).where(Ticket.reference == canonical)
    ).first()
    return None if row is None else StatusView(row.reference, row.status)


def amend_message(
    session: Session,
    message_id: int,
    meta: Mapping[str, str],
    render: Callable[[Mapping[str, Any]], str],
) -> bool:
    """Merge ``meta`` into a message's metadata and re-render its body from the result.

    For what arrives in pieces (a voicemail's recording, then its transcript, in either order,
    each perhaps twice): a piece already there changes nothing, and returns False.
    """
    message = session.get_one(Message, message_id)
    merged = {**message.meta, **meta}
    if merged == message.meta:
        return False
    message.meta = merged
    body = render(merged)
    if body == message.body_text:
        return True
    message.body_text = body
    ticket = session.get_one(Ticket, message.ticket_id)
    events.record_sync(
        session,
        "message.updated",
        {
            "reference": ticket.reference,
            "message_id": message_id,
            "preview": " ".join(body.split())[:140],
        },
        ticket_id=ticket.id,
        queue_id=ticket.queue_id,
    )
    return True


def mark_callback(
    session: Session, message_id: int, *, number: str, due: datetime, created: bool
) -> bool:
    """Mark a message as a callback request and make its ticket due by ``due``.

    A ticket this request opened takes the callback's due time; one that was already due earlier
    keeps its earlier time. Idempotent; returns True when something changed.
    """
    message = session.get_one(Message, message_id)
    if message.kind == "callback_request":
        return False
    message.kind = "callback_request"
    message.meta = {**message.meta, "callback_number": number, "callback_due": due.isoformat()}
    ticket = session.get_one(Ticket, message.ticket_id)
    if created or ticket.due_at is None or due < ticket.due_at:
        ticket.due_at = due
    ticket.updated_at = utcnow()
    events.record_sync(
        session,
        "ticket.updated",
        {
            "reference": ticket.reference,
            "changed": {"due_at": ticket.due_at.isoformat() if ticket.due_at else None},
            "callback_request": message_id,
        },
        ticket_id=ticket.id,
        queue_id=ticket.queue_id,
    )
    return True


class CallLog:
    """The calls' side of the phone channel; every method is one unit of work."""

    def __init__(self, db: Database, bus: EventBus) -> None:
        self.db = db
        self.bus = bus

    async def steps(
        self,
        call_sid: str,
        *,
        number: str,
        steps: Sequence[str],
        changes: Mapping[str, str | None] | None = None,
    ) -> CallView:
        """Add a turn of the menu to the call's row (created at the first turn)."""
        return await self._retrying(
            lambda session: record_steps(
                session, call_sid, number=number, steps=steps, changes=changes or {}
            )
        )

    async def finish(
        self, call_sid: str, *, number: str, status: str, duration: int | None
    ) -> CallView:
        return await self._retrying(
            lambda session: finish_call(
                session, call_sid, number=number, status=status, duration=duration
            )
        )

    async def find(self, call_sid: str) -> CallView | None:
        async with self.db.read() as session:
            return await session.run_sync(lambda sync: find_call(sync, call_sid))

    async def status_of(self, reference: str) -> StatusView | None:
        async with self.db.read() as session:
            return await session.run_sync(lambda sync: reference_status(sync, reference))

    async def amend(
        self,
        message_id: int,
        meta: Mapping[str, str],
        render: Callable[[Mapping[str, Any]], str],
    ) -> bool:
        changed = await self.db.run_write(
            lambda session: amend_message(session, message_id, meta, render)
        )
        if changed:
            self.bus.notify()
        return changed

    async def mark_callback(
        self, message_id: int, *, number: str, due: datetime, created: bool
    ) -> bool:
        changed = await self.db.run_write(
            lambda session: mark_callback(
                session, message_id, number=number, due=due, created=created
            )
        )
        if changed:
            self.bus.notify()
        return changed

    async def _retrying(self, fn: Callable[[Session], CallView]) -> CallView:
        try:
            return await self.db.run_write(fn)
        except IntegrityError:
            # Two webhooks of a new call created its row at once; the other one won: use it.
            return await self.db.run_write(fn)
