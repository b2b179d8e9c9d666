"""Honest availability and continuity: when the City is closed or no agent is free the chat says
so before the resident types and asks for an email or phone; answers to a resident who left go
out by email (or SMS) through the outbox; a transcript can be emailed at the end."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from carecentre.chat_service import TypingSignal, typing_signals
from carecentre.coltypes import utcnow
from carecentre.contract import Channel, IdentityKind, InboundMessage
from carecentre.hours import BusinessCalendar, ClosedPeriod
from carecentre.models import ContactIdentity, Message, Ticket
from carecentre.services import Services
from carecentre.states import DeliveryStatus, Direction
from tests.channels.webchat.conftest import Chat, open_chat
from tests.support.chat_client import Resident, resident
from tests.support.live_server import ALWAYS_OPEN


def storm_closure() -> BusinessCalendar:
    now = utcnow()
    period = ClosedPeriod(now - timedelta(hours=1), now + timedelta(days=1), "Storm closure")
    return BusinessCalendar(weekly=ALWAYS_OPEN.weekly, holidays=None, closed_periods=(period,))


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    """The first truthy result of ``check``, polled."""
    async with asyncio.timeout(timeout):
        while not (found := await check()):
            await asyncio.sleep(0.05)
    return found


async def first_message(me: Resident, body: str) -> str:
    await me.say(body)
    update = await me.expect("conversation")
    await me.expect("message", seq=2)  # the acknowledgement with the reference
    reference: str = update["conversation"]["reference"]
    return reference


async def outbound(chat: Chat, channel: Channel) -> list[Message]:
    rows: list[Message] = await chat.rows(
        Message, Message.direction == Direction.OUTBOUND, Message.channel == channel
    )
    return rows


async def test_closed_city_says_so_and_the_answer_goes_by_email(
    tmp_path: Path, database_url: str
) -> None:
    with open_chat(
        tmp_path, database_url, calendar=storm_closure(), chat_reconnect_grace=0
    ) as chat:
        async with resident(chat.url, chat.origin) as me:
            welcome = await me.hello()
            availability = welcome["availability"]
            assert availability["live"] is False
            assert (availability["reason"], availability["label"]) == ("closure", "Storm closure")
            assert availability["next_open"] is not None

            await me.send(type="start", topic="waste")
            refused = await me.expect("error")
            assert (refused["code"], refused["field"]) == ("follow_up_required", "email")
            started = await me.start("waste", email="sam@example.org", name="Sam")
            assert started["conversation"]["follow_up"]["email"] == "sam@example.org"
            reference = await first_message(me, "When is the next collection?")

        response = chat.reply(reference, "Next Tuesday, as usual.")
        assert response.status_code == 202, response.text

        async def forwarded() -> list[Message]:
            return await outbound(chat, Channel.EMAIL)

        (email,) = await eventually(forwarded)
        assert email.address == "sam@example.org"
        assert email.kind == "chat_forward"
        # No email sender runs here: the outbox keeps it, retrying, until one does.
        assert email.delivery_status in (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)
        assert "Next Tuesday, as usual." in email.body_text
        assert reference in (email.subject or "")

        async def chat_copy() -> list[Message]:
            rows = await outbound(chat, Channel.CHAT)
            return [m for m in rows if m.delivery_status is DeliveryStatus.FAILED]

        (copy,) = await eventually(chat_copy)
        assert copy.body_text == "Next Tuesday, as usual."
        assert copy.delivery_error == (
            "the resident had left the chat; sent by email to sam@example.org instead"
        )
        identities = await chat.rows(ContactIdentity)
        assert {(i.kind, i.address) for i in identities} >= {
            (IdentityKind.EMAIL, "sam@example.org")
        }
        assert len({i.contact_id for i in identities}) == 1  # chat and email: one resident


async def test_no_agent_available_is_said_before_the_resident_types(
    tmp_path: Path, database_url: str
) -> None:
    with open_chat(tmp_path, database_url, available=False) as chat:
        async with resident(chat.url, chat.origin) as me:
            availability = (await me.hello())["availability"]
            assert (availability["live"], availability["reason"]) == (False, "no_agents")


async def test_an_agent_whose_presence_went_stale_is_not_promised(
    tmp_path: Path, database_url: str
) -> None:
    with open_chat(tmp_path, database_url, chat_presence_ttl=1.0) as chat:
        async with resident(chat.url, chat.origin) as me:
            assert (await me.hello())["availability"]["live"] is True
            # The open chat is told too, without asking, when it changes.
            async with asyncio.timeout(5):
                while (changed := await me.expect("availability"))["availability"]["live"]:
                    pass
            assert changed["availability"]["reason"] == "no_agents"


async def test_a_phone_follow_up_gets_a_text_and_the_answer_threads_back(
    tmp_path: Path, database_url: str
) -> None:
    with open_chat(tmp_path, database_url, available=False, chat_reconnect_grace=0) as chat:
        async with resident(chat.url, chat.origin) as me:
            await me.hello()
            await me.start("roads", phone="613 555 0199")
            reference = await first_message(me, "Streetlight out at Elm and 3rd.")
        assert chat.reply(reference, "Fixed tonight.").status_code == 202

        async def texted() -> list[Message]:
            return await outbound(chat, Channel.SMS)

        (text,) = await eventually(texted)
        assert text.address == "+16135550199"
        assert reference in text.body_text
        assert "Fixed tonight." in text.body_text

        async def answer(svc: Services) -> int:
            message = InboundMessage(
                channel=Channel.SMS,
                external_id="SM-answer-1",
                sender="+16135550199",
                body_text=f"Thanks! #{reference}",
                reference_hint=reference,
                thread_by_contact=True,
            )
            return (await svc.pipeline.ingest(message)).ticket_id

        ticket_id = await chat.server.acall(answer)
        (ticket,) = await chat.rows(Ticket)
        assert ticket_id == ticket.id  # the same matter, not a new ticket


async def test_ending_with_a_transcript_and_a_late_answer(
    tmp_path: Path, database_url: str
) -> None:
    with open_chat(tmp_path, database_url, chat_reconnect_grace=0) as chat:
        async with resident(chat.url, chat.origin) as me:
            await me.hello()
            await me.start("taxes", name="Lee")
            reference = await first_message(me, "Is my tax bill late?")
            await me.send(type="end", transcript=True, email="lee@example.org")
            ended = await me.expect("ended")
            assert ended["transcript"] == "queued"
            notice = await me.expect("notice")
            assert notice["event"] == "ended"
            await me.send(type="message", client_id="after", body="one more thing")
            assert (await me.expect("error", client_id="after"))["code"] == "ended"

        (transcript,) = await outbound(chat, Channel.EMAIL)
        assert (transcript.kind, transcript.address) == ("transcript", "lee@example.org")
        assert "You: Is my tax bill late?" in transcript.body_text
        assert reference in transcript.body_text

        # An answer after the end cannot reach the chat: it follows the resident by email.
        assert chat.reply(reference, "It is not late.").status_code == 202

        async def forwarded() -> list[Message]:
            rows = await outbound(chat, Channel.EMAIL)
            return [m for m in rows if m.kind == "chat_forward"]

        (email,) = await eventually(forwarded)
        assert "It is not late." in email.body_text


async def test_an_answer_without_a_follow_up_waits_in_the_chat(
    tmp_path: Path, database_url: str
) -> None:
    with open_chat(tmp_path, database_url, chat_reconnect_grace=0) as chat:
        async with resident(chat.url, chat.origin) as me:
            await me.hello()
            token = me.token
            await me.start("parking")
            reference = await first_message(me, "Can I park overnight?")
        assert chat.reply(reference, "Yes, with a permit.").status_code == 202

        async def sent() -> list[Message]:
            rows = await outbound(chat, Channel.CHAT)
            return [m for m in rows if m.body_text == "Yes, with a permit." and m.sent_at]

        (reply,) = await eventually(sent)
        assert reply.delivery_status is DeliveryStatus.SENT  # kept; not yet seen
        async with resident(chat.url, chat.origin) as again:
            await again.hello(token=token, last_seq=2)
            answer = await again.expect("message", seq=4)
            assert answer["body"] == "Yes, with a permit."


async def test_typing_goes_both_ways_and_is_never_stored(chat: Chat) -> None:
    heard: list[TypingSignal] = []
    listening = contextlib.ExitStack()

    async def listen(svc: Services) -> None:
        listening.enter_context(typing_signals(svc).listen(heard.append))

    async with resident(chat.url, chat.origin) as me:
        await me.hello()
        await me.start("recreation")
        await first_message(me, "Swimming lessons?")
        (ticket,) = await chat.rows(Ticket)
        ticket_id = ticket.id or 0

        async def agent_types(svc: Services) -> None:
            typing_signals(svc).publish(TypingSignal(ticket_id, "agent", True, "Alex"))

        with listening:
            await chat.server.acall(listen)
            await chat.server.acall(agent_types)
            typing = await me.expect("typing")
            assert typing == {"type": "typing", "from": "agent", "active": True, "author": "Alex"}
            await me.send(type="typing", active=True)
            await eventually(lambda: asyncio.sleep(0, len(heard) > 1))
        assert heard == [
            TypingSignal(ticket_id, "agent", True, "Alex"),
            TypingSignal(ticket_id, "resident", True),
        ]
    assert len(await chat.rows(Message)) == 2  # the message and its acknowledgement: no typing


async def test_assigning_and_resolving_tell_the_resident(chat: Chat) -> None:
    async with resident(chat.url, chat.origin) as me:
        await me.hello()
        await me.start("bylaw")
        reference = await first_message(me, "A dog barks all night.")
        assert chat.patch(reference, {"assignee": chat.agent_id}).status_code == 200
        joined = await me.expect("notice", timeout=5)
        assert (joined["event"], joined["author"]) == ("agent_joined", "Alex")
        response = chat.patch(reference, {"status": "resolved", "resolution": "answered"})
        assert response.status_code == 200, response.text
        left = await me.expect("notice", timeout=5)
        assert (left["event"], left["author"]) == ("agent_left", "Alex")
