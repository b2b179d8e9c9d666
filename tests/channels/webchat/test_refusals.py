"""Bad input gets a clear refusal, loses nothing stored, and the chat and server keep working:
a foreign Origin, unknown and expired tokens, tokens in URLs, a 1 MB frame, binary frames,
broken JSON, unknown frames, and floods of messages."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import update
from sqlmodel import col
from websockets.exceptions import InvalidStatus

from carecentre.chat_models import ChatConversation, ChatEntry
from carecentre.coltypes import utcnow
from carecentre.models import Message, RawInbound
from carecentre.services import Services
from tests.channels.webchat.conftest import Chat, open_chat
from tests.support.chat_client import Resident, resident


async def started(me: Resident) -> str:
    await me.hello()
    await me.start("bylaw")
    await me.say("Loud music every night.")
    update = await me.expect("conversation")
    await me.expect("message", seq=2)  # the acknowledgement, so nothing more is on its way
    reference: str = update["conversation"]["reference"]
    return reference


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://127.0.0.1:1", "null", "http://localhost.evil"]
)
async def test_a_page_from_another_origin_is_refused_before_the_handshake(
    chat: Chat, origin: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with resident(chat.url, origin):
            pass
    assert refused.value.response.status_code == 403
    assert await chat.count(ChatConversation) == 0


async def test_the_chat_origins_setting_admits_the_citys_site(
    tmp_path: Path, database_url: str
) -> None:
    with open_chat(tmp_path, database_url, chat_origins="https://www.city.example") as chat:
        async with resident(chat.url, "https://www.city.example") as me:
            assert (await me.hello())["conversation"]["status"] == "prechat"
        with pytest.raises(InvalidStatus):
            async with resident(chat.url, "https://www.city.example.evil"):
                pass


async def test_unknown_and_expired_tokens_are_refused_and_the_socket_stays_open(
    chat: Chat,
) -> None:
    async with resident(chat.url, chat.origin) as me:
        reference = await started(me)
        token = me.token
    before = await chat.count(ChatEntry)

    async with resident(chat.url, chat.origin) as thief:
        await thief.send(type="hello", token="x" * 43, last_seq=0)
        error = await thief.expect("error")
        assert error["code"] == "token_unknown"
        # One character off (never the token itself, whatever it ends with).
        near = token[:-1] + ("B" if token[-1] != "B" else "C")
        await thief.send(type="hello", token=near, last_seq=0)
        assert (await thief.expect("error"))["code"] == "token_unknown"
        # The same socket can still start a chat of its own, which shows nothing of the other.
        fresh = await thief.hello()
        assert fresh["token"] != token
        assert fresh["conversation"]["reference"] is None

    async def age(svc: Services) -> None:
        async with svc.db.write() as session:
            await session.execute(
                update(ChatConversation)
                .where(col(ChatConversation.ticket_id).is_not(None))
                .values(last_seen_at=utcnow() - timedelta(days=2))
            )

    await chat.server.acall(age)
    async with resident(chat.url, chat.origin) as me:
        await me.send(type="hello", token=token, last_seq=0)
        assert (await me.expect("error"))["code"] == "token_expired"
        assert [f for f in me.frames if f["type"] in ("message", "notice")] == []
        assert (await me.hello())["resumed"] is False
    # Refusing the token changed nothing of the conversation it named.
    assert await chat.count(ChatEntry) == before
    assert reference


async def test_a_token_in_the_url_is_ignored(chat: Chat) -> None:
    async with resident(chat.url, chat.origin) as me:
        await started(me)
        token = me.token
    async with resident(f"{chat.url}?token={token}", chat.origin) as other:
        welcome = await other.hello()
        assert welcome["resumed"] is False
        assert welcome["token"] != token


async def test_broken_frames_are_answered_and_nothing_is_lost(chat: Chat) -> None:
    async with resident(chat.url, chat.origin, max_size=None) as me:
        await me.send(type="message", client_id="early", body="before hello")
        assert (await me.expect("error"))["code"] == "hello_required"
        await started(me)
        stored = (await chat.count(RawInbound), await chat.count(Message))

        await me.ws.send(
            json.dumps({"type": "message", "client_id": "big", "body": "x" * (1 << 20)})
        )
        assert (await me.expect("error"))["code"] == "too_large"
        await me.ws.send(b"\x00\x01binary")
        assert (await me.expect("error"))["code"] == "binary_frame"
        await me.ws.send("{not json")
        assert (await me.expect("error"))["code"] == "invalid_json"
        await me.ws.send("[1, 2]")
        assert (await me.expect("error"))["code"] == "invalid_frame"
        await me.send(type="subscribe", channel="everything")
        assert (await me.expect("error"))["code"] == "unknown_type"
        await me.send(type="message", client_id="bad id!", body="hi")
        assert (await me.expect("error"))["field"] == "client_id"
        await me.send(type="message", client_id="long", body="y" * 2001)
        error = await me.expect("error")
        assert (error["code"], error["client_id"]) == ("too_long", "long")
        await me.send(type="message", client_id="empty", body="   ")
        assert (await me.expect("error"))["field"] == "body"
        await me.send(type="hello")
        assert (await me.expect("error"))["code"] == "already_greeted"
        assert (await chat.count(RawInbound), await chat.count(Message)) == stored

        # The same socket carries on.
        echo = await me.say("<b>still here</b> & fine")
        assert echo["body"] == "<b>still here</b> & fine"  # text, shown as text by the page
    assert httpx2.get(chat.server.url + "/healthz", timeout=5).status_code == 200


async def test_a_flood_of_messages_is_refused_politely(chat: Chat) -> None:
    async with resident(chat.url, chat.origin) as me:
        await started(me)
        began = time.monotonic()
        for n in range(100):
            await me.send(type="message", client_id=f"flood-{n}", body=f"message {n}")
        answers: dict[str, dict[str, object]] = {}
        async with asyncio.timeout(20):
            while len(answers) < 100:
                frame = await me.recv()
                if frame.get("client_id", "").startswith("flood-"):
                    answers[frame["client_id"]] = frame
        accepted = [f for f in answers.values() if f["type"] == "message"]
        refused = [f for f in answers.values() if f["type"] == "error"]
        # A burst of 10, then one every two seconds while the flood is being answered.
        assert 1 <= len(accepted) <= 10 + (time.monotonic() - began) / 2 + 1
        assert len(accepted) + len(refused) == 100
        assert {f["code"] for f in refused} == {"rate_limited"}
        assert all(float(f["retry_after"]) > 0 for f in refused)  # type: ignore[arg-type]
        flooded = await chat.count(Message, col(Message.body_text).like("message %"))
        assert flooded == len(accepted)

        await asyncio.sleep(2.5)  # the bucket refills: one message a second by default
        echo = await me.say("Sorry, my keyboard was stuck.")
        assert echo["from"] == "resident"


async def test_one_address_cannot_open_endless_chats(tmp_path: Path, database_url: str) -> None:
    with open_chat(tmp_path, database_url, chat_address_per_minute=8) as chat:
        async with resident(chat.url, chat.origin) as me:
            await me.hello()
        async with resident(chat.url, chat.origin) as me:
            await me.hello()
        async with resident(chat.url, chat.origin) as me:
            await me.send(type="hello")
            error = await me.expect("error")
            assert error["code"] == "rate_limited"
        assert await chat.count(ChatConversation) == 2
