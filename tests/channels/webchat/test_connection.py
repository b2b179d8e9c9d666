"""The chat protocol against the real server: a live chat with an agent, resuming after a drop
with every missed entry exactly once, resends that are never stored twice, and 200 residents at
once."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import col

from carecentre.chat_models import ChatConversation, ChatEntry
from carecentre.contract import Channel
from carecentre.models import Message, Ticket
from carecentre.states import DeliveryStatus, Direction
from tests.channels.webchat.conftest import Chat, open_chat
from tests.support.chat_client import resident


async def wait_for(predicate_coro, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not await predicate_coro():
            await asyncio.sleep(0.05)


async def test_a_resident_chats_live_with_an_agent(chat: Chat) -> None:
    async with resident(chat.url, chat.origin) as me:
        welcome = await me.hello()
        assert len(welcome["token"]) >= 40
        assert welcome["availability"] == {
            "live": True,
            "reason": None,
            "label": None,
            "next_open": None,
        }
        assert welcome["conversation"]["status"] == "prechat"
        assert "waste" in [topic["id"] for topic in welcome["topics"]]

        started = await me.start("roads", name="Dana Roy", email="Dana@Example.ORG")
        assert started["conversation"]["status"] == "open"
        assert started["conversation"]["follow_up"]["email"] == "Dana@example.org"

        mine = await me.say("There is a pothole on Main Street.", client_id="first")
        assert mine["seq"] == 1
        assert mine["from"] == "resident"
        update = await me.expect("conversation")
        reference = update["conversation"]["reference"]
        assert reference.startswith("CC-")
        ack = await me.expect("message", seq=2)
        assert ack["from"] == "city"
        assert reference in ack["body"]

        response = chat.reply(reference, "Thanks, a crew is on its way.")
        assert response.status_code == 202, response.text
        joined = await me.expect("notice", seq=3)
        assert joined["event"] == "agent_joined"
        assert joined["author"] == "Alex"
        answer = await me.expect("message", seq=4)
        assert answer == {
            **answer,
            "from": "agent",
            "author": "Alex",
            "body": "Thanks, a crew is on its way.",
        }

    tickets = await chat.rows(Ticket)
    assert [(t.reference, t.channel) for t in tickets] == [(reference, Channel.CHAT)]
    replies = await chat.rows(Message, Message.direction == Direction.OUTBOUND)

    async def delivered() -> bool:
        rows = await chat.rows(Message, Message.direction == Direction.OUTBOUND)
        return all(m.delivery_status is DeliveryStatus.DELIVERED for m in rows)

    await wait_for(delivered)
    assert {m.channel for m in replies} == {Channel.CHAT}


async def test_reconnecting_replays_every_missed_entry_exactly_once(chat: Chat) -> None:
    async with resident(chat.url, chat.origin) as me:
        await me.hello()
        token = me.token
        await me.start("waste")
        await me.say("My bin was not collected.")
        update = await me.expect("conversation")
        reference = update["conversation"]["reference"]
        ack = await me.expect("message", seq=2)
        last_seen = ack["seq"]

    # Away: two answers arrive. They wait for the resident (the reconnect grace is a minute).
    for body in ("We have logged it.", "A truck will come tomorrow."):
        assert chat.reply(reference, body).status_code == 202

    async def recorded() -> bool:
        return await chat.count(ChatEntry) == 5  # message, ack, joined, two answers

    await wait_for(recorded)
    async with resident(chat.url, chat.origin) as again:
        welcome = await again.hello(token=token, last_seq=last_seen)
        assert welcome["resumed"] is True
        assert welcome["conversation"]["reference"] == reference
        replayed = [await again.recv() for _ in range(3)]
        # The outbox retries the waiting answers once the resident is back: nothing twice.
        replayed += await again.quiet(1.5)
        entries = [f for f in replayed if f["type"] in ("message", "notice")]
        assert [f["seq"] for f in entries] == [3, 4, 5]
        assert [f.get("body") for f in entries[1:]] == [
            "We have logged it.",
            "A truck will come tomorrow.",
        ]

        # A message whose echo was lost is sent again with the same client_id: stored once.
        first = await again.say("Also the recycling.", client_id="again-1")
        second = await again.say("Also the recycling.", client_id="again-1")
        assert first["seq"] == second["seq"] == 6
    assert await chat.count(Message, Message.body_text == "Also the recycling.") == 1

    async def delivered() -> bool:
        rows = await chat.rows(Message, Message.direction == Direction.OUTBOUND)
        return all(m.delivery_status is DeliveryStatus.DELIVERED for m in rows)

    await wait_for(delivered)


async def test_a_client_claiming_more_than_exists_gets_everything(chat: Chat) -> None:
    async with resident(chat.url, chat.origin) as me:
        await me.hello()
        token = me.token
        await me.start("waste")
        await me.say("Hello")
        await me.expect("message", seq=2)
    async with resident(chat.url, chat.origin) as again:
        welcome = await again.hello(token=token, last_seq=99)
        assert welcome["conversation"]["last_seq"] == 2
        # Nothing to replay: the client is told the real last number, and nothing is resent.
        assert [f for f in await again.quiet(0.5) if f["type"] in ("message", "notice")] == []


@pytest.mark.parametrize("residents", [200])
async def test_many_residents_chat_at_once(tmp_path, database_url: str, residents: int) -> None:  # type: ignore[no-untyped-def]
    # All from 127.0.0.1, as if behind one proxy: the per-address limit is raised accordingly.
    with open_chat(tmp_path, database_url, chat_address_per_minute=100_000) as chat:

        async def one(n: int) -> tuple[str, int]:
            async with resident(chat.url, chat.origin, wait=120) as me:
                await me.hello()
                await me.start("parking", name=f"Resident {n}")
                echo = await me.say(f"Question number {n}", client_id=f"q{n}")
                # Usually 1; a notice (an agent joining as the ticket is auto-assigned) may come
                # first under load. What matters is that it is this resident's own message.
                assert echo["seq"] >= 1
                assert echo["client_id"] == f"q{n}"
                update = await me.expect("conversation")
                return update["conversation"]["reference"], n

        async with asyncio.timeout(180):
            results = await asyncio.gather(*(one(n) for n in range(residents)))
        assert len({reference for reference, _ in results}) == residents
        assert await chat.count(ChatConversation) == residents
        assert await chat.count(Ticket, col(Ticket.channel) == Channel.CHAT) == residents
