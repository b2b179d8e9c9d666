"""Routing a new ticket: which queue, what priority, when it is due."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from carecentre.contract import InboundMessage
from carecentre.models import Queue
from carecentre.states import Priority

# Until SLA policies are configured, a ticket is due this long after it arrives.
DEFAULT_TARGETS = {
    Priority.URGENT: timedelta(hours=4),
    Priority.HIGH: timedelta(hours=24),
    Priority.NORMAL: timedelta(days=2),
    Priority.LOW: timedelta(days=5),
}


async def queue_by_slug(session: AsyncSession, slug: str) -> Queue | None:
    return await session.scalar(select(Queue).where(Queue.slug == slug))


async def choose_queue(session: AsyncSession, message: InboundMessage, default_slug: str) -> Queue:
    """The queue the channel hinted (an IVR option, a chat topic) if it exists, else the default.

    A missing default queue is created rather than losing the message.
    """
    if message.queue_hint:
        hinted = await queue_by_slug(session, message.queue_hint)
        if hinted is not None and hinted.active:
            return hinted
    queue = await queue_by_slug(session, default_slug)
    if queue is None:
        queue = Queue(slug=default_slug, name=default_slug.replace("-", " ").title())
        session.add(queue)
        await session.flush()
    return queue


def initial_due(created_at: datetime, priority: Priority) -> datetime:
    return created_at + DEFAULT_TARGETS[priority]
