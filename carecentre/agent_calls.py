"""Click-to-call: an agent calls a resident back from a ticket.

The phone channel places the call (the agent's phone rings first, then the resident's); this
module keeps its record. :meth:`AgentCalls.prepare` checks that the agent may see the ticket
(the same rule as the JSON API: one they may not see does not exist) and that both numbers are
known, and stores the call's row before Twilio is asked to dial. :meth:`AgentCalls.started` logs
the call on the ticket as an outbound voice message; the status callback later writes its
outcome and duration into that message (:meth:`AgentCalls.log_outcome`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col, select

from carecentre import events
from carecentre.access import Principal
from carecentre.api.errors import ApiError
from carecentre.api.tickets import visible_ticket
from carecentre.call_log import locked_call
from carecentre.calls import Call, CallDirection
from carecentre.coltypes import utcnow
from carecentre.contract import Channel, IdentityKind
from carecentre.db import Database
from carecentre.delivery import set_delivery
from carecentre.events import EventBus
from carecentre.identities import InvalidAddress, normalize_phone
from carecentre.models import Agent, ContactIdentity, Message, Ticket
from carecentre.states import DeliveryStatus, Direction


@dataclass(frozen=True, slots=True)
class CallPlan:
    """Who to ring first (the agent), who to connect them to (the resident)."""

    call_id: int
    reference: str
    agent_name: str
    agent_phone: str
    resident_phone: str


@dataclass(frozen=True, slots=True)
class BridgeTarget:
    resident_phone: str
    reference: str


async def _resident_phone(session: AsyncSession, contact_id: int) -> str | None:
    # The latest phone the resident used; SMS opt-out is about texts, not calls.
    return await session.scalar(
        select(ContactIdentity.address)
        .where(
            ContactIdentity.contact_id == contact_id,
            ContactIdentity.kind == IdentityKind.PHONE,
        )
        .order_by(col(ContactIdentity.id).desc())
        .limit(1)
    )


def _started(session: Session, call_id: int, call_sid: str, body: str, agent_id: int) -> int | None:
    call = session.get_one(Call, call_id)
    if call.message_id is not None:
        return call.message_id
    assert call.ticket_id is not None
    ticket = session.get_one(Ticket, call.ticket_id)
    now = utcnow()
    call.call_sid = call_sid
    call.updated_at = now
    message = Message(
        ticket_id=call.ticket_id,
        direction=Direction.OUTBOUND,
        channel=Channel.VOICE,
        external_id=call_sid,
        address=call.number,
        body_text=body,
        author_id=agent_id,
        kind="call",
        delivery_status=DeliveryStatus.SENT,
        meta={"call_sid": call_sid},
        created_at=now,
        sent_at=now,
    )
    session.add(message)
    session.flush()
    call.message_id = message.id
    ticket.updated_at = now
    events.record_sync(
        session,
        "message.created",
        {
            "reference": ticket.reference,
            "message_id": message.id,
            "direction": "outbound",
            "channel": Channel.VOICE.value,
            "preview": " ".join(body.split())[:140],
            "delivery_status": DeliveryStatus.SENT.value,
            "automatic": False,
        },
        ticket_id=ticket.id,
        queue_id=ticket.queue_id,
    )
    return message.id


def _log_outcome(
    session: Session, call_sid: str, body: str, status: DeliveryStatus, answered: bool
) -> bool:
    call = locked_call(session, call_sid)
    if call is None or call.message_id is None:
        return False
    message = session.get_one(Message, call.message_id)
    if message.delivery_status is not DeliveryStatus.SENT:
        return False  # logged already: the status callback came twice
    message.body_text = body
    set_delivery(session, message, status)
    ticket = session.get_one(Ticket, message.ticket_id)
    if answered and ticket.first_response_at is None:
        # Speaking with the resident answers them as much as a written reply does.
        ticket.first_response_at = utcnow()
    ticket.updated_at = utcnow()
    return True


class AgentCalls:
    """Click-to-call's record: the call row, and its log message on the ticket."""

    def __init__(self, db: Database, bus: EventBus, *, region: str = "CA") -> None:
        self.db = db
        self.bus = bus
        self.region = region

    async def prepare(self, principal: Principal, reference: str) -> CallPlan:
        """Store the call about to be placed; ``ApiError`` 404 or 409 when it cannot be."""
        async with self.db.write() as session:
            ticket = await visible_ticket(session, principal, reference)
            agent = await session.get_one(Agent, principal.agent_id)
            try:
                agent_phone = normalize_phone(agent.phone or "", self.region)
            except InvalidAddress:
                raise ApiError(
                    409,
                    "you have no valid phone number on file for CareCentre to ring first; "
                    "ask an administrator to add one",
                    code="no_agent_phone",
                ) from None
            resident = await _resident_phone(session, ticket.contact_id)
            if resident is None:
                raise ApiError(
                    409, "the ticket's resident has no phone number to call", code="no_phone"
                )
            call = Call(
                direction=CallDirection.CLICK_TO_CALL,
                number=resident,
                ticket_id=ticket.id,
                agent_id=agent.id,
                path=[f"requested by {agent.name}"],
            )
            session.add(call)
            await session.flush()
            assert call.id is not None
            return CallPlan(call.id, ticket.reference, agent.name, agent_phone, resident)

    async def started(self, plan: CallPlan, call_sid: str, body: str, agent_id: int) -> int | None:
        """Twilio accepted the call: log it on the ticket; returns the log message's id."""
        message_id = await self.db.run_write(
            lambda session: _started(session, plan.call_id, call_sid, body, agent_id)
        )
        self.bus.notify()
        return message_id

    async def failed(self, call_id: int, reason: str) -> None:
        """Twilio did not accept the call: nothing rang; the row says why."""

        def record(session: Session) -> None:
            call = session.get_one(Call, call_id)
            call.status = "failed"
            call.path = [*call.path, f"not placed: {reason}"[:200]]
            call.ended_at = call.updated_at = utcnow()

        await self.db.run_write(record)

    async def bridge_target(self, call_id: int) -> BridgeTarget | None:
        """Whom the agent's answered call is to be connected to."""
        async with self.db.read() as session:
            call = await session.get(Call, call_id)
            if call is None or call.direction is not CallDirection.CLICK_TO_CALL:
                return None
            if call.ticket_id is None or call.ended_at is not None:
                return None
            ticket = await session.get_one(Ticket, call.ticket_id)
            return BridgeTarget(call.number, ticket.reference)

    async def dial_result(self, call_id: int, status: str, duration: int | None) -> None:
        """How the resident's leg ended (Twilio's DialCallStatus)."""

        def record(session: Session) -> None:
            call = session.get_one(Call, call_id)
            call.outcome = status[:16]
            call.outcome_duration = duration
            call.updated_at = utcnow()

        await self.db.run_write(record)

    async def log_outcome(
        self, call_sid: str, body: str, status: DeliveryStatus, *, answered: bool
    ) -> bool:
        """Write the call's outcome into its log message (once; a repeat changes nothing)."""
        changed = await self.db.run_write(
            lambda session: _log_outcome(session, call_sid, body, status, answered)
        )
        if changed:
            self.bus.notify()
        return changed
