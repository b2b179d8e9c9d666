"""Delivery status of outbound messages: moved forward only, each change an event.

Providers report out of order (Twilio's callbacks can arrive "delivered" before "sent"); the
channel ranks its provider's statuses, and a change that would move a message backwards is
ignored here rather than refused, since the later report already said more.

The hot paths (the outbox recording a send, a provider's report) are single guarded UPDATEs: the
status only moves when the row's current status may move to the new one, checked by the database
in the same statement, so two reports racing each other change the message once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Row, Table, bindparam, func, or_, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from carecentre import events
from carecentre.coltypes import UTCDateTime, utcnow
from carecentre.contract import Channel
from carecentre.db import Database
from carecentre.events import EventBus
from carecentre.models import ContactIdentity, Message, Ticket
from carecentre.states import DeliveryStatus, IllegalTransition, check_delivery_transition

_message: Table = Message.__table__  # type: ignore[attr-defined]
_ticket: Table = Ticket.__table__  # type: ignore[attr-defined]
_identity: Table = ContactIdentity.__table__  # type: ignore[attr-defined]


def _sources(target: DeliveryStatus) -> tuple[DeliveryStatus, ...]:
    """The statuses a message may move to ``target`` from."""
    sources = []
    for current in DeliveryStatus:
        try:
            check_delivery_transition(current, target)
        except IllegalTransition:
            continue
        sources.append(current)
    return tuple(sources)


SOURCES: Mapping[DeliveryStatus, tuple[DeliveryStatus, ...]] = {
    status: _sources(status) for status in DeliveryStatus
}
# Where a message is while the outbox holds it: queued (a message claimed before claims stopped
# marking messages may still say "sending"). Every outcome of a send starts from one of these.
UNSENT = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)

_FIND = select(_message.c.id).where(
    _message.c.channel == bindparam("channel"), _message.c.external_id == bindparam("provider_id")
)
_OPT_OUT = (
    update(_identity)
    .where(
        _identity.c.address
        == select(_message.c.address)
        .where(
            _message.c.channel == bindparam("channel"),
            _message.c.external_id == bindparam("provider_id"),
        )
        .scalar_subquery(),
        _identity.c.opted_out_at.is_(None),
    )
    .values(opted_out_at=bindparam("now"))
)


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
    _status_event(
        session,
        status,
        reference=ticket.reference,
        message_id=message.id,
        error=message.delivery_error,
        code=message.delivery_code,
        ticket_id=ticket.id,
        queue_id=ticket.queue_id,
    )


# What a move to a status sets besides the status itself, as :func:`set_delivery` sets it.
_STAMPS: Mapping[DeliveryStatus, Mapping[str, Any]] = {
    DeliveryStatus.SENT: {"sent_at": bindparam("stamp", type_=UTCDateTime)},
    DeliveryStatus.DELIVERED: {
        "delivered_at": bindparam("stamp", type_=UTCDateTime),
        "sent_at": func.coalesce(_message.c.sent_at, bindparam("stamp", type_=UTCDateTime)),
    },
}
# The message as it now is, and its ticket's reference and queue for the event.
_RETURNING = (
    _message.c.id,
    _message.c.ticket_id,
    _message.c.delivery_error,
    _message.c.delivery_code,
    select(_ticket.c.reference)
    .where(_ticket.c.id == _message.c.ticket_id)
    .scalar_subquery()
    .label("reference"),
    select(_ticket.c.queue_id)
    .where(_ticket.c.id == _message.c.ticket_id)
    .scalar_subquery()
    .label("queue_id"),
)


def _from(sources: Iterable[DeliveryStatus]) -> Any:
    """The guard: the message's current status is one of ``sources`` (none counts as queued)."""
    sources = tuple(sources)
    allowed = _message.c.delivery_status.in_(sources)
    if DeliveryStatus.QUEUED in sources:
        return or_(allowed, _message.c.delivery_status.is_(None))
    return allowed


