"""The ticket page and what agents do on it: the resident's story across channels and tickets,
replies on any of their addresses, notes, claims, tags, changes and canned responses. A refused
form shows the reason, keeps what was typed, and stores nothing."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func
from sqlmodel import SQLModel, select

from carecentre.contract import Channel, IdentityKind, InboundMessage
from carecentre.models import ContactIdentity, Event, Message, OutboxItem, Ticket
from carecentre.services import Services
from carecentre.states import Role
from carecentre.workspace_models import TicketTag
from tests.agent_ui.conftest import Workspace

PHONE = "+16135550123"


def _counts(ws: Workspace) -> dict[str, int]:
    async def go(svc: Services) -> dict[str, int]:
        async with svc.db.read() as session:
            tables: tuple[type[SQLModel], ...] = (Message, OutboxItem, Event, TicketTag)
            return {
                t.__name__: int(await session.scalar(select(func.count()).select_from(t)) or 0)
                for t in tables
            }

    return ws.run(go)


def _ticket(ws: Workspace, reference: str) -> Ticket:
    async def go(svc: Services) -> Ticket:
        async with svc.db.read() as session:
            found = await session.scalar(select(Ticket).where(Ticket.reference == reference))
            assert found is not None
            return found

    return ws.run(go)


def _add_email(ws: Workspace, reference: str, address: str) -> None:
    async def go(svc: Services) -> None:
        async with svc.db.write() as session:
            ticket = await session.scalar(select(Ticket).where(Ticket.reference == reference))
            assert ticket is not None
            session.add(
                ContactIdentity(
                    contact_id=ticket.contact_id, kind=IdentityKind.EMAIL, address=address
                )
            )

    ws.run(go)


def test_the_whole_story_across_channels_and_earlier_tickets(ws: Workspace) -> None:
    ws.add_agent("ana@city.example")
    ana = ws.sign_in("ana@city.example")
    texted = ws.sms("The streetlight on Elm is out", sender=PHONE)
    ws.post(f"/tickets/{texted}/update", ana, {"status": "closed", "resolution": "fixed"})
    call = ws.ingest(
        InboundMessage(
            channel=Channel.VOICE,
            external_id="CA0001",
            sender=PHONE,
            body_text="(voicemail) It is out again",
        )
    ).reference
    assert call != texted
    page = ws.get(f"/tickets/{call}", ana)
    assert page.status_code == 200
    text = page.text.split('id="timeline"')[1]
    assert "The streetlight on Elm is out" in text
    assert "(voicemail) It is out again" in text
    assert text.index("The streetlight on Elm is out") < text.index("It is out again")
    assert f'on ticket <a href="/tickets/{texted}">' in text
    assert "Text message to +16135550123" in page.text  # a call is answered by text
    assert re.search(r"<dt>Opened</dt><dd>[^<]* by Phone</dd>", page.text)


def test_a_reply_goes_to_the_chosen_address_and_shows_its_delivery(ws: Workspace) -> None:
    ws.add_agent("ana@city.example")
    ana = ws.sign_in("ana@city.example")
    reference = ws.sms("Pothole", sender=PHONE)
    _add_email(ws, reference, "grace@example.org")
    page = ws.get(f"/tickets/{reference}", ana).text
    assert 'value="sms|+16135550123" data-channel="sms" selected' in page
    assert 'value="email|grace@example.org"' in page
    sent = ws.post(
        f"/tickets/{reference}/reply",
        ana,
        {"body": "We will fix it this week.", "to": "email|grace@example.org"},
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/tickets/{reference}?notice=reply-queued"
    page = ws.get(sent.headers["location"], ana).text
    assert "Your reply is queued for sending." in page
    assert "Email by Ana to grace@example.org" in page
    assert 'Delivery: <span class="delivery-status">Queued</span>' in page


def test_a_refused_reply_keeps_the_draft_and_stores_nothing(ws: Workspace) -> None:
    ws.add_agent("ana@city.example")
    ana = ws.sign_in("ana@city.example")
    reference = ws.sms("Pothole", sender=PHONE)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"body": "   ", "to": f"sms|{PHONE}"}, 409, "the reply is empty"),
        ({"body": "Hello", "to": "email|nobody@example.org"}, 409, "no email address"),
        ({"body": "Hello", "to": "pigeon|coop"}, 422, "Choose a valid reply channel"),
        ({"body": "x" * 1601, "to": f"sms|{PHONE}"}, 409, "at most 1600 characters"),
    ]
    before = _counts(ws)
    for form, status, reason in cases:
        response = ws.post(f"/tickets/{reference}/reply", ana, form)
        assert response.status_code == status, response.text
        assert reason in response.text
        assert form["body"].strip()[:50] in response.text  # the draft is still there
    assert _counts(ws) == before


def test_a_claimed_ticket_names_its_holder_to_the_next_claimer(ws: Workspace) -> None:
    ws.add_agent("ana@city.example", name="Ana Agent")
    ws.add_agent("ben@city.example", name="Ben Agent")
    ana, ben = ws.sign_in("ana@city.example"), ws.sign_in("ben@city.example")
    reference = ws.sms("Pothole")
    assert ws.post(f"/tickets/{reference}/claim", ana).status_code == 303
    lost = ws.post(f"/tickets/{reference}/claim", ben)
    assert lost.status_code == 409
    assert "Ana Agent has already claimed this ticket." in lost.text
    api = ws.client.post(
        f"/api/v1/tickets/{reference}/claim",
        headers={**ben.headers, "X-CSRF-Token": ben.csrf},
    )
    assert api.status_code == 409
    assert api.json()["error"] == {
        "code": "already_claimed",
        "message": "Ana Agent has already claimed this ticket",
    }
    refused = ws.post(f"/tickets/{reference}/release", ben)
    assert refused.status_code == 409
    assert ws.post(f"/tickets/{reference}/release", ana).status_code == 303
    assert _ticket(ws, reference).assignee_id is None


def test_notes_tags_and_changes(ws: Workspace) -> None:
    ws.add_agent("ana@city.example", name="Ana")
    ana = ws.sign_in("ana@city.example")
    reference = ws.sms("Pothole")
    assert ws.post(f"/tickets/{reference}/note", ana, {"note": "Crew booked"}).status_code == 303
    assert ws.post(f"/tickets/{reference}/tags", ana, {"tags": "Roads, Urgent"}).status_code == 303
    before = _counts(ws)
    bad = ws.post(f"/tickets/{reference}/tags", ana, {"tags": "roads, <script>"})
    assert bad.status_code == 422
    assert "roads, &lt;script&gt;" in bad.text  # kept, and escaped
    assert _counts(ws) == before
    changed = ws.post(
        f"/tickets/{reference}/update",
        ana,
        {"status": "resolved", "resolution": "fixed", "priority": "high", "queue": "roads"},
    )
    assert changed.status_code == 303
    page = ws.get(f"/tickets/{reference}", ana).text
    assert "Internal note by Ana" in page
    assert 'value="roads, urgent"' in page
    assert "resolved (fixed)" in page
    ticket = _ticket(ws, reference)
    assert (ticket.status.value, ticket.priority.value) == ("resolved", "high")
    before = _counts(ws)
    for form in (
        {"status": "new"},
        {"status": "open", "resolution": "fixed"},
        {"queue": "nowhere"},
        {"priority": "whenever"},
    ):
        refused = ws.post(f"/tickets/{reference}/update", ana, form)
        assert refused.status_code in (409, 422), form
        assert 'role="alert"' in refused.text
    assert _counts(ws) == before


def test_canned_responses_are_filled_in_for_the_ticket(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.add_agent("admin@city.example", role=Role.ADMIN, name="Ada Admin")
    admin = ws.sign_in("admin@city.example")
    body = "Hello {{ resident_name }}, about {{ reference }}: fixed. {{ agent_name }}"
    assert ws.post("/admin/canned", admin, {"title": "Fixed", "body": body}).status_code == 303
    reference = ws.email("Pothole", name="Grace Okafor")
    page = ws.get(f"/tickets/{reference}", admin).text
    assert f'data-body="Hello Grace Okafor, about {reference}: fixed. Ada Admin"' in page


def test_a_message_piece_for_the_live_timeline(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.add_agent("ana@city.example")
    ana = ws.sign_in("ana@city.example")
    reference = ws.sms("Pothole")
    again = ws.sms("It is getting bigger")

    async def newest(svc: Services) -> int:
        async with svc.db.read() as session:
            return int(await session.scalar(select(func.max(Message.id))) or 0)

    message_id = ws.run(newest)
    assert again == reference
    piece = ws.get(f"/tickets/{reference}/messages/{message_id}", ana)
    assert piece.status_code == 200
    assert piece.text.startswith(f'<li class="msg msg-inbound" id="message-{message_id}"')
    assert "It is getting bigger" in piece.text
    assert ws.get(f"/tickets/{reference}/messages/999999", ana).status_code == 404
    assert ws.get(f"/tickets/{reference}/messages/abc", ana).status_code == 404
