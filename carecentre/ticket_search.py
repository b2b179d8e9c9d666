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

from sqlalchemy import exists, false, func, or_
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncSession
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


def search_clause(text: str) -> Any:
    """Tickets whose subject, reference, resident's name or address, or any message body
    contains ``text`` (case-insensitive; ``%`` and ``_`` match themselves)."""
    pattern = _like_pattern(text)
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


# One statement per database: (source, id) rows for :param:`q`, at most :param:`n` per source.
# Sources 0 and 1 give ticket ids (subject or reference; a message), 2 and 3 contact ids (name;
# an address). Each source is limited on its own, so a common text costs little to recognize.
_SQLITE_LOOKUP = " UNION ALL ".join(
    (
        "SELECT 0, id FROM (SELECT rowid AS id FROM search_ticket "
        "WHERE search_ticket MATCH :q LIMIT :n) AS s0",
        "SELECT 1, ticket_id FROM message WHERE id IN "
        "(SELECT rowid FROM search_message WHERE search_message MATCH :q LIMIT :n)",
        "SELECT 2, id FROM (SELECT rowid AS id FROM search_contact "
        "WHERE search_contact MATCH :q LIMIT :n) AS s2",
        "SELECT 3, contact_id FROM contact_identity WHERE id IN "
        "(SELECT rowid FROM search_identity WHERE search_identity MATCH :q LIMIT :n)",
    )
)
_POSTGRES_LOOKUP = " UNION ALL ".join(
    (
        "SELECT 0, id FROM (SELECT id FROM ticket "
        "WHERE subject ILIKE :q OR reference ILIKE :q LIMIT :n) AS s0",
        "SELECT 1, id FROM (SELECT ticket_id AS id FROM message "
        "WHERE body_text ILIKE :q LIMIT :n) AS s1",
        "SELECT 2, id FROM (SELECT id FROM contact WHERE name ILIKE :q LIMIT :n) AS s2",
        "SELECT 3, id FROM (SELECT contact_id AS id FROM contact_identity "
        "WHERE address ILIKE :q LIMIT :n) AS s3",
    )
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
        query, lookup = '"' + text.replace('"', '""') + '"', _SQLITE_LOOKUP
    else:
        # Backslash is PostgreSQL's default LIKE escape, the one _like_pattern uses.
        query, lookup = _like_pattern(text), _POSTGRES_LOOKUP
    found: list[list[int]] = [[], [], [], []]
    for source, found_id in await session.execute(sql(lookup), {"q": query, "n": hits + 1}):
        found[source].append(found_id)
    if any(len(ids) > hits for ids in found):
        return None
    tickets = {*found[0], *found[1]}
    contacts = {*found[2], *found[3]}
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
    if filters.text:
        searched = filters.text[:MAX_TEXT]
        matches = await indexed_matches(session, searched)
        query = query.where(search_clause(searched) if matches is None else matches)
    if filters.reference is not None:
        query = query.where(Ticket.reference == filters.reference)
    rows: list[Ticket] = []
    for where, order_by in paging.segments(order, after):
        wanted = limit + 1 - len(rows)
        rows += await session.scalars(query.where(where).order_by(*order_by).limit(wanted))
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
