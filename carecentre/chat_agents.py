"""Agents in a chat: their replies become numbered entries, and the resident is told when the
agent working their chat ticket changes (``agent_joined``, ``agent_left``).

Plain functions on a synchronous session, like :mod:`carecentre.conversations`. Residents see an
agent's first name only.
"""

from __future__ import annotations

from sqlalchemy.orm import Session
from sqlmodel import col, select

from carecentre.chat_models import ChatConversation, ChatEntry, ChatStatus
from carecentre.conversations import ConversationView, EntryView, append, entry_view, locked, view
from carecentre.models import Agent, Message


def agent_name(session: Session, agent_id: int | None) -> str | None:
    """What residents are told of an agent: the first word of their name."""
    if agent_id is None:
        return None
    agent = session.get(Agent, agent_id)
    if agent is None or not agent.name.strip():
        return None
    return agent.name.split()[0]


def record_agent(
    session: Session, *, chat_id: str, message_id: int
) -> tuple[ConversationView, list[EntryView], bool] | None:
    """An outbound message for the chat: its entries (an ``agent_joined`` notice first when the
    author is new to the conversation) and whether they were just made. ``None`` when no
    conversation has that chat id."""
    conversation_id = session.scalar(
        select(ChatConversation.id).where(ChatConversation.chat_id == chat_id)
    )
    if conversation_id is None:
        return None
    row = locked(session, conversation_id)
    existing = session.scalar(select(ChatEntry).where(ChatEntry.message_id == message_id))
    if existing is not None:
        return view(session, row), [entry_view(existing)], False
    message = session.get_one(Message, message_id)
    name = agent_name(session, message.author_id)
    made: list[ChatEntry] = []
    author = message.author_id
    if author is not None and row.agent_id != author and row.status is not ChatStatus.ENDED:
        made.append(
            append(
                session,
                row,
                kind="notice",
                author="agent",
                author_name=name,
                notice="agent_joined",
                client_id=f"joined-m{message_id}",
            )
        )
        row.agent_id = author
    made.append(
        append(
            session,
            row,
            kind="message",
            author="agent" if author is not None else "city",
            author_name=name,
            body=message.body_text,
            message_id=message_id,
        )
    )
    return view(session, row), [entry_view(entry) for entry in made], True


def _notice(
    session: Session, row: ChatConversation, notice: str, agent_id: int | None, key: str
) -> ChatEntry | None:
    exists = session.scalar(
        select(ChatEntry.id).where(ChatEntry.conversation_id == row.id, ChatEntry.client_id == key)
    )
    if exists is not None:
        return None
    name = agent_name(session, agent_id)
    return append(
        session, row, kind="notice", author="agent", author_name=name, notice=notice, client_id=key
    )


def agent_change(
    session: Session, ticket_id: int, *, agent_id: int | None, key: str
) -> tuple[int, list[EntryView]] | None:
    """A chat ticket now has ``agent_id`` working it (``None``: nobody; resolved or closed).

    Returns the conversation id and the notices made (``agent_left``, ``agent_joined``), or
    ``None`` when the ticket has no open conversation. ``key`` (the event's sequence number)
    makes this idempotent across processes that all see the same event.
    """
    conversation_id = session.scalar(
        select(ChatConversation.id)
        .where(ChatConversation.ticket_id == ticket_id)
        .order_by(col(ChatConversation.id).desc())
        .limit(1)
    )
    if conversation_id is None:
        return None
    row = locked(session, conversation_id)
    if row.status is ChatStatus.ENDED or row.agent_id == agent_id:
        return None
    made = []
    if row.agent_id is not None:
        made.append(_notice(session, row, "agent_left", row.agent_id, f"{key}-left"))
    if agent_id is not None:
        made.append(_notice(session, row, "agent_joined", agent_id, f"{key}-joined"))
    row.agent_id = agent_id
    return conversation_id, [entry_view(entry) for entry in made if entry is not None]
