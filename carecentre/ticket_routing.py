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

from sqlalchemy import Table, bindparam, select
from sqlalchemy.engine import Connection

from carecentre.contract import InboundMessage
from carecentre.db import inserted_id
from carecentre.queue_hours import QueueCalendars
from carecentre.routing import QueueRow, choose_queue, initial_due, queue_by_id
from carecentre.rule_matching import matches
from carecentre.rules_store import compiled_rules
from carecentre.sla import NewClock, plan_new, start_new
from carecentre.states import Priority
from carecentre.supervision_models import TicketRoute
from carecentre.tickets import TicketRow
from carecentre.workspace_models import Tag, TicketTag

log = logging.getLogger(__name__)

_route: Table = TicketRoute.__table__  # type: ignore[attr-defined]
_tag: Table = Tag.__table__  # type: ignore[attr-defined]
_ticket_tag: Table = TicketTag.__table__  # type: ignore[attr-defined]
_INSERT_ROUTE = _route.insert()
_TAGS = select(_tag.c.name, _tag.c.id).where(_tag.c.name.in_(bindparam("names", expanding=True)))
_INSERT_TAG = _tag.insert()
_INSERT_TICKET_TAG = _ticket_tag.insert()


@dataclass(frozen=True, slots=True)
class Routed:
    """Where a new ticket goes and why."""

    queue: QueueRow
    priority: Priority = Priority.NORMAL
    tags: tuple[str, ...] = ()
    how: str = "default"  # rule | hint | default
    rule_id: int | None = None
    label: str = ""


def route_new(
    conn: Connection,
    message: InboundMessage,
    *,
    address: str,
    default_slug: str,
    calendars: QueueCalendars,
    now: datetime,
) -> Routed:
    """The first enabled rule that matches decides; without one, the channel's hint (an IVR
    option, a chat topic) or the default queue. A rule that sets no queue keeps the hint's."""
    for rule in compiled_rules(conn):
        if not matches(rule, message, address=address, now=now, calendar=calendars.city):
            continue
        queue = queue_by_id(conn, rule.queue_id) if rule.queue_id is not None else None
        if queue is not None and not queue.active:
            log.warning("rule %r skipped: its queue %s is switched off", rule.name, queue.slug)
            continue
        queue = queue or choose_queue(conn, message, default_slug, now=now)
        return Routed(
            queue,
            rule.priority or Priority.NORMAL,
            rule.tags,
            "rule",
            rule.id,
            f"rule “{rule.name}”",
        )
    queue = choose_queue(conn, message, default_slug, now=now)
    if message.queue_hint and queue.slug == message.queue_hint:
        return Routed(queue, how="hint", label=f"the {message.channel.value} option “{queue.slug}”")
    return Routed(queue, label="no rule matched: the default queue")


@dataclass(frozen=True, slots=True)
class Planned:
    """A new ticket's SLA clock (if a policy covers it) and the due time that follows."""

    clock: NewClock | None
    due_at: datetime


def plan_due(conn: Connection, routed: Routed, calendars: QueueCalendars, now: datetime) -> Planned:
    """The new ticket's clock and due time (the first response's), known before the ticket
    is written, so that it is written once."""
    clock = plan_new(conn, calendars, routed.queue.id, routed.priority.value, now)
    due = clock.at.first_response_due_at if clock else initial_due(now, routed.priority)
    return Planned(clock, due)


def settle_new(
    conn: Connection, ticket: TicketRow, routed: Routed, planned: Planned, now: datetime
) -> None:
    """What follows the ticket's creation (at ``now``): its tags, why it is where it is, its
    SLA clock."""
    conn.execute(
        _INSERT_ROUTE,
        {
            "ticket_id": ticket.id,
            "how": routed.how,
            "rule_id": routed.rule_id,
            "label": routed.label[:300],
            "created_at": now,
        },
    )
    if routed.tags:
        _tag_ticket(conn, ticket.id, routed.tags, now)
    if planned.clock is not None:
        start_new(conn, ticket, planned.clock, now)


def _tag_ticket(conn: Connection, ticket_id: int, names: tuple[str, ...], now: datetime) -> None:
    known = {name: tag_id for name, tag_id in conn.execute(_TAGS, {"names": list(names)})}
    for name in names:
        if name not in known:
            known[name] = inserted_id(conn.execute(_INSERT_TAG, {"name": name, "created_at": now}))
    conn.execute(
        _INSERT_TICKET_TAG, [{"ticket_id": ticket_id, "tag_id": known[name]} for name in names]
    )
