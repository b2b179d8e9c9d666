"""Ticket filters: parsed once for the queue page and the API, and given back as parameters."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from carecentre.access import Principal
from carecentre.api import paging
from carecentre.contract import Channel
from carecentre.models import Contact, Queue, Ticket
from carecentre.seed import add_agent, ensure_queues
from carecentre.services import Services
from carecentre.states import Role, TicketStatus
from carecentre.ticket_search import (
    INDEXED_HITS,
    PARTS,
    InvalidFilter,
    TicketFilters,
    find_tickets,
    index_lookup,
    indexed_matches,
    open_counts,
    search_clause,
)
from tests.support.factories import ingest


def test_filters_round_trip_through_query_parameters() -> None:
    params = {"status": "new,open", "channel": "sms", "queue": "roads", "assignee": "7", "q": "elm"}
    filters = TicketFilters.from_params(params)
    assert filters.statuses == (TicketStatus.NEW, TicketStatus.OPEN)
    assert filters.channels == (Channel.SMS,)
    assert filters.to_params() == params
    assert TicketFilters.from_params(filters.to_params()) == filters


def test_shortcuts_for_unassigned_and_mine() -> None:
    assert TicketFilters.from_params({"unassigned": "1"}).assignee == "none"
    assert TicketFilters.from_params({"mine": "true"}).assignee == "me"
    assert TicketFilters.from_params({}).assignee is None


def test_search_text_is_trimmed_and_bounded() -> None:
    assert TicketFilters.from_params({"q": "  elm  "}).text == "elm"
    assert len(TicketFilters.from_params({"q": "x" * 500}).text) == 200


@pytest.mark.parametrize("name", ["status", "channel"])
def test_unknown_choices_name_the_field(name: str) -> None:
    with pytest.raises(InvalidFilter) as refused:
        TicketFilters.from_params({name: "bogus"})
    assert refused.value.field == name
    assert str(refused.value).startswith(f"{name}: use one or more of")


# -- the search indexes ------------------------------------------------------------------------

SEARCHED = [
    ("+16135550123", "My green bin was missed on Elm Street", {}),
    ("+16135550177", "Nid-de-poule devant le 125 rue Principale, ÉNORME", {}),
    ("g.okafor@resident.example", "Fees are 100% too high", {"subject": "Water bill"}),
    ("marie.tremblay@resident.example", "Bonjour", {"subject": "Côté rue", "name": "Marie"}),
]
QUERIES = [
    "green bin", "GREEN BIN", "rue principale", "125 rue", "5550123", "resident.example",
    "Okafor", "water BILL", "100%", "0%", "Tremblay", "côté", "nothing like this", "e_m", "bin",
]  # fmt: skip


async def _searched(svc: Services) -> list[int]:
    ids = []
    for sender, body, extra in SEARCHED:
        channel = Channel.EMAIL if "@" in sender else Channel.SMS
        fields = dict(extra)
        if "name" in fields:
            fields["sender_name"] = fields.pop("name")
        result = await ingest(svc, channel, sender, body, **fields)
        assert result.ticket_id is not None
        ids.append(result.ticket_id)
    return ids


async def _by_scan(session: AsyncSession, text: str) -> set[int]:
    found = set(await session.scalars(select(Ticket.id).where(search_clause(text))))
    if session.get_bind().dialect.name == "sqlite":
        # SQLite's plain LIKE, which the scan uses there, finds the same as ILIKE.
        clause = search_clause(text, sqlite=True)
        assert set(await session.scalars(select(Ticket.id).where(clause))) == found, text
    return found


async def _by_index(session: AsyncSession, text: str, hits: int = INDEXED_HITS) -> set[int] | None:
    clause = await indexed_matches(session, text, hits=hits)
    if clause is None:
        return None
    return set(await session.scalars(select(Ticket.id).where(clause)))


async def test_the_search_indexes_find_what_the_scan_finds(svc: Services) -> None:
    await _searched(svc)
    async with svc.db.read() as session:
        for text in QUERIES:
            # Under three characters there is no trigram to look up: the scan answers.
            expected = await _by_scan(session, text) if len(text) >= 3 else None
            assert await _by_index(session, text) == expected, text
        assert await _by_scan(session, "green bin")


async def test_the_search_indexes_follow_changes(svc: Services) -> None:
    first, *_ = await _searched(svc)
    async with svc.db.write() as session:
        ticket = await session.get_one(Ticket, first)
        ticket.subject = "Streetlight flickering"
        contact = await session.get_one(Contact, ticket.contact_id)
        contact.name = "Grace Okonkwo"
    async with svc.db.read() as session:
        for text in ("flickering", "Okonkwo", "Okafor", "green bin"):
            assert await _by_index(session, text) == await _by_scan(session, text), text
        assert await _by_index(session, "Okonkwo") == {first}


async def test_common_text_is_left_to_the_scan(svc: Services) -> None:
    await _searched(svc)
    async with svc.db.read() as session:
        # Found in more rows than the limit allows: read ticket by ticket instead.
        assert await _by_index(session, "rue", hits=1) is None
        assert await _by_index(session, "Okafor", hits=1) is not None


async def test_a_scanned_search_pages_in_the_lists_order(svc: Services) -> None:
    ids = await _searched(svc)
    everyone = Principal(0, "", "", Role.ADMIN, None)
    # Two characters: no trigram, so the tickets are read in order and tested one by one.
    filters = TicketFilters(text="ue")
    async with svc.db.write() as session:
        # Dated and undated tickets both, so that the pages cross from one part to the other.
        ticket = await session.get_one(Ticket, ids[3])  # "Côté rue"
        ticket.due_at = None
    async with svc.db.read() as session:
        expected = await _by_scan(session, "ue")
        assert {ids[1], ids[3]} <= expected
        everything, more = await find_tickets(session, everyone, filters, limit=50)
        assert {t.id for t in everything} == expected
        assert not more
        walked: list[int] = []
        after = None
        for _ in range(len(expected) + 1):
            page, more = await find_tickets(session, everyone, filters, limit=1, after=after)
            walked += [t.id or 0 for t in page]
            if not more:
                break
            after = paging.next_values("due", page[-1])
        assert walked == [t.id for t in everything]


async def test_common_parts_alone_are_tested_ticket_by_ticket(svc: Services) -> None:
    await _searched(svc)
    async with svc.db.read() as session:
        sqlite = session.get_bind().dialect.name == "sqlite"
        # "resident.example": in two addresses only, so common there; the bodies' index is
        # then not asked, and the bodies are tested ticket by ticket as well.
        found = await index_lookup(session, "resident.example", hits=1)
        assert found is not None
        assert found.common == {"address", "body"}
        found = await index_lookup(session, "Okafor", hits=1)
        assert found is not None
        assert not found.common
        assert found.contacts
        assert await index_lookup(session, "ue") is None
        for hits in (0, 1, 2, INDEXED_HITS):
            for text in QUERIES:
                found = await index_lookup(session, text, hits=hits)
                if found is None:
                    continue
                assert found.common <= set(PARTS)
                clause = found.clause(text, sqlite=sqlite)
                matched = set(await session.scalars(select(Ticket.id).where(clause)))
                assert matched == await _by_scan(session, text), (hits, text)


@pytest.mark.parametrize("hits", [0, 1, INDEXED_HITS])
async def test_a_search_mixing_indexed_and_common_parts_pages_in_order(
    svc: Services, hits: int
) -> None:
    ids = await _searched(svc)
    everyone = Principal(0, "", "", Role.ADMIN, None)
    async with svc.db.write() as session:
        # Dated and undated tickets both, so that the pages cross from one part to the other.
        ticket = await session.get_one(Ticket, ids[3])  # "Côté rue"
        ticket.due_at = None
    for text in ("rue", "resident.example", "Okafor", "e_m"):
        filters = TicketFilters(text=text)
        async with svc.db.read() as session:
            found = await index_lookup(session, text, hits=hits)
            assert found is not None
            # hits=1: "rue" is common in subjects, so the tickets are read in order, and its
            # one body is tested there too rather than asked of the bodies' index.
            if hits == 1 and text == "rue":
                assert found.common == {"subject", "body"}
                assert not found.tickets
            expected = await _by_scan(session, text)
            everything, more = await find_tickets(session, everyone, filters, hits=hits)
            assert {t.id for t in everything} == expected, (hits, text)
            assert not more
            walked: list[int] = []
            after = None
            for _ in range(len(expected) + 1):
                page, more = await find_tickets(
                    session, everyone, filters, limit=1, after=after, hits=hits
                )
                walked += [t.id or 0 for t in page]
                if not more:
                    break
                after = paging.next_values("due", page[-1])
            assert walked == [t.id for t in everything], (hits, text)


async def test_the_bodies_index_is_asked_only_when_no_other_part_is_common(
    svc: Services,
) -> None:
    everyone = Principal(0, "", "", Role.ADMIN, None)
    mail = [
        ("a@one.example", "The hydrant on Oak leaks", {"subject": "Water"}),
        ("b@two.example", "Hydrant open again", {"subject": "Street"}),
        ("c@three.example", "Thank you", {"subject": "Parks", "sender_name": "Ann Hydrant"}),
        ("d@four.example", "Nothing to see", {"subject": "Other"}),
    ]
    ids = []
    for sender, body, fields in mail:
        ids.append((await ingest(svc, Channel.EMAIL, sender, body, **fields)).ticket_id)
    async with svc.db.read() as session:
        # Common in bodies only: the others' indexes find Ann's ticket, the bodies are scanned.
        found = await index_lookup(session, "hydrant", hits=1)
        assert found is not None
        assert found.common == {"body"}
        assert found.contacts
        page, more = await find_tickets(session, everyone, TicketFilters(text="hydrant"), hits=1)
        assert {t.id for t in page} == set(ids[:3]) == await _by_scan(session, "hydrant")
        assert not more
        # Found in no more rows than the limit anywhere: every index is asked.
        found = await index_lookup(session, "hydrant", hits=2)
        assert found is not None
        assert not found.common
        assert found.tickets == set(ids[:2])


async def test_open_counts_are_what_the_principal_may_see(svc: Services) -> None:
    ids = await _searched(svc)
    async with svc.db.write() as session:
        await ensure_queues(session)
        await session.flush()
        queues = list(await session.scalars(select(Queue).order_by(Queue.id)))  # type: ignore[arg-type]
        agent = await add_agent(
            session, email="a@city.example", name="A", role=Role.AGENT, password=None
        )
        await session.flush()
        assert agent.id is not None
        assert len(queues) >= 2
        for index, ticket_id in enumerate(ids):
            ticket = await session.get_one(Ticket, ticket_id)
            ticket.queue_id = queues[index % 2].id or 0
            ticket.assignee_id = agent.id if index < 3 else None
        (await session.get_one(Ticket, ids[0])).status = TicketStatus.RESOLVED
    first, second = queues[0], queues[1]
    assert first.id is not None
    assert second.id is not None
    everyone = Principal(agent.id, "", "", Role.ADMIN, None)
    limited = Principal(agent.id, "", "", Role.AGENT, frozenset({second.id}))
    async with svc.db.read() as session:
        # ids[0] (first queue, resolved) is not counted; ids[2] first queue, ids[1] and ids[3]
        # the second; all but ids[3] are the agent's.
        counts = await open_counts(session, everyone)
        assert counts.by_queue == {first.slug: 1, second.slug: 2}
        assert (counts.total, counts.unassigned, counts.mine) == (3, 1, 2)
        counts = await open_counts(session, limited, queues)
        assert counts.by_queue == {second.slug: 2}
        assert (counts.total, counts.unassigned, counts.mine) == (2, 1, 1)
        other = Principal(agent.id + 1000, "", "", Role.AGENT, None)
        assert (await open_counts(session, other)).mine == 0
