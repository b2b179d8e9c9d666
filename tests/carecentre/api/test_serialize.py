"""Ticket summaries: each ticket's resident, identities, queue, assignee and linked ticket, read
in a few queries for the whole list."""

from __future__ import annotations

from carecentre.api.serialize import summaries
from carecentre.contract import Channel, IdentityKind
from carecentre.models import Contact, ContactIdentity, Queue, Ticket
from carecentre.seed import add_agent
from carecentre.services import Services
from carecentre.states import Role
from tests.support.factories import ingest


async def test_summaries_read_every_neighbour_of_the_listed_tickets(svc: Services) -> None:
    first = await ingest(svc, Channel.SMS, "+16135550101", "Pothole on Elm Street")
    second = await ingest(svc, Channel.SMS, "+16135550102", "Streetlight out")
    assert first.ticket_id is not None
    assert second.ticket_id is not None
    async with svc.db.write() as session:
        agent = await add_agent(
            session, email="agent@city.example", name="Ada Agent", role=Role.AGENT, password=None
        )
        await session.flush()
        one = await session.get_one(Ticket, first.ticket_id)
        two = await session.get_one(Ticket, second.ticket_id)
        one.assignee_id = agent.id
        # A second identity for the first resident, and a resident without any for the second.
        session.add(
            ContactIdentity(
                contact_id=one.contact_id, kind=IdentityKind.EMAIL, address="ada@resident.example"
            )
        )
        nobody = Contact(name="No Address")
        session.add(nobody)
        await session.flush()
        assert nobody.id is not None
        two.contact_id = nobody.id
        two.linked_ticket_id = one.id
    async with svc.db.read() as session:
        one = await session.get_one(Ticket, first.ticket_id)
        two = await session.get_one(Ticket, second.ticket_id)
        queue = await session.get_one(Queue, one.queue_id)
        found = await summaries(session, [two, one])
        assert await summaries(session, []) == []
    assert [s.reference for s in found] == [two.reference, one.reference]
    later, earlier = found
    assert earlier.queue == queue.slug
    assert earlier.contact.id == one.contact_id
    assert [(i.channel, i.address, i.opted_out) for i in earlier.contact.identities] == [
        ("phone", "+16135550101", False),
        ("email", "ada@resident.example", False),
    ]
    assert earlier.assignee is not None
    assert (earlier.assignee.id, earlier.assignee.name) == (agent.id, "Ada Agent")
    assert earlier.assignee.email == "agent@city.example"
    assert earlier.linked_to is None
    assert later.contact.name == "No Address"
    assert later.contact.identities == []
    assert later.assignee is None
    assert later.linked_to == one.reference
