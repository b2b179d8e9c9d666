"""Finding tickets: the filters and search behind the queue page and ``GET /api/v1/tickets``.

One implementation for both, so the dashboard and the API always agree on what a filter means.
Every query is limited to what the principal may see.

Search is a case-insensitive substring match over subjects, references, residents' names and
addresses and every message body. Over millions of messages it goes through the search indexes
of migration 0008_search (SQLite FTS5 trigram tables, PostgreSQL pg_trgm indexes), which find
the matching rows directly; the page is then the matching tickets in the list's order. Two cases
read the tickets in order instead, testing each with ``LIKE`` until the page is full: text
shorter than three characters (no trigram to look up), and text so common that the indexes
return more than :data:`INDEXED_HITS` rows, where a page fills within the first few hundred
tickets read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import false, func, literal, or_
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from carecentre.access import Principal
from carecentre.api import paging
from carecentre.contract import Channel
from carecentre.models import Agent, Contact, ContactIdentity, Message, Queue, Ticket
from carecentre.states import OPEN_STATUSES, TicketStatus

_E = TypeVar("_E", TicketStatus, Channel)
MAX_TEXT = 200
# Rows one search index may return before the text counts as common (see the module's doc).
INDEXED_HITS = 2000
_MIN_INDEXED = 3  # a trigram
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


def _like_pattern(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _each_ticket(*where: Any) -> Any:
    # OFFSET 0 keeps PostgreSQL from turning the EXISTS into one hashed pass over every
    # matching row of the table: this clause serves the scan, which tests ticket by ticket
    # and stops once a page is full.
    return select(literal(1)).where(*where).offset(0).exists()


def search_clause(text: str, *, sqlite: bool = False, ticket: Any = Ticket) -> Any:
    """Tickets whose subject, reference, resident's name or address, or any message body
    contains ``text`` (case-insensitive; ``%`` and ``_`` match themselves).

    ``sqlite``: SQLite's own LIKE already ignores (ASCII) case, as its lower() does; ILIKE
    would lower every body before comparing, a copy per message read. ``ticket``: the ticket
    entity to test (an alias of :class:`Ticket` over a subquery).
    """
    pattern = _like_pattern(text)

    def contains(column: Any) -> Any:
        matches = column.like if sqlite else column.ilike
        return matches(pattern, escape="\\")

    return or_(
        contains(ticket.subject),
        contains(ticket.reference),
        _each_ticket(col(Contact.id) == ticket.contact_id, contains(col(Contact.name))),
        _each_ticket(
            col(ContactIdentity.contact_id) == ticket.contact_id,
            contains(col(ContactIdentity.address)),
        ),
        _each_ticket(col(Message.ticket_id) == ticket.id, contains(col(Message.body_text))),
    )


# Per database, the search indexes' lookups: (what the ids are, the statement giving at most
# :param:`n` of them for :param:`q`). The smaller tables come first: a common text is recognized
# there, before the largest index (message bodies) is read.
_SQLITE_LOOKUPS = (
    ("tickets", "SELECT rowid FROM search_ticket WHERE search_ticket MATCH :q LIMIT :n"),
    ("contacts", "SELECT rowid FROM search_contact WHERE search_contact MATCH :q LIMIT :n"),
    (
        "contacts",
        "SELECT contact_id FROM contact_identity WHERE id IN "
        "(SELECT rowid FROM search_identity WHERE search_identity MATCH :q LIMIT :n)",
    ),
    (
        "tickets",
        "SELECT ticket_id FROM message WHERE id IN "
        "(SELECT rowid FROM search_message WHERE search_message MATCH :q LIMIT :n)",
    ),
)
_POSTGRES_LOOKUPS = (
    ("tickets", "SELECT id FROM ticket WHERE subject ILIKE :q OR reference ILIKE :q LIMIT :n"),
    ("contacts", "SELECT id FROM contact WHERE name ILIKE :q LIMIT :n"),
    ("contacts", "SELECT contact_id FROM contact_identity WHERE address ILIKE :q LIMIT :n"),
    ("tickets", "SELECT ticket_id FROM message WHERE body_text ILIKE :q LIMIT :n"),
)


async def indexed_matches(
    session: AsyncSession, text: str, *, hits: int = INDEXED_HITS
) -> Any | None:
    """A WHERE clause on the ids of the tickets matching ``text``, found through the search
    indexes; ``None`` when they cannot answer: too short a text, or one found in more than
    ``hits`` rows of an index."""
    if len(text) < _MIN_INDEXED:
        return None
    if session.get_bind().dialect.name == "sqlite":
        # A quoted FTS5 string: with the trigram tokenizer, a substring match of the text.
        query, lookups = '"' + text.replace('"', '""') + '"', _SQLITE_LOOKUPS
    else:
        # Backslash is PostgreSQL's default LIKE escape, the one _like_pattern uses.
        query, lookups = _like_pattern(text), _POSTGRES_LOOKUPS
    found: dict[str, set[int]] = {"tickets": set(), "contacts": set()}
    for kind, statement in lookups:
        rows = list(await session.scalars(sql(statement), {"q": query, "n": hits + 1}))
        if len(rows) > hits:
            return None
        found[kind].update(rows)
    tickets, contacts = found["tickets"], found["contacts"]
    if contacts:
        rows = list(
            await session.scalars(
                select(Ticket.id).where(col(Ticket.contact_id).in_(contacts)).limit(hits + 1)
            )
        )
        if len(rows) > hits:
            return None
        tickets.update(r for r in rows if r is not None)
    if not tickets:
        return false()
    return col(Ticket.id).in_(tickets)


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
    scanned: str | None = None
    if filters.text:
        searched = filters.text[:MAX_TEXT]
        # One ticket (a live row of a searched queue) is tested directly: asking the indexes
        # for every match would cost a whole search per row refreshed.
        matches = None if filters.reference else await indexed_matches(session, searched)
        if matches is None:
            scanned = searched
        else:
            query = query.where(matches)
    if filters.reference is not None:
        query = query.where(Ticket.reference == filters.reference)
    sqlite = session.get_bind().dialect.name == "sqlite"
    rows: list[Ticket] = []
    for where, names in paging.segments(order, after):
        wanted = limit + 1 - len(rows)
        page = query.where(where).order_by(*paging.order_by(names))
        if scanned is not None and sqlite:
            page = page.where(search_clause(scanned, sqlite=True))
        elif scanned is not None:
            # The text is tested ticket by ticket in the list's order, stopping at a full page.
            # Behind a fence (OFFSET 0), or PostgreSQL, unable to tell how common the text is,
            # may test every ticket the other filters let through and sort them after. (SQLite
            # reads in order by itself, and would copy the whole subquery out instead.)
            fenced = aliased(Ticket, page.offset(0).subquery())
            page = (
                select(fenced)
                .where(search_clause(scanned, ticket=fenced))
                .order_by(*paging.order_by(names, fenced))
            )
        rows += await session.scalars(page.limit(wanted))
        if len(rows) > limit:
            break
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
    # Counted from the (status, queue_id) index alone, grouped in its order, then named. Joined
    # to the queues or grouped by queue only, the planner may read every ticket of every queue:
    # it cannot know that open tickets are few.
    rows = await session.execute(
        select(Ticket.status, Ticket.queue_id, func.count())
        .where(*visible)
        .group_by(col(Ticket.status), col(Ticket.queue_id))
    )
    counted: dict[int, int] = {}
    for _status, queue_id, count in rows:
        counted[queue_id] = counted.get(queue_id, 0) + int(count)
    slugs = await session.execute(select(Queue.id, Queue.slug).where(col(Queue.id).in_(counted)))
    by_queue = {slug: counted[queue_id] for queue_id, slug in slugs if queue_id is not None}
    unassigned = await session.scalar(
        select(func.count()).where(*visible, col(Ticket.assignee_id).is_(None))
    )
    mine = await session.scalar(
        select(func.count()).where(*visible, Ticket.assignee_id == principal.agent_id)
    )
    return OpenCounts(sum(by_queue.values()), int(unassigned or 0), int(mine or 0), by_queue)