@lru_cache(maxsize=128)
def _move(by_provider_id: bool, status: DeliveryStatus, columns: frozenset[str]) -> Any:
    """The guarded UPDATE that moves one message to ``status``, built once per shape.

    The message is found by id (``by_message_id``, while the outbox holds it) or by the
    provider's id (``by_channel``, ``by_provider_id``); each of ``columns`` is set from the
    parameter ``set_<column>`` (``None`` clears it); ``stamp`` is the time of the move.
    """
    found: tuple[Any, ...]
    if by_provider_id:
        found = (
            _message.c.channel == bindparam("by_channel"),
            _message.c.external_id == bindparam("by_provider_id"),
            _from(SOURCES[status]),
        )
    else:
        found = (_message.c.id == bindparam("by_message_id"), _from(UNSENT))
    values: dict[str, Any] = {"delivery_status": status, **_STAMPS.get(status, {})}
    values.update({name: bindparam(f"set_{name}") for name in sorted(columns)})
    return update(_message).where(*found).values(values).returning(*_RETURNING)


def _changes(
    error: str | None, code: str | None, *, clear_error: bool = False
) -> dict[str, str | None]:
    """The error columns a move sets: only what the report says (or both cleared)."""
    if clear_error:
        return {"delivery_error": None, "delivery_code": None}
    changes: dict[str, str | None] = {}
    if error is not None:
        changes["delivery_error"] = error[:2000]
    if code is not None:
        changes["delivery_code"] = code[:64]
    return changes


def _status_event(
    session: Session,
    status: DeliveryStatus,
    *,
    reference: str,
    message_id: int | None,
    error: str | None,
    code: str | None,
    ticket_id: int | None,
    queue_id: int | None,
) -> None:
    """The ``message.status`` event the dashboards show a delivery tick (or failure) from."""
    events.record_sync(
        session,
        "message.status",
        {
            "reference": reference,
            "message_id": message_id,
            "delivery_status": status.value,
            "error": error,
            "code": code,
        },
        ticket_id=ticket_id,
        queue_id=queue_id,
    )


def _announce(session: Session, row: Row[Any], status: DeliveryStatus) -> None:
    """The ``message.status`` event for a message just moved (``row``: see ``_RETURNING``)."""
    _status_event(
        session,
        status,
        reference=row.reference,
        message_id=row.id,
        error=row.delivery_error,
        code=row.delivery_code,
        ticket_id=row.ticket_id,
        queue_id=row.queue_id,
    )


def record_outcome(
    session: Session,
    message_id: int,
    status: DeliveryStatus,
    *,
    error: str | None = None,
    code: str | None = None,
    clear_error: bool = False,
    external_id: str | None = None,
    connection: Connection | None = None,
) -> bool:
    """What became of a send, for a message the outbox holds (queued, or sending).

    ``status`` may be ``queued`` again (a retry: the error is kept on the message and announced),
    ``sent``, ``delivered`` or ``failed``. ``clear_error`` drops the error of an earlier attempt;
    ``external_id`` is the provider's id for the message; ``connection`` is the session's, when
    the caller has it already. Returns False, changing nothing, when the message is no longer
    waiting on a send.
    """
    changes: dict[str, Any] = _changes(error, code, clear_error=clear_error)
    if external_id:
        changes["external_id"] = external_id
    statement = _move(False, status, frozenset(changes))
    parameters = {"by_message_id": message_id, "stamp": utcnow()}
    parameters.update({f"set_{name}": value for name, value in changes.items()})
    row = (connection or session.connection()).execute(statement, parameters).first()
    if row is None:
        return False
    _announce(session, row, status)
    return True


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
    """A delivery report from the provider about the message it calls ``provider_id``.

    One guarded UPDATE: the status moves only when it moves forward from the stored one, so the
    same report delivered twice at once (or an earlier one arriving late) changes nothing.
    """
    connection = session.connection()
    key = {"channel": channel, "provider_id": provider_id}
    if opted_out:
        connection.execute(_OPT_OUT, {**key, "now": utcnow()})
    changes = _changes(error, code)
    statement = _move(True, status, frozenset(changes))
    parameters = {"by_channel": channel, "by_provider_id": provider_id, "stamp": utcnow()}
    parameters.update({f"set_{name}": value for name, value in changes.items()})
    row = connection.execute(statement, parameters).first()
    if row is not None:
        _announce(session, row, status)
        return StatusOutcome(found=True, changed=True, message_id=row.id)
    message_id = connection.execute(_FIND, key).scalar()
    if message_id is None:
        return StatusOutcome(found=False, changed=False)
    return StatusOutcome(found=True, changed=False, message_id=message_id)


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
