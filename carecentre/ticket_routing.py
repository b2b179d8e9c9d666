"""Routing a new ticket: the supervisors' rules, then the channel's hint, then the default queue;
then its tags, the record of why it landed where it did, and its SLA clock.

Called by the ingest pipeline inside the transaction that creates the ticket. Rules were checked
when they were saved, so nothing here can refuse a resident's message: a rule whose queue has
been switched off since is passed over (and logged), never an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session
from sqlmodel import col, select

from carecentre.contract import InboundMessage
from carecentre.models import Queue, Ticket
from carecentre.queue_hours import QueueCalendars
from carecentre.routing import choose_queue
from carecentre.rule_matching import matches
from carecentre.rules_store import compiled_rules
from carecentre.sla import find_policy, start_clock
from carecentre.states import Priority
from carecentre.supervision_models import TicketRoute
from carecentre.workspace_models import Tag, TicketTag

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Routed:
    """Where a new ticket goes and why."""

    queue: Queue
    priority: Priority = Priority.NORMAL
    tags: tuple[str, ...] = ()
    how: str = "default"  # rule | hint | default
    rule_id: int | None = None
    label: str = ""


def route_new(
    session: Session,
    message: InboundMessage,
    *,
    address: str,
    default_slug: str,
    calendars: QueueCalendars,
    now: datetime,
) -> Routed:
    """The first enabled rule that matches decides; without one, the channel's hint (an IVR
    option, a chat topic) or the default queue. A rule that sets no queue keeps the hint's."""
    for rule in compiled_rules(session):
        if not matches(rule, message, address=address, now=now, calendar=calendars.city):
            continue
        queue = session.get(Queue, rule.queue_id) if rule.queue_id is not None else None
        if queue is not None and not queue.active:
            log.warning("rule %r skipped: its queue %s is switched off", rule.name, queue.slug)
            continue
        queue = queue or choose_queue(session, message, default_slug)
        return Routed(
            queue,
            rule.priority or Priority.NORMAL,
            rule.tags,
            "rule",
            rule.id,
            f"rule “{rule.name}”",
        )
    queue = choose_queue(session, message, default_slug)
    if message.queue_hint and queue.slug == message.queue_hint:
        return Routed(queue, how="hint", label=f"the {message.channel.value} option “{queue.slug}”")
    return Routed(queue, label="no rule matched: the default queue")


def settle_new(session: Session, ticket: Ticket, routed: Routed, calendars: QueueCalendars) -> None:
    """What follows the ticket's creation: its tags, why it is where it is, its SLA clock."""
    assert ticket.id is not None
    session.add(
        TicketRoute(
            ticket_id=ticket.id,
            how=routed.how,
            rule_id=routed.rule_id,
            label=routed.label[:300],
            created_at=ticket.created_at,
        )
    )
    if routed.tags:
        known = {
            t.name: t for t in session.scalars(select(Tag).where(col(Tag.name).in_(routed.tags)))
        }
        for name in routed.tags:
            if name not in known:
                known[name] = Tag(name=name)
                session.add(known[name])
        session.flush()
        for name in routed.tags:
            tag_id = known[name].id
            assert tag_id is not None
            session.add(TicketTag(ticket_id=ticket.id, tag_id=tag_id))
    policy = find_policy(session, ticket.queue_id, ticket.priority.value)
    if policy is not None:
        start_clock(session, ticket, calendars, policy)
    session.flush()
