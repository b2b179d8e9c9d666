"""Finding tickets: the filters and search behind the queue page and ``GET /api/v1/tickets``.

One implementation for both, so the dashboard and the API always agree on what a filter means.
Every query is limited to what the principal may see.

Search is a case-insensitive substring match over subjects, references, residents' names and
addresses and every message body. Over millions of messages it goes through the search indexes
of migration 0008_search (SQLite FTS5 trigram tables, PostgreSQL pg_trgm indexes), one per part
of a ticket. Each index is first asked how many of its rows match, counting no further than
:data:`INDEXED_HITS`; the bodies' index, by far the largest, only when no other part is common
(a common part means a scan, in which the bodies are tested as well). When every part matches
fewer rows, the indexes find the matching tickets
directly and the page is those tickets in the list's order. A part matching more rows (a common
word) would return too many to sort: the tickets are then read in the list's order, testing
that part with ``LIKE`` and the others against what their indexes found, until the page is
full, which it is within the first few thousand tickets read. Text shorter than three
characters (no trigram to look up) is tested with ``LIKE`` in every part.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import bindparam, false, literal, or_
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from carecentre.access import Principal
from carecentre.api import paging
from carecentre.contract import Channel
from carecentre.models import Agent, Contact, ContactIdentity, Message, Queue, Ticket
from carecentre.sql_text import use_index
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


def _each_ticket(*where: Any, fenced: bool) -> Any:
    found = select(literal(1)).where(*where)
    # OFFSET 0 keeps PostgreSQL from turning the EXISTS into one hashed pass over every
    # matching row of the table: this clause serves the scan, which tests ticket by ticket
    # and stops once a page is full. SQLite runs an EXISTS per ticket anyway, and the fence
    # would only cost it a LIMIT to count per ticket read.
    return (found.offset(0) if fenced else found).exists()


# The searched parts of a ticket, each with a search index of its own.
SUBJECT, NAME, ADDRESS, BODY = "subject", "name", "address", "body"
PARTS = (SUBJECT, NAME, ADDRESS, BODY)


def _like_clauses(
    text: str, parts: Collection[str], *, sqlite: bool = False, ticket: Any = Ticket
) -> list[Any]:
    pattern = _like_pattern(text)
    fenced = not sqlite

    def contains(column: Any) -> Any:
        matches = column.like if sqlite else column.ilike
        return matches(pattern, escape="\\")

    found = []
    if SUBJECT in parts:
        found.append(or_(contains(ticket.subject), contains(ticket.reference)))
    if NAME in parts:
        found.append(
            _each_ticket(
                col(Contact.id) == ticket.contact_id, contains(col(Contact.name)), fenced=fenced
            )
        )
    if ADDRESS in parts:
        found.append(
            _each_ticket(
                col(ContactIdentity.contact_id) == ticket.contact_id,
                contains(col(ContactIdentity.address)),
                fenced=fenced,
            )
        )
    if BODY in parts:
        found.append(
            _each_ticket(
                col(Message.ticket_id) == ticket.id,
                contains(col(Message.body_text)),
                fenced=fenced,
            )
        )
    return found


def search_clause(text: str, *, sqlite: bool = False, ticket: Any = Ticket) -> Any:
    """Tickets whose subject, reference, resident's name or address, or any message body
    contains ``text`` (case-insensitive; ``%`` and ``_`` match themselves).

    ``sqlite``: SQLite's own LIKE already ignores (ASCII) case, as its lower() does; ILIKE
    would lower every body before comparing, a copy per message read. ``ticket``: the ticket
    entity to test (an alias of :class:`Ticket` over a subquery).
    """
    return or_(*_like_clauses(text, PARTS, sqlite=sqlite, ticket=ticket))


@dataclass(frozen=True)
class IndexedMatches:
    """What the search indexes found for a text: the tickets and contacts matching it in the
    parts whose index holds at most the limit of matching rows, and the ``common`` parts,
    whose index holds more (or was not asked): only those need testing ticket by ticket."""

    tickets: frozenset[int]
    contacts: frozenset[int]
    common: frozenset[str]

    def clause(self, text: str, *, sqlite: bool = False, ticket: Any = Ticket) -> Any:
        """The tickets matching ``text``: a ticket or contact found by the indexes, or the text
        in one of the common parts."""
        found: list[Any] = _like_clauses(text, self.common, sqlite=sqlite, ticket=ticket)
        if self.tickets:
            found.insert(0, ticket.id.in_(sorted(self.tickets)))
        if self.contacts:
            found.insert(0, ticket.contact_id.in_(sorted(self.contacts)))
        return or_(*found) if found else false()


# Per database and part, the statements asking its search index: how many rows match :q (up to
# :n: counting stops there), and the ids of the tickets or contacts of those rows. One statement
# counts in every index at once; another reads the ids of the parts found few enough times.
_SQLITE_INDEXES = {
    SUBJECT: (
        "SELECT rowid FROM search_ticket WHERE search_ticket MATCH :q",
        "SELECT rowid FROM search_ticket WHERE search_ticket MATCH :q",
    ),
    NAME: (
        "SELECT rowid FROM search_contact WHERE search_contact MATCH :q",
        "SELECT rowid FROM search_contact WHERE search_contact MATCH :q",
    ),
    ADDRESS: (
        "SELECT rowid FROM search_identity WHERE search_identity MATCH :q",
        "SELECT contact_id FROM contact_identity WHERE id IN "
        "(SELECT rowid FROM search_identity WHERE search_identity MATCH :q)",
    ),
    BODY: (
        "SELECT rowid FROM search_message WHERE search_message MATCH :q",
        "SELECT ticket_id FROM message WHERE id IN "
        "(SELECT rowid FROM search_message WHERE search_message MATCH :q)",
    ),
}
_POSTGRES_INDEXES = {
    SUBJECT: ("SELECT id FROM ticket WHERE subject ILIKE :q OR reference ILIKE :q",) * 2,
    NAME: ("SELECT id FROM contact WHERE name ILIKE :q",) * 2,
    ADDRESS: (
        "SELECT id FROM contact_identity WHERE address ILIKE :q",
        "SELECT contact_id FROM contact_identity WHERE address ILIKE :q",
    ),
    BODY: (
        "SELECT id FROM message WHERE body_text ILIKE :q",
        "SELECT ticket_id FROM message WHERE body_text ILIKE :q",
    ),
}
_CONTACT_PARTS = (NAME, ADDRESS)
_SMALL_PARTS = (SUBJECT, NAME, ADDRESS)


async def _counts(
    session: AsyncSession,
    indexes: Mapping[str, tuple[str, str]],
    parts: Iterable[str],
    params: Mapping[str, Any],
) -> dict[str, int]:
    """How many rows of each part's index match (counting stops at ``:n``), in one statement."""
    asked = list(parts)
    # Every name below is one of this module's constants: nothing comes from outside.
    counting = ", ".join(
        f"(SELECT count(*) FROM ({indexes[part][0]} LIMIT :n) AS {part})"  # noqa: S608
        for part in asked
    )
    row = (await session.execute(sql(f"SELECT {counting}"), params)).one()
    return {part: int(count) for part, count in zip(asked, row, strict=True)}


