"""Finding tickets: the filters and search behind the queue page and ``GET /api/v1/tickets``.

One implementation for both, so the dashboard and the API always agree on what a filter means.
Every query is limited to what the principal may see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import exists, func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from carecentre.access import Principal
from carecentre.api import paging
from carecentre.contract import Channel
from carecentre.models import Agent, Contact, ContactIdentity, Message, Queue, Ticket
from carecentre.states import OPEN_STATUSES, TicketStatus

_E = TypeVar("_E", TicketStatus, Channel)
MAX_TEXT = 200
_YES = ("1", "true", "yes", "on")


class InvalidFilter(ValueError):
    """A filter that names nothing real; ``str()`` starts with the field's name."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class TicketFilters:
    """What to show. ``assignee``: ``None`` anyone, ``"none"`` unassigned, ``"me"``, an agent's
    id or email."""

    statuses: tuple[TicketStatus, ...] = ()
    channels: tuple[Channel, ...] = ()
    queue: str | None = None
    assignee: str | None = None
    text: str = ""
    reference: str | None = field(default=None, compare=False)

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> TicketFilters:
        """From query parameters: ``status``, ``channel`` (comma lists), ``queue``, ``assignee``,
        ``q``, and the shortcuts ``unassigned=1`` and ``mine=1``."""
        assignee = params.get("assignee")
        if params.get("unassigned", "").lower() in _YES:
            assignee = "none"
        if params.get("mine", "").lower() in _YES:
            assignee = "me"
        return cls(
            statuses=_choice(params, "status", TicketStatus),
            channels=_choice(params, "channel", Channel),
            queue=params.get("queue") or None,
            assignee=assignee,
            text=params.get("q", "").strip()[:MAX_TEXT],
        )

    def to_params(self) -> dict[str, str]:
        """The query parameters that give these filters back."""
        out = {
            "status": ",".join(s.value for s in self.statuses),
            "channel": ",".join(c.value for c in self.channels),
            "queue": self.queue or "",
            "assignee": "" if self.assignee is None else self.assignee,
            "q": self.text,
        }
        return {key: value for key, value in out.items() if value}


def _choice(params: Mapping[str, str], name: str, allowed: type[_E]) -> tuple[_E, ...]:
    raw = params.get(name)
    if not raw:
        return ()
    try:
        return tuple(allowed(value.strip()) for value in raw.split(",") if value.strip())
    except ValueError:
        options = ", ".join(member.value for member in allowed)
        raise InvalidFilter(name, f"use one or more of {options}") from None


async def agent_id(session: AsyncSession, value: str | int) -> int | None:
    """The active agent named by id or email. Only ASCII digits make an id ("¹".isdigit() is
    true), and only one that fits the column: a larger one would overflow the driver."""
    if isinstance(value, int) or (value.isascii() and value.isdigit()):
        number = int(value)
        if not 0 < number <= paging.MAX_ID:
            return None
        agent = await session.get(Agent, number)
    else:
        # Emails are stored lower-cased (seed.add_agent).
        agent = await session.scalar(select(Agent).where(Agent.email == value.strip().lower()))
    return agent.id if agent is not None and agent.active else None


async def _assignee_clause(session: AsyncSession, principal: Principal, value: str) -> Any:
    if value in ("", "none"):
        return col(Ticket.assignee_id).is_(None)
    if value == "me":
        return Ticket.assignee_id == principal.agent_id
    found = await agent_id(session, value)
    if found is None:
        raise InvalidFilter("assignee", f"no agent {value!r}")
    return Ticket.assignee_id == found


def search_clause(text: str) -> Any:
    """Tickets whose subject, reference, resident's name or address, or any message body
    contains ``text`` (case-insensitive; ``%`` and ``_`` match themselves)."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    like = {"escape": "\\"}
    return or_(
        col(Ticket.subject).ilike(pattern, **like),
        col(Ticket.reference).ilike(pattern, **like),
        exists().where(
            col(Contact.id) == col(Ticket.contact_id), col(Contact.name).ilike(pattern, **like)
        ),
        exists().where(
            col(ContactIdentity.contact_id) == col(Ticket.contact_id),
            col(ContactIdentity.address).ilike(pattern, **like),
        ),
        exists().where(
            col(Message.ticket_id) == col(Ticket.id),
            col(Message.body_text).ilike(pattern, **like),
        ),
    )


async def find_tickets(
    session: AsyncSession,
    principal: Principal,
    filters: TicketFilters,
    *,
    order: str = "due",
    limit: int = 50,
    after: list[Any] | None = None,
) -> tuple[list[Ticket], bool]:
    """One page of matching tickets the principal may see, and whether more follow.

    Raises :class:`InvalidFilter` for a queue or assignee that does not exist.
    """
    query = select(Ticket).where(principal.ticket_clause())
    if filters.statuses:
        query = query.where(col(Ticket.status).in_(filters.statuses))
    if filters.channels:
        query = query.where(col(Ticket.channel).in_(filters.channels))
    if filters.queue:
        queue_id = await session.scalar(select(Queue.id).where(Queue.slug == filters.queue))
        if queue_id is None:
            raise InvalidFilter("queue", f"no queue {filters.queue!r}")
        query = query.where(Ticket.queue_id == queue_id)
    if filters.assignee is not None:
        query = query.where(await _assignee_clause(session, principal, filters.assignee))
    if filters.text:
        query = query.where(search_clause(filters.text[:MAX_TEXT]))
    if filters.reference is not None:
        query = query.where(Ticket.reference == filters.reference)
    if after is not None:
        query = query.where(paging.after(order, after))
    rows = list(await session.scalars(query.order_by(*paging.order_by(order)).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


@dataclass(frozen=True)
class OpenCounts:
    """Open tickets (new, open, pending) the principal may see."""

    total: int
    unassigned: int
    mine: int
    by_queue: dict[str, int]


async def open_counts(session: AsyncSession, principal: Principal) -> OpenCounts:
    visible = (principal.ticket_clause(), col(Ticket.status).in_(OPEN_STATUSES))
    rows = await session.execute(
        select(Queue.slug, func.count(col(Ticket.id)))
        .join(Queue, col(Queue.id) == col(Ticket.queue_id))
        .where(*visible)
        .group_by(col(Queue.slug))
    )
    by_queue = {slug: int(count) for slug, count in rows}
    unassigned = await session.scalar(
        select(func.count()).where(*visible, col(Ticket.assignee_id).is_(None))
    )
    mine = await session.scalar(
        select(func.count()).where(*visible, Ticket.assignee_id == principal.agent_id)
    )
    return OpenCounts(sum(by_queue.values()), int(unassigned or 0), int(mine or 0), by_queue)
