"""The ``call`` table: one row per phone call, its path through the menu and its outcome.

A resident's call (``INBOUND``) gets its row at the first webhook and a step appended at each
turn of the menu, so the path is kept even if the caller hangs up mid-menu; the call's final
status and duration arrive with Twilio's status callback. A call an agent places from a ticket
(``CLICK_TO_CALL``) gets its row before Twilio is asked to dial, so the TwiML that connects the
agent to the resident can find the resident's number by the row's id.

The ticket side of a call (its call log, voicemail, callback request) is ordinary messages on a
ticket; this table is the call's own record and the state the menu needs between webhooks.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from carecentre.coltypes import BigId, UTCDateTime, enum_type, utcnow


class CallDirection(StrEnum):
    INBOUND = "inbound"  # a resident called the City's line
    CLICK_TO_CALL = "click_to_call"  # an agent called a resident back from a ticket


def _ref(target: str, *, index: bool = False) -> Any:
    return Field(
        default=None,
        sa_column_args=[sa.ForeignKey(target)],
        sa_type=BigId,
        nullable=True,
        index=index,
    )


def _when(*, nullable: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Call(SQLModel, table=True):
    __tablename__ = "call"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    # Twilio's CallSid; empty only for a click-to-call Twilio has not accepted yet.
    call_sid: str | None = Field(default=None, max_length=64, unique=True)
    direction: CallDirection = Field(sa_type=enum_type(CallDirection))
    # The resident's number in E.164: the caller's, or one they keyed in; "" when withheld.
    number: str = Field(default="", max_length=32)
    language: str | None = Field(default=None, max_length=8)
    # The last menu option chosen: its queue slug and its label (what agents read).
    queue: str | None = Field(default=None, max_length=64)
    topic: str | None = Field(default=None, max_length=200)
    # A reference keyed in to hear its status: the call log threads to it when it is theirs.
    reference: str | None = Field(default=None, max_length=20)
    path: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # Twilio's final CallStatus and CallDuration (seconds).
    status: str | None = Field(default=None, max_length=16)
    duration: int | None = None
    # Click-to-call: how the resident's leg ended (DialCallStatus) and how long it lasted.
    outcome: str | None = Field(default=None, max_length=16)
    outcome_duration: int | None = None
    ticket_id: int | None = _ref("ticket.id", index=True)
    agent_id: int | None = _ref("agent.id")
    # Click-to-call: the message on the ticket that logs the call.
    message_id: int | None = _ref("message.id")
    created_at: datetime = _when()
    updated_at: datetime = _when()
    ended_at: datetime | None = _when(nullable=True)
