"""``/api/v1/tickets``: the list and its filters, one ticket, replies, notes and changes."""

from __future__ import annotations

from datetime import datetime

import httpx2
import pytest
from sqlalchemy import update
from sqlmodel import col, select

from carecentre.contract import IdentityKind
from carecentre.models import ContactIdentity, Event, Message, OutboxItem, Ticket
from carecentre.references import parse_reference
from carecentre.services import Services
from tests.support.api import ADMIN_EMAIL, Api

MESSAGE_FIELDS = {
    "id",
    "direction",
    "channel",
    "body",
    "author",
    "created_at",
    "delivery_status",
    "attachments",
}
TICKET_FIELDS = {
    "reference",
    "status",
    "resolution",
    "priority",
    "queue",
    "channel",
    "subject",
    "contact",
    "assignee",
    "created_at",
    "updated_at",
    "first_response_at",
    "due_at",
    "messages",
}


def _error(response: httpx2.Response, status: int, field: str | None = None) -> dict[str, str]:
    """The error of a response, after checking its status (and the field it names)."""
    assert response.status_code == status, response.text
    error: dict[str, str] = response.json()["error"]
    assert error["code"]
    assert error["message"]
    if field is not None:
        assert error.get("field") == field, error
        assert field in error["message"]
    return error


# -- the list ---------------------------------------------------------------------------------


def test_list_returns_items_and_next_cursor(api: Api) -> None:
    first = api.sms("My green bin was missed on Elm St", queue="waste")
    second = api.email("Pothole on Main", "A big hole at 125 Main", name="Marie T", queue="roads")

    body = api.get("/tickets").json()

    assert body["next_cursor"] is None
    assert [item["reference"] for item in body["items"]] == [first, second]  # due soonest first
    item = body["items"][1]
    assert set(TICKET_FIELDS) - {"messages"} <= set(item)
    assert item["queue"] == "roads"
    assert item["channel"] == "email"
    assert item["status"] == "new"
    assert item["subject"] == "Pothole on Main"
    assert item["contact"]["name"] == "Marie T"
    assert item["contact"]["identities"] == [
        {"channel": "email", "address": "resident@example.org", "opted_out": False}
    ]


def test_an_empty_list(api: Api) -> None:
    assert api.get("/tickets").json() == {"items": [], "next_cursor": None}


def test_cursor_walks_every_ticket_exactly_once(api: Api, subtests: pytest.Subtests) -> None:
    references = [api.sms(f"Question {n}", sender=f"+1613555{n:04d}") for n in range(7)]
    # Activity in another order than creation, and two tickets with the same times: ties must
    # be broken by id on every page boundary.
    api.post(f"/tickets/{references[2]}/notes", {"body": "touched"})
    api.post(f"/tickets/{references[0]}/notes", {"body": "touched"})
    same = datetime.fromisoformat(api.ticket(references[4])["updated_at"])
    api.execute(
        update(Ticket)
        .where(col(Ticket.reference).in_([references[5], references[6]]))
        .values(updated_at=same, due_at=same)
    )
    # A ticket without a due time sorts after every dated one.
    api.execute(update(Ticket).where(col(Ticket.reference) == references[1]).values(due_at=None))

    for order in ("due", "-created", "-updated"):
        with subtests.test(order=order):
            seen = _walk(api, order)
            assert sorted(seen) == sorted(references)
            assert len(seen) == len(set(seen)) == 7
            assert seen == api.references(order=order, limit="100")  # one list, cut in pages
            if order == "due":
                assert seen[-1] == references[1]
            if order == "-created":
                assert seen == references[::-1]
            if order == "-updated":
                assert seen[:2] == [references[0], references[2]]


