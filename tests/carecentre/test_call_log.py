"""The calls' side of the core: a call's row and path, status by reference, and amendments to
messages that arrive in pieces (idempotent), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import select

from carecentre.call_log import MAX_STEPS, CallLog
from carecentre.calls import Call, CallDirection
from carecentre.contract import Channel
from carecentre.models import Message, Ticket
from carecentre.references import new_reference, reference_digits
from carecentre.services import Services
from tests.support.factories import PHONE, events_of, get_message, get_ticket, ingest

SID = "CA" + "e" * 32


def _log(svc: Services) -> CallLog:
    return CallLog(svc.db, svc.bus)


async def test_a_call_row_grows_a_path(svc: Services) -> None:
    calls = _log(svc)
    await calls.steps(SID, number=PHONE, steps=("call answered",))
    view = await calls.steps(
        SID, number="", steps=("English", "1: Waste"), changes={"language": "en", "queue": "waste"}
    )
    assert view.path == ("call answered", "English", "1: Waste")
    assert (view.number, view.language, view.queue) == (PHONE, "en", "waste")
    assert view.direction is CallDirection.INBOUND
    with pytest.raises(ValueError, match="not a call field"):
        await calls.steps(SID, number=PHONE, steps=(), changes={"ticket_id": "1"})


async def test_a_looping_caller_cannot_grow_the_row_without_bound(svc: Services) -> None:
    calls = _log(svc)
    for _ in range(MAX_STEPS + 10):
        view = await calls.steps(SID, number=PHONE, steps=("x" * 500,))
    assert len(view.path) == MAX_STEPS
    assert len(view.path[0]) == 200


async def test_the_first_webhooks_of_a_call_racing_make_one_row(svc: Services) -> None:
    calls = _log(svc)
    await asyncio.gather(*(calls.steps(SID, number=PHONE, steps=(f"s{i}",)) for i in range(5)))
    view = await calls.find(SID)
    assert view is not None
    assert sorted(view.path) == [f"s{i}" for i in range(5)]


async def test_finishing_is_idempotent(svc: Services) -> None:
    calls = _log(svc)
    first = await calls.finish(SID, number=PHONE, status="completed", duration=30)
    again = await calls.finish(SID, number=PHONE, status="completed", duration=30)
    assert (again.status, again.duration) == ("completed", 30)
    assert again.id == first.id


async def test_status_by_reference_says_only_the_status(svc: Services) -> None:
    result = await ingest(svc, Channel.SMS, PHONE, "Pothole")
    calls = _log(svc)
    found = await calls.status_of(reference_digits(result.reference))
    assert found is not None
    assert found.reference == result.reference
    assert found.status.value == "new"
    digits = reference_digits(result.reference)
    off_by_one = digits[:8] + str((int(digits[8]) + 1) % 10)
    assert await calls.status_of(off_by_one) is None
    assert await calls.status_of(reference_digits(new_reference())) is None
    assert await calls.status_of("12345") is None


def _render(meta: object) -> str:
    assert isinstance(meta, dict)
    return f"{meta.get('a', '-')}/{meta.get('b', '-')}"


async def test_amending_a_message_is_idempotent(svc: Services) -> None:
    result = await ingest(svc, Channel.VOICE, PHONE, "-/-")
    calls = _log(svc)
    assert await calls.amend(result.message_id, {"a": "1"}, _render)
    assert not await calls.amend(result.message_id, {"a": "1"}, _render)
    assert await calls.amend(result.message_id, {"b": "2"}, _render)
    message = await get_message(svc, result.message_id)
    assert message.body_text == "1/2"
    assert message.meta == {"a": "1", "b": "2"}
    assert len(await events_of(svc, "message.updated")) == 2


async def test_a_callback_request_sets_the_due_time_once(svc: Services) -> None:
    result = await ingest(svc, Channel.VOICE, PHONE, "Callback requested")
    ticket = await get_ticket(svc, result.ticket_id)
    assert ticket.due_at is not None
    later = ticket.due_at + timedelta(days=3)
    calls = _log(svc)
    # A new ticket takes the callback's due time, even a later one than the default.
    assert await calls.mark_callback(result.message_id, number=PHONE, due=later, created=True)
    assert not await calls.mark_callback(result.message_id, number=PHONE, due=later, created=True)
    assert (await get_ticket(svc, result.ticket_id)).due_at == later
    message = await get_message(svc, result.message_id)
    assert message.kind == "callback_request"
    assert message.meta["callback_number"] == PHONE

    # On a ticket that was due earlier, the earlier time stays.
    second = await ingest(
        svc, Channel.VOICE, PHONE, "Another callback", thread_keys=("call:x",), reference_hint=None
    )
    second_ticket = await get_ticket(svc, second.ticket_id)
    assert second_ticket.due_at is not None
    await calls.mark_callback(
        second.message_id, number=PHONE, due=second_ticket.due_at + timedelta(days=9), created=False
    )
    assert (await get_ticket(svc, second.ticket_id)).due_at == second_ticket.due_at
    assert len(await events_of(svc, "ticket.updated")) >= 2


async def test_rows_and_messages_are_independent(svc: Services) -> None:
    # A call's row never stands in for a message: nothing is on a ticket until ingested.
    await _log(svc).steps(SID, number=PHONE, steps=("call answered",))
    async with svc.db.read() as session:
        counts = [
            len(list(await session.scalars(select(model)))) for model in (Call, Ticket, Message)
        ]
    assert counts == [1, 0, 0]