async def index_lookup(
    session: AsyncSession, text: str, *, hits: int = INDEXED_HITS
) -> IndexedMatches | None:
    """Ask the search indexes about ``text``; ``None`` when they cannot answer (too short a
    text: no trigram to look up)."""
    if len(text) < _MIN_INDEXED:
        return None
    if session.get_bind().dialect.name == "sqlite":
        # A quoted FTS5 string: with the trigram tokenizer, a substring match of the text.
        query, indexes = '"' + text.replace('"', '""') + '"', _SQLITE_INDEXES
    else:
        # Backslash is PostgreSQL's default LIKE escape, the one _like_pattern uses.
        query, indexes = _like_pattern(text), _POSTGRES_INDEXES
    params = {"q": query, "n": hits + 1}
    counts = await _counts(session, indexes, _SMALL_PARTS, params)
    if all(count <= hits for count in counts.values()):
        counts.update(await _counts(session, indexes, (BODY,), params))
    # A part not asked is tested ticket by ticket, as a common one: once any part is common the
    # tickets are read in order anyway, and the bodies' index, the largest by far, would cost
    # more to ask (PostgreSQL reads every candidate row of a common word) than to skip.
    common = {part for part in indexes if counts.get(part, hits + 1) > hits}
    few = [part for part, count in counts.items() if 0 < count <= hits]
    tickets: set[int] = set()
    contacts: set[int] = set()
    if few:
        listed = " UNION ALL ".join(
            f"SELECT {int(part in _CONTACT_PARTS)}, x.* FROM ({indexes[part][1]}) AS x"  # noqa: S608
            for part in few
        )
        for is_contact, found in await session.execute(sql(listed), params):
            (contacts if is_contact else tickets).add(found)
    return IndexedMatches(frozenset(tickets), frozenset(contacts), frozenset(common))


async def indexed_matches(
    session: AsyncSession, text: str, *, hits: int = INDEXED_HITS
) -> Any | None:
    """A WHERE clause on the ids of the tickets matching ``text``, found through the search
    indexes alone; ``None`` when they cannot answer: too short a text, or one found in more
    than ``hits`` rows of an index or in more than ``hits`` tickets of the contacts found."""
    found = await _indexed(session, text, hits)
    return None if found is None or found.common or found.contacts else found.clause(text)


