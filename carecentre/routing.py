"""Routing a new ticket: which queue, what priority, when it is due."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session
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


def queue_by_slug(session: Session, slug: str) -> Queue | None:
    return session.scalar(select(Queue).where(Queue.slug == slug))


def choose_queue(session: Session, message: InboundMessage, default_slug: str) -> Queue:
    """The queue the channel hinted (an IVR option, a chat topic) if it exists, else the default.

    A missing default queue is created rather than losing the message.
    """
    if message.queue_hint:
        hinted = queue_by_slug(session, message.queue_hint)
        if hinted is not None and hinted.active:
            return hinted
    queue = queue_by_slug(session, default_slug)
    if queue is None:
        queue = Queue(slug=default_slug, name=default_slug.replace("-", " ").title())
        session.add(queue)
        session.flush()
    return queue


def initial_due(created_at: datetime, priority: Priority) -> datetime:
    return created_at + DEFAULT_TARGETS[priority]
