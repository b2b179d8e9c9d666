"""Chat conversations in the core: hashed tokens that expire, the pre-chat step joining the
right contact, and per-conversation sequence numbers that never repeat."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from carecentre.chat_models import ChatConversation, ChatStatus
from carecentre.chat_service import ChatService
from carecentre.coltypes import utcnow
from carecentre.contract import Channel, IdentityKind
from carecentre.conversations import token_digest
from carecentre.identities import InvalidAddress
from carecentre.models import ContactIdentity
from carecentre.services import Services
from tests.support.factories import ingest


async def identities(svc: Services) -> set[tuple[int, IdentityKind, str]]:
    async with svc.db.read() as session:
        rows = await session.scalars(select(ContactIdentity))
        return {(row.contact_id, row.kind, row.address) for row in rows}


async def test_only_a_digest_of_the_token_is_stored_and_it_expires(svc: Services) -> None:
    chat = ChatService(svc)
    token, view = await chat.create("en")
    async with svc.db.read() as session:
        row = await session.get_one(ChatConversation, view.id)
    assert row.token_hash == token_digest(token) != token
    assert len(view.chat_id) >= 8
    resumed, expired = await chat.resume(token)
    assert (resumed and resumed.id, expired) == (view.id, False)
    assert await chat.resume(token + "x") == (None, False)
    async with svc.db.write() as session:
        await session.execute(
            update(ChatConversation).values(last_seen_at=utcnow() - timedelta(days=2))
        )
    found, expired = await chat.resume(token)
    assert (found is not None, expired) == (True, True)


async def test_the_chat_joins_the_contact_who_owns_the_follow_up_address(svc: Services) -> None:
    earlier = await ingest(svc, Channel.EMAIL, "dana@Example.org", subject="Earlier")
    chat = ChatService(svc)
    _token, view = await chat.create("en")
    started = await chat.start(
        view.id,
        topic="roads",
        language="en",
        name="Dana",
        email="dana@EXAMPLE.org",
        phone="(613) 555-0100",
    )
    assert started.status is ChatStatus.OPEN
    assert (started.follow_up_email, started.follow_up_phone) == (
        "dana@example.org",
        "+16135550100",
    )
    found = await identities(svc)
    assert (earlier.contact_id, IdentityKind.CHAT, view.chat_id) in found
    assert (earlier.contact_id, IdentityKind.PHONE, "+16135550100") in found
    with pytest.raises(ValueError, match="already started"):
        await chat.start(view.id, topic="roads", language="en", name=None, email=None, phone=None)


async def test_an_address_of_another_contact_is_never_taken_over(svc: Services) -> None:
    email_owner = await ingest(svc, Channel.EMAIL, "pat@example.org", subject="Mine")
    phone_owner = await ingest(svc, Channel.SMS, "+16135550111")
    chat = ChatService(svc)
    _token, view = await chat.create("fr")
    await chat.start(
        view.id,
        topic="waste",
        language="fr",
        name=None,
        email="pat@example.org",
        phone="+16135550111",
    )
    found = await identities(svc)
    assert (email_owner.contact_id, IdentityKind.CHAT, view.chat_id) in found
    assert (phone_owner.contact_id, IdentityKind.PHONE, "+16135550111") in found
    assert (email_owner.contact_id, IdentityKind.PHONE, "+16135550111") not in found


async def test_bad_addresses_are_refused_and_nothing_changes(svc: Services) -> None:
    chat = ChatService(svc)
    _token, view = await chat.create("en")
    with pytest.raises(InvalidAddress):
        await chat.start(
            view.id, topic="roads", language="en", name=None, email="not-an-email", phone=None
        )
    found, _ = await chat.resume(_token)
    assert found is not None
    assert found.status is ChatStatus.PRECHAT
    assert await identities(svc) == set()


async def test_resident_entries_are_numbered_once_per_client_id(svc: Services) -> None:
    chat = ChatService(svc)
    _token, view = await chat.create("en")
    await chat.start(view.id, topic="roads", language="en", name=None, email=None, phone=None)
    result = await ingest(svc, Channel.CHAT, view.chat_id, "Hello")
    first = await chat.record_resident(
        view.id,
        client_id="a",
        body="Hello",
        message_id=result.message_id,
        ticket_id=result.ticket_id,
    )
    again = await chat.record_resident(
        view.id,
        client_id="a",
        body="Hello",
        message_id=result.message_id,
        ticket_id=result.ticket_id,
    )
    second = await ingest(svc, Channel.CHAT, view.chat_id, "More")
    other = await chat.record_resident(
        view.id,
        client_id="b",
        body="More",
        message_id=second.message_id,
        ticket_id=second.ticket_id,
    )
    assert (first.seq, again.seq, other.seq) == (1, 1, 2)
    assert [e.seq for e in await chat.entries_after(view.id, 0)] == [1, 2]
    assert [e.client_id for e in await chat.entries_after(view.id, 1)] == ["b"]
    assert await chat.entry_for_client(view.id, "a") == first
    async with svc.db.read() as session:
        ticket_id = await session.scalar(
            select(ChatConversation.ticket_id).where(col(ChatConversation.id) == view.id)
        )
    assert ticket_id == result.ticket_id