def _walk(api: Api, order: str) -> list[str]:
    """Every page of the list, two tickets at a time, following next_cursor."""
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        params = {"order": order, "limit": "2", **({"cursor": cursor} if cursor else {})}
        body = api.get("/tickets", params=params).json()
        assert len(body["items"]) <= 2
        seen += [item["reference"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError(f"more than 10 pages: {seen}")


def test_a_cursor_stays_stable_when_tickets_arrive(api: Api) -> None:
    old = [api.sms(f"Old {n}", sender=f"+1613555{n:04d}") for n in range(3)]
    page = api.get("/tickets", params={"order": "-created", "limit": "2"}).json()
    api.sms("New one", sender="+16135559999")

    rest = api.get(
        "/tickets", params={"order": "-created", "limit": "2", "cursor": page["next_cursor"]}
    ).json()

    assert [i["reference"] for i in page["items"] + rest["items"]] == old[::-1]
    assert rest["next_cursor"] is None


def test_filter_by_status_takes_a_comma_list(api: Api) -> None:
    new = api.sms("one", sender="+16135550001")
    pending = api.sms("two", sender="+16135550002")
    resolved = api.sms("three", sender="+16135550003")
    api.patch(f"/tickets/{pending}", {"status": "pending"})
    api.patch(f"/tickets/{resolved}", {"status": "resolved", "resolution": "fixed"})

    assert api.references(status="new") == [new]
    assert sorted(api.references(status="new, pending")) == sorted([new, pending])
    assert api.references(status="resolved") == [resolved]
    assert api.references(status="closed") == []
    assert len(api.references(status="")) == 3


def test_filter_by_queue_and_channel(api: Api) -> None:
    roads = api.email("Pothole", queue="roads")
    waste = api.sms("Missed bin", queue="waste")

    assert api.references(queue="roads") == [roads]
    assert api.references(queue="waste") == [waste]
    assert api.references(queue="parking") == []
    assert api.references(channel="sms") == [waste]
    assert sorted(api.references(channel="sms,email")) == sorted([roads, waste])
    assert api.references(channel="voice") == []
    assert api.references(queue="roads", channel="sms") == []


def test_filter_by_assignee(api: Api) -> None:
    agent_id, agent_token = api.agent("sam@city.example")
    mine = api.sms("one", sender="+16135550001")
    theirs = api.sms("two", sender="+16135550002")
    nobody = api.sms("three", sender="+16135550003")
    api.patch(f"/tickets/{mine}", {"assignee": ADMIN_EMAIL})
    api.patch(f"/tickets/{theirs}", {"assignee": agent_id})

    assert api.references(assignee="me") == [mine]
    assert api.references(assignee="me", token=agent_token) == [theirs]
    assert api.references(assignee="none") == [nobody]
    assert api.references(assignee="sam@city.example") == [theirs]
    assert api.references(assignee="Sam@City.Example") == [theirs]
    assert api.references(assignee=str(agent_id)) == [theirs]
    assert api.references(assignee=str(api.admin_id)) == [mine]


SEARCHES = [
    ("green bin", "sms"),  # a message body
    ("GREEN BIN", "sms"),  # any case
    ("pothole", "email"),  # the subject
    ("Tremblay", "email"),  # the contact's name
    ("resident.example", "email"),  # an address
    ("5550123", "sms"),  # a phone number
    ("125 rue", "email"),  # a later message, a note
]


def test_search(api: Api, subtests: pytest.Subtests) -> None:
    sms = api.sms("My green bin was missed", sender="+16135550123")
    email = api.email(
        "Pothole on Principale",
        "Bonjour",
        sender="marie.tremblay@resident.example",
        name="Marie Tremblay",
    )
    api.sms("Something else entirely", sender="+16135550999")
    api.post(f"/tickets/{email}/notes", {"body": "Crew sent to 125 rue Principale"})
    references = {"sms": sms, "email": email}

    for query, expected in SEARCHES:
        with subtests.test(q=query):
            assert api.references(q=query) == [references[expected]]


def test_search_by_reference_and_literal_wildcards(api: Api) -> None:
    ticket = api.sms("Fees are 100% too high", sender="+16135550001")
    api.sms("Fees are 100 too high", sender="+16135550002")

    assert api.references(q=ticket) == [ticket]
    assert api.references(q=ticket[3:]) == [ticket]
    assert api.references(q="100%") == [ticket]  # % is a character, not a wildcard
    assert api.references(q="_") == []
    assert api.references(q="nothing like this") == []


INVALID_FILTERS = [
    ({"status": "bogus"}, "status"),
    ({"status": "new,bogus"}, "status"),
    ({"channel": "fax"}, "channel"),
    ({"queue": "no-such-queue"}, "queue"),
    ({"assignee": "nobody@city.example"}, "assignee"),
    ({"assignee": "424242"}, "assignee"),
    ({"assignee": "99999999999999999999999"}, "assignee"),
    ({"assignee": "\u00b9"}, "assignee"),  # a digit to str.isdigit(), not to int()
    ({"order": "created"}, "order"),
    ({"limit": "0"}, "limit"),
    ({"limit": "101"}, "limit"),
    ({"limit": "-1"}, "limit"),
    ({"limit": "ten"}, "limit"),
]


def test_invalid_filters_are_422_naming_the_field(api: Api, subtests: pytest.Subtests) -> None:
    api.sms("hello")
    for params, field in INVALID_FILTERS:
        with subtests.test(**params):
            _error(api.get("/tickets", params=params), 422, field)


def test_a_deactivated_agent_is_no_assignee_filter(api: Api) -> None:
    agent_id, _token = api.agent("gone@city.example")
    api.deactivate(agent_id)
    _error(api.get("/tickets", params={"assignee": "gone@city.example"}), 422, "assignee")


def test_the_largest_page(api: Api) -> None:
    api.sms("hello")
    assert len(api.references(limit="100")) == 1
    assert len(api.references(limit="1")) == 1


# -- one ticket -------------------------------------------------------------------------------


def test_one_ticket_with_its_messages_oldest_first(api: Api) -> None:
    reference = api.sms("My green bin was missed", sender="+16135550123")
    api.sms("It is still there", sender="+16135550123")  # threads to the same ticket
    api.post(f"/tickets/{reference}/notes", {"body": "Truck 12 skipped Elm St"})
    api.post(f"/tickets/{reference}/replies", {"body": "We will come back tomorrow."})

    ticket = api.ticket(reference)

    assert set(ticket) >= TICKET_FIELDS
    assert ticket["reference"] == reference
    assert ticket["status"] == "open"  # answered
    assert ticket["first_response_at"] is not None
    messages = ticket["messages"]
    assert [(m["direction"], m["body"]) for m in messages] == [
        ("inbound", "My green bin was missed"),
        ("inbound", "It is still there"),
        ("note", "Truck 12 skipped Elm St"),
        ("outbound", "We will come back tomorrow."),
    ]
    for message in messages:
        assert set(message) >= MESSAGE_FIELDS
        assert message["channel"] == "sms"
    assert [m["created_at"] for m in messages] == sorted(m["created_at"] for m in messages)
    assert [m["id"] for m in messages] == sorted(m["id"] for m in messages)
    inbound, _, note, reply = messages
    # A contact without a name is shown by the address they wrote from.
    contact = {"type": "contact", "id": ticket["contact"]["id"], "name": "+16135550123"}
    assert inbound["author"] == contact
    assert inbound["delivery_status"] == "received"
    assert note["author"]["type"] == reply["author"]["type"] == "agent"
    assert note["author"]["name"] == "Admin"
    assert note["delivery_status"] is None
    assert reply["delivery_status"] == "queued"


def test_a_reference_is_found_however_it_is_written(api: Api) -> None:
    reference = api.sms("hello")
    digits = reference.replace("CC-", "").replace("-", "")

    for spelling in (digits, f"cc-{digits}", reference.lower()):
        assert api.ticket(spelling)["reference"] == reference


def test_unknown_and_malformed_references_are_404(api: Api, subtests: pytest.Subtests) -> None:
    api.sms("hello")
    for reference in (
        "CC-000-000-000",  # valid check digit, no such ticket
        "CC-123-456-789",  # bad check digit
        "not-a-reference",
        "CC-1",
        "%00",
        "x" * 300,
    ):
        with subtests.test(reference=reference[:20]):
            error = _error(api.get(f"/tickets/{reference}"), 404)
            assert error["code"] == "not_found"


def test_an_unknown_reference_is_404_for_every_method(api: Api) -> None:
    missing = "CC-000-000-000"
    assert parse_reference(missing) == missing
    _error(api.post(f"/tickets/{missing}/replies", {"body": "hi"}), 404)
    _error(api.post(f"/tickets/{missing}/notes", {"body": "hi"}), 404)
    _error(api.patch(f"/tickets/{missing}", {"priority": "high"}), 404)


# -- replies and notes ------------------------------------------------------------------------


def test_a_reply_is_queued_with_an_outbox_row(api: Api) -> None:
    reference = api.sms("My green bin was missed", sender="+16135550123")
    before = api.count(OutboxItem)

    response = api.post(f"/tickets/{reference}/replies", {"body": "  We will come back.  "})

    assert response.status_code == 202, response.text
    message = response.json()["message"]
    assert message["direction"] == "outbound"
    assert message["channel"] == "sms"
    assert message["address"] == "+16135550123"
    assert message["body"] == "We will come back."
    assert message["delivery_status"] == "queued"
    assert message["author"] == {"type": "agent", "id": api.admin_id, "name": "Admin"}
    assert api.count(OutboxItem) == before + 1
    ticket = api.ticket(reference)
    assert ticket["messages"][-1] == message
    assert ticket["status"] == "open"
    assert ticket["first_response_at"] == message["created_at"]


def test_a_reply_on_another_of_the_contacts_channels(api: Api) -> None:
    reference = api.email("Pothole", sender="marie@resident.example", name="Marie")
    contact_id = api.ticket(reference)["contact"]["id"]
    api.add_identity(contact_id, IdentityKind.PHONE, "+16135550177")

    response = api.post(f"/tickets/{reference}/replies", {"body": "Fixed today.", "channel": "sms"})

    assert response.status_code == 202, response.text
    message = response.json()["message"]
    assert (message["channel"], message["address"]) == ("sms", "+16135550177")
    assert api.ticket(reference)["channel"] == "email"  # the ticket's own channel stays

    to = api.post(
        f"/tickets/{reference}/replies",
        {"body": "Also by mail.", "channel": "email", "to": "marie@resident.example"},
    )
    assert to.status_code == 202, to.text
    assert to.json()["message"]["address"] == "marie@resident.example"


REFUSED = [
    ({"body": "hi", "channel": "email"}, "no email address"),
    ({"body": "hi", "channel": "voice"}, "calls cannot carry"),
    ({"body": "hi", "to": "+16135550100"}, "no phone address"),
    ({"body": "x" * 1601}, "at most 1600"),
]


def test_refused_replies_are_409_and_store_nothing(api: Api, subtests: pytest.Subtests) -> None:
    reference = api.sms("hello", sender="+16135550123")
    before = api.snapshot(reference)

    for body, words in REFUSED:
        with subtests.test(words=words):
            error = _error(api.post(f"/tickets/{reference}/replies", body), 409)
            assert error["code"] == "reply_refused"
            assert words in error["message"]

    assert api.snapshot(reference) == before


def test_no_reply_to_a_closed_ticket(api: Api) -> None:
    reference = api.sms("hello")
    api.patch(f"/tickets/{reference}", {"status": "closed"})
    before = api.snapshot(reference)

    error = _error(api.post(f"/tickets/{reference}/replies", {"body": "hi"}), 409)

    assert "closed" in error["message"]
    assert api.snapshot(reference) == before


def test_no_text_to_a_resident_who_opted_out(api: Api) -> None:
    reference = api.sms("hello", sender="+16135550123")
    api.execute(update(ContactIdentity).values(opted_out_at=datetime.now().astimezone()))

    error = _error(api.post(f"/tickets/{reference}/replies", {"body": "hi"}), 409)

    assert "opted out" in error["message"]
    assert api.ticket(reference)["contact"]["identities"][0]["opted_out"] is True


def test_a_note_is_stored_and_never_sent(api: Api) -> None:
    reference = api.sms("hello")
    outbox = api.count(OutboxItem)

    response = api.post(f"/tickets/{reference}/notes", {"body": "Called them back"})

    assert response.status_code == 201, response.text
    note = response.json()["message"]
    assert note["direction"] == "note"
    assert note["body"] == "Called them back"
    assert note["delivery_status"] is None
    assert api.count(OutboxItem) == outbox
    ticket = api.ticket(reference)
    assert ticket["messages"][-1] == note
    assert ticket["status"] == "new"  # a note is no answer
    assert ticket["first_response_at"] is None


def test_notes_on_closed_tickets_are_allowed(api: Api) -> None:
    reference = api.sms("hello")
    api.patch(f"/tickets/{reference}", {"status": "closed"})
    assert api.post(f"/tickets/{reference}/notes", {"body": "for the record"}).status_code == 201


# -- changes ----------------------------------------------------------------------------------


def test_patch_changes_each_field(api: Api) -> None:
    agent_id, _ = api.agent("sam@city.example")
    reference = api.sms("hello", queue="waste")

    ticket = api.patch(f"/tickets/{reference}", {"priority": "urgent"}).json()
    assert ticket["priority"] == "urgent"
    ticket = api.patch(f"/tickets/{reference}", {"queue": "roads"}).json()
    assert ticket["queue"] == "roads"
    ticket = api.patch(f"/tickets/{reference}", {"assignee": "sam@city.example"}).json()
    assert ticket["assignee"] == {"id": agent_id, "name": "Sam", "email": "sam@city.example"}
    ticket = api.patch(f"/tickets/{reference}", {"assignee": api.admin_id}).json()
    assert ticket["assignee"]["email"] == ADMIN_EMAIL
    ticket = api.patch(f"/tickets/{reference}", {"assignee": None}).json()
    assert ticket["assignee"] is None
    ticket = api.patch(f"/tickets/{reference}", {"status": "pending"}).json()
    assert ticket["status"] == "pending"
    ticket = api.patch(f"/tickets/{reference}", {"status": "resolved", "resolution": "fixed"})
    assert ticket.json()["status"] == "resolved"
    assert ticket.json()["resolution"] == "fixed"
    assert ticket.json()["resolved_at"] is not None

    assert api.ticket(reference) | {"messages": []} == ticket.json() | {"messages": []}


def test_patch_several_fields_at_once(api: Api) -> None:
    reference = api.sms("hello", queue="waste")
    ticket = api.patch(
        f"/tickets/{reference}",
        {"status": "open", "priority": "high", "queue": "bylaw", "assignee": ADMIN_EMAIL},
    ).json()
    assert (ticket["status"], ticket["priority"], ticket["queue"]) == ("open", "high", "bylaw")
    assert ticket["assignee"]["id"] == api.admin_id

    async def updates(svc: Services) -> list[dict[str, object]]:
        async with svc.db.read() as session:
            rows = await session.scalars(select(Event).where(Event.type == "ticket.updated"))
            return [row.data for row in rows]

    # One event for the whole change, naming the assignee, as the workspace's changes do.
    (event,) = api.run(updates)
    assert event["changed"] == {
        "status": "open",
        "priority": "high",
        "queue": "bylaw",
        "from_queue_id": event["changed"]["from_queue_id"],  # type: ignore[index]
        "assignee_id": api.admin_id,
    }
    assert event["assignee"] == {"id": api.admin_id, "name": "Admin"}
    assert event["by"] == api.admin_id


def test_a_closed_ticket_is_never_reopened(api: Api) -> None:
    reference = api.sms("hello")
    assert api.patch(f"/tickets/{reference}", {"status": "closed"}).json()["status"] == "closed"
    before = api.snapshot(reference)

    for status in ("open", "new", "pending", "resolved"):
        error = _error(api.patch(f"/tickets/{reference}", {"status": status}), 409)
        assert error["code"] == "illegal_transition"
        assert "closed" in error["message"]

    assert api.snapshot(reference) == before


INVALID_PATCHES: list[tuple[dict[str, object], str]] = [
    ({"queue": "no-such-queue"}, "queue"),
    ({"queue": ""}, "queue"),
    ({"queue": None}, "queue"),
    ({"assignee": "nobody@city.example"}, "assignee"),
    ({"assignee": 424242}, "assignee"),
    ({"assignee": -1}, "assignee"),
    ({"assignee": 10**30}, "assignee"),
    ({"assignee": True}, "assignee"),  # not agent 1
    ({"assignee": 1.0}, "assignee"),
    ({"status": "reopened"}, "status"),
    ({"status": None}, "status"),
    ({"priority": "whenever"}, "priority"),
    ({"priority": None}, "priority"),
    ({"resolution": "fixed"}, "resolution"),  # the ticket is not being resolved
    ({"status": "open", "resolution": "fixed"}, "resolution"),
    ({"resolution": None}, "resolution"),
    ({"reference": "CC-000-000-000"}, "reference"),
    ({"subject": "new subject"}, "subject"),
    ({"queue": "x" * 65}, "queue"),
]


def test_invalid_patches_are_422_naming_the_field(api: Api, subtests: pytest.Subtests) -> None:
    reference = api.sms("hello")
    before = api.snapshot(reference)

    for body, field in INVALID_PATCHES:
        with subtests.test(body=str(body)[:40]):
            _error(api.patch(f"/tickets/{reference}", body), 422, field)

    assert api.snapshot(reference) == before


def test_an_empty_patch_is_422(api: Api) -> None:
    reference = api.sms("hello")
    before = api.snapshot(reference)

    error = _error(api.patch(f"/tickets/{reference}", {}), 422)

    assert "at least one" in error["message"]
    assert api.snapshot(reference) == before


def test_no_assigning_a_deactivated_agent(api: Api) -> None:
    agent_id, _ = api.agent("gone@city.example")
    api.deactivate(agent_id)
    reference = api.sms("hello")
    _error(api.patch(f"/tickets/{reference}", {"assignee": agent_id}), 422, "assignee")


def test_a_reply_reaches_the_outbox_of_its_message(api: Api) -> None:
    reference = api.sms("hello")
    message = api.post(f"/tickets/{reference}/replies", {"body": "On it"}).json()["message"]

    async def outbox_of(svc: Services) -> list[int]:
        async with svc.db.read() as session:
            return list(
                await session.scalars(
                    select(OutboxItem.message_id).where(OutboxItem.message_id == message["id"])
                )
            )

    assert api.run(outbox_of) == [message["id"]]
    assert api.count(Message) == 2
