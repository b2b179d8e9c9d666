"""A chat's follow-up: replies sent on by email or SMS to a resident who left, and the
conversation ending, with its transcript by email when asked.

Plain functions on a synchronous session, like :mod:`carecentre.conversations`. Texts for the
resident are worded by the channel (``render`` callbacks): the core decides what is queued, and
queues it through the outbox like any reply, so nothing is sent twice or lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session
from sqlmodel import select

from carecentre.chat_agents import agent_name
from carecentre.chat_models import ChatConversation, ChatEntry, ChatStatus
from carecentre.coltypes import utcnow
from carecentre.contract import Channel, IdentityKind
from carecentre.conversations import (
    ConversationView,
    EntryView,
    append,
    attach_identity,
    entries_after,
    entry_view,
    locked,
    view,
)
from carecentre.models import Message, Ticket
from carecentre.outbox import ReplyRefused, queue_outbound


@dataclass(frozen=True, slots=True)
class ForwardRequest:
    """What a forwarded reply must say: the agent's text, and where it goes."""

    channel: Channel
    reference: str
    body: str
    language: str
    agent_name: str | None


@dataclass(frozen=True, slots=True)
class Forwarded:
    message_id: int
    channel: Channel
    address: str


@dataclass(frozen=True, slots=True)
class Ended:
    notice: EntryView | None
    transcript_message_id: int | None = None
    transcript_refused: str | None = None


Render = Callable[[ForwardRequest], tuple[str | None, str]]
RenderTranscript = Callable[[ConversationView, list[EntryView]], tuple[str, str]]


def _targets(row: ChatConversation) -> list[tuple[Channel, str]]:
    targets = []
    if row.follow_up_email:
        targets.append((Channel.EMAIL, row.follow_up_email))
    if row.follow_up_phone:
        targets.append((Channel.SMS, row.follow_up_phone))
    return targets


def forward_reply(session: Session, *, message_id: int, render: Render) -> Forwarded | None:
    """Queue an agent's chat reply again by email (else SMS) for a resident who left the chat.

    Idempotent: a reply is forwarded once. ``None`` when the resident left no address that
    can be used (none given, or opted out of texts).
    """
    entry = session.scalar(select(ChatEntry).where(ChatEntry.message_id == message_id))
    if entry is None:
        raise LookupError(f"message {message_id} is not in a chat")
    row = locked(session, entry.conversation_id)
    if entry.forwarded_message_id is not None:
        sent = session.get_one(Message, entry.forwarded_message_id)
        return Forwarded(entry.forwarded_message_id, sent.channel, sent.address or "")
    message = session.get_one(Message, message_id)
    ticket = session.get_one(Ticket, message.ticket_id)
    for channel, address in _targets(row):
        subject, body = render(
            ForwardRequest(
                channel=channel,
                reference=ticket.reference,
                body=message.body_text,
                language=row.language,
                agent_name=agent_name(session, message.author_id),
            )
        )
        try:
            queued = queue_outbound(
                session,
                ticket=ticket,
                body=body,
                subject=subject,
                author_id=message.author_id,
                channel=channel,
                to=address,
                kind="chat_forward",
            )
        except ReplyRefused:
            continue
        assert queued.id is not None
        entry.forwarded_message_id = queued.id
        return Forwarded(queued.id, channel, address)
    return None


def end(
    session: Session,
    conversation_id: int,
    *,
    transcript_to: str | None,
    render: RenderTranscript,
) -> Ended:
    """End the conversation (idempotent) and, when asked, queue its transcript by email.

    ``transcript_to`` is a normalized email address; it becomes an identity of the resident's
    contact unless another contact owns it, in which case the transcript is refused.
    """
    row = locked(session, conversation_id)
    notice = None
    if row.status is not ChatStatus.ENDED:
        row.status = ChatStatus.ENDED
        row.ended_at = row.last_seen_at = utcnow()
        notice = entry_view(
            append(session, row, kind="notice", author="city", notice="ended", client_id="ended")
        )
    if transcript_to is None:
        return Ended(notice)
    if row.ticket_id is None or row.contact_id is None:
        return Ended(notice, transcript_refused="nothing was said in this chat yet")
    if not attach_identity(session, row.contact_id, IdentityKind.EMAIL, transcript_to):
        return Ended(
            notice,
            transcript_refused="that address cannot be used for this chat; "
            "use the address you gave at the start",
        )
    row.follow_up_email = row.follow_up_email or transcript_to
    ticket = session.get_one(Ticket, row.ticket_id)
    current = view(session, row)
    subject, body = render(current, entries_after(session, conversation_id, 0, limit=10_000))
    try:
        queued = queue_outbound(
            session,
            ticket=ticket,
            body=body,
            subject=subject,
            author_id=None,
            channel=Channel.EMAIL,
            to=transcript_to,
            kind="transcript",
            automatic=True,
        )
    except ReplyRefused as refused:
        return Ended(notice, transcript_refused=str(refused))
    return Ended(notice, transcript_message_id=queued.id)
