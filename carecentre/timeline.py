"""A resident's whole story on one page: every message on every ticket of theirs that the agent
may see, across channels, oldest first, and the ways the agent can answer them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from carecentre.access import Principal
from carecentre.api.schemas import MessageOut
from carecentre.api.serialize import messages_out
from carecentre.contacts import identities_of
from carecentre.contract import Channel, IdentityKind
from carecentre.models import Contact, Message, Ticket
from carecentre.outbox import REPLY_CHANNEL

MAX_MESSAGES = 500
# The channel a written answer to an identity travels on.
_ANSWER_BY = {IdentityKind.EMAIL: Channel.EMAIL, IdentityKind.PHONE: Channel.SMS}


@dataclass(frozen=True)
class Entry:
    reference: str
    this_ticket: bool
    message: MessageOut


@dataclass(frozen=True)
class ReplyOption:
    channel: Channel
    address: str
    opted_out: bool
    default: bool

    @property
    def value(self) -> str:
        return f"{self.channel.value}|{self.address}"


@dataclass(frozen=True)
class Timeline:
    entries: list[Entry]
    tickets: list[Ticket]  # the contact's tickets the agent may see, newest first
    truncated: bool


async def contact_timeline(
    session: AsyncSession, principal: Principal, ticket: Ticket, *, api_base: str
) -> Timeline:
    """The most recent :data:`MAX_MESSAGES` messages of the contact's visible tickets."""
    tickets = list(
        await session.scalars(
            select(Ticket)
            .where(Ticket.contact_id == ticket.contact_id, principal.ticket_clause())
            .order_by(col(Ticket.id).desc())
        )
    )
    references = {t.id: t.reference for t in tickets}
    rows = list(
        await session.scalars(
            select(Message)
            .where(col(Message.ticket_id).in_(list(references)))
            .order_by(col(Message.id).desc())
            .limit(MAX_MESSAGES + 1)
        )
    )
    truncated = len(rows) > MAX_MESSAGES
    rows = sorted(rows[:MAX_MESSAGES], key=lambda m: (m.created_at, m.id or 0))
    contact = await session.get_one(Contact, ticket.contact_id)
    shaped = await messages_out(session, rows, contact, api_base)
    entries = [
        Entry(references[row.ticket_id], row.ticket_id == ticket.id, out)
        for row, out in zip(rows, shaped, strict=True)
    ]
    return Timeline(entries, tickets, truncated)


async def reply_options(session: AsyncSession, ticket: Ticket) -> list[ReplyOption]:
    """Each address the reply can go to; the ticket's own channel comes first, as the default."""
    identities = await session.run_sync(identities_of, ticket.contact_id)
    preferred = REPLY_CHANNEL[ticket.channel]
    options: list[ReplyOption] = []
    for identity in reversed(identities):  # the newest address of a kind first
        channel = _ANSWER_BY.get(identity.kind)
        if identity.kind is IdentityKind.CHAT:
            channel = Channel.CHAT
        if channel is None:
            continue
        options.append(
            ReplyOption(channel, identity.address, identity.opted_out_at is not None, False)
        )
    options.sort(key=lambda o: (o.channel is not preferred, o.opted_out))
    if options and options[0].channel is preferred and not options[0].opted_out:
        first = options[0]
        options[0] = ReplyOption(first.channel, first.address, False, True)
    return options
