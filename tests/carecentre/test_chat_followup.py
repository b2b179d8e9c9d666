"""A chat's follow-up in the core: a reply forwarded once, to an address that can take it; the
end recorded once, with a transcript only to the resident's own address."""

from __future__ import annotations

from sqlmodel import select

from carecentre.chat_followup import ForwardRequest
from carecentre.chat_service import ChatService
from carecentre.contract import Channel, IdentityKind
from carecentre.conversations import ConversationView, EntryView
from carecentre.models import Message, Ticket
from carecentre.outbox import queue_reply
from carecentre.services import Services
from carecentre.states import Direction
from tests.support.factories import ingest


def render(request: ForwardRequest) -> tuple[str | None, str]:
    return ("Subject" if request.channel is Channel.EMAIL else None), f"FWD {request.body}"


def transcript(view: ConversationView, entries: list[EntryView]) -> tuple[str, str]:
    return "Transcript", "\n".join(f"{e.seq}:{e.body}" for e in entries)


async def chatting(
    svc: Services, **follow_up: str | None
) -> tuple[ChatService, ConversationView, int]:
    chat = ChatService(svc)
    _token, view = await chat.create("en")
    view = await chat.start(
        view.id,
        topic="roads",
        language="en",
        name=None,
        email=follow_up.get("email"),
        phone=follow_up.get("phone"),
    )
    result = await ingest(
        svc, Channel.CHAT, view.chat_id, "Hello", thread_keys=(f"chat:{view.id}",)
    )
    await chat.record_resident(
        view.id,
        client_id="c1",
        body="Hello",
        message_id=result.message_id,
        ticket_id=result.ticket_id,
    )
    async with svc.db.write() as session:
        ticket = await session.get_one(Ticket, result.ticket_id)
        reply = await queue_reply(session, ticket=ticket, body="An answer", author_id=None)
    assert reply.id is not None
    recorded = await chat.record_agent(chat_id=view.chat_id, message_id=reply.id)
    assert recorded is not None
    return chat, view, reply.id


async def outbound(svc: Services, channel: Channel) -> list[Message]:
    async with svc.db.read() as session:
        query = select(Message).where(
            Message.channel == channel, Message.direction == Direction.OUTBOUND
        )
        return list(await session.scalars(query))


async def test_a_reply_is_forwarded_once_by_email_first(svc: Services) -> None:
    chat, _view, reply_id = await chatting(svc, email="kim@example.org", phone="+16135550100")
    first = await chat.forward(reply_id, render)
    again = await chat.forward(reply_id, render)
    assert first == again
    assert first is not None
    assert (first.channel, first.address) == (Channel.EMAIL, "kim@example.org")
    (email,) = await outbound(svc, Channel.EMAIL)
    assert (email.body_text, email.subject, email.kind) == (
        "FWD An answer",
        "Subject",
        "chat_forward",
    )


async def test_an_opted_out_phone_is_skipped_and_no_address_means_none(svc: Services) -> None:
    chat, _view, reply_id = await chatting(svc, phone="+16135550100")
    await svc.residents.set_opt_out(IdentityKind.PHONE, "+16135550100", True)
    assert await chat.forward(reply_id, render) is None
    assert await outbound(svc, Channel.SMS) == []


async def test_ending_is_recorded_once_and_a_transcript_goes_only_to_their_own_address(
    svc: Services,
) -> None:
    await ingest(svc, Channel.EMAIL, "someone@example.org", subject="Another resident")
    chat, view, _reply_id = await chatting(svc)
    refused = await chat.end(view.id, transcript_to="someone@example.org", render=transcript)
    assert refused.notice is not None
    assert refused.transcript_refused is not None
    assert await outbound(svc, Channel.EMAIL) == []
    ended = await chat.end(view.id, transcript_to="me@example.org", render=transcript)
    assert ended.notice is None  # already ended: no second notice
    assert ended.transcript_message_id is not None
    (email,) = await outbound(svc, Channel.EMAIL)
    assert email.body_text == "1:Hello\n2:An answer\n3:"
    assert email.automatic