async def _indexed(session: AsyncSession, text: str, hits: int) -> IndexedMatches | None:
    """:func:`index_lookup`, with the contacts found replaced by their tickets when these are
    few enough (the page is then read from the ticket ids alone, in the list's order)."""
    found = await index_lookup(session, text, hits=hits)
    if found is None or found.common or not found.contacts:
        return found
    rows = list(
        await session.scalars(
            select(Ticket.id).where(col(Ticket.contact_id).in_(found.contacts)).limit(hits + 1)
        )
    )
    if len(rows) > hits:
        return found
    tickets = found.tickets | {r for r in rows if r is not None}
    return IndexedMatches(tickets, frozenset(), frozenset())


async def find_tickets(
    session: AsyncSession,
    principal: Principal,
    filters: TicketFilters,
    *,
    order: str = "due",
    limit: int = 50,
    after: list[Any] | None = None,
    hits: int = INDEXED_HITS,
) -> tuple[list[Ticket], bool]:
    """One page of matching tickets the principal may see, and whether more follow.

    ``hits``: how many matching rows of a search index make a text common there (see the
    module's doc). Raises :class:`InvalidFilter` for a queue or assignee that does not exist.
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
    sqlite = session.get_bind().dialect.name == "sqlite"
    searched = filters.text[:MAX_TEXT]
    # What the scan tests ticket by ticket; None: nothing (no text, or the indexes found it).
    scanned: Callable[..., Any] | None = None
    if searched:
        # One ticket (a live row of a searched queue) is tested directly: asking the indexes
        # for every match would cost a whole search per row refreshed.
        found = None if filters.reference else await _indexed(session, searched, hits)
        if found is None:
            scanned = partial(search_clause, searched, sqlite=sqlite)
        elif found.common or found.contacts:
            scanned = partial(found.clause, searched, sqlite=sqlite)
        else:
            query = query.where(found.clause(searched))
    if filters.reference is not None:
        query = query.where(Ticket.reference == filters.reference)
    rows: list[Ticket] = []
    for where, names in paging.segments(order, after):
        wanted = limit + 1 - len(rows)
        page = query.where(where).order_by(*paging.order_by(names))
        if scanned is not None and sqlite:
            page = page.where(scanned(ticket=Ticket))
        elif scanned is not None:
            # The text is tested ticket by ticket in the list's order, stopping at a full page.
            # Behind a fence (OFFSET 0), or PostgreSQL, unable to tell how common the text is,
            # may test every ticket the other filters let through and sort them after. (SQLite
            # reads in order by itself, and would copy the whole subquery out instead.)
            fenced = aliased(Ticket, page.offset(0).subquery())
            page = (
                select(fenced)
                .where(scanned(ticket=fenced))
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


# Every figure in one pass over the open tickets' entries of one index, which holds the status,
# queue and assignee (ix_ticket_open, migration 0007_supervisors): no ticket row is read, and
# there are few open tickets however many the year holds. Named on SQLite, whose planner would
# rather walk the (status, queue_id) index and read each ticket for its assignee.
_OPEN_COUNTS = (
    "SELECT queue_id, count(*),"
    " count(*) FILTER (WHERE assignee_id IS NULL),"
    " count(*) FILTER (WHERE assignee_id = :me)"
    " FROM ticket{hint} WHERE status IN :statuses GROUP BY queue_id"
)


async def open_counts(
    session: AsyncSession, principal: Principal, queues: Iterable[Queue] | None = None
) -> OpenCounts:
    """The counts for the queue page; ``queues``: the queues already read (all of them, or
    at least those the principal may see), to name them without reading them again."""
    statement = sql(_OPEN_COUNTS.format(hint=use_index(session, "ix_ticket_open"))).bindparams(
        bindparam("statuses", expanding=True)
    )
    rows = await session.execute(
        statement,
        {"me": principal.agent_id, "statuses": [s.value for s in OPEN_STATUSES]},
    )
    counted: dict[int, int] = {}
    unassigned = mine = 0
    for queue_id, count, free, own in rows:
        if principal.can_see_queue(queue_id):
            counted[queue_id] = int(count)
            unassigned += int(free or 0)
            mine += int(own or 0)
    if queues is None:
        queues = await session.scalars(select(Queue).where(col(Queue.id).in_(counted)))
    by_queue = {q.slug: counted[q.id] for q in queues if q.id in counted}
    return OpenCounts(sum(by_queue.values()), unassigned, mine, by_queue)
