"""Tags and canned responses: normalized tags, checked variables, rendering for a ticket."""

from __future__ import annotations

import pytest
from sqlmodel import select

from carecentre.models import Event, Ticket
from carecentre.services import Services
from carecentre.workspace import (
    WorkspaceError,
    check_canned,
    delete_canned,
    list_canned,
    normalize_tags,
    render_canned,
    save_canned,
    set_tags,
    tags_of,
)
from tests.support.factories import agent, sms_ticket


def test_tags_are_trimmed_lowercased_and_deduplicated() -> None:
    assert normalize_tags(" Snow ,snow, Sidewalk  repair,,") == ["snow", "sidewalk repair"]


@pytest.mark.parametrize("raw", ["<script>", "x" * 41, ",".join(f"t{i}" for i in range(21))])
def test_bad_tags_are_refused(raw: str) -> None:
    with pytest.raises(WorkspaceError):
        normalize_tags(raw)


async def test_setting_tags_replaces_them_and_records_one_event(svc: Services) -> None:
    ticket = await sms_ticket(svc)
    assert ticket.id is not None
    by = await agent(svc)
    async with svc.db.write() as session:
        row = await session.get_one(Ticket, ticket.id)
        assert await set_tags(session, row, "Snow, urgent", by=by) == ["snow", "urgent"]
    async with svc.db.write() as session:
        row = await session.get_one(Ticket, ticket.id)
        assert await set_tags(session, row, ["urgent", "snow"], by=by) == ["snow", "urgent"]
        assert await set_tags(session, row, "ice", by=by) == ["ice"]
    async with svc.db.write() as session:
        row = await session.get_one(Ticket, ticket.id)
        with pytest.raises(WorkspaceError):
            await set_tags(session, row, "<b>", by=by)
    async with svc.db.read() as session:
        assert (await tags_of(session, [ticket.id]))[ticket.id] == ["ice"]
        events = list(await session.scalars(select(Event).where(Event.type == "ticket.updated")))
    assert [e.data["changed"]["tags"] for e in events] == [["snow", "urgent"], ["ice"]]


def test_canned_variables_are_checked_and_filled() -> None:
    with pytest.raises(WorkspaceError, match="unknown variable 'name'"):
        check_canned("Hello", "Hello {{ name }}")
    with pytest.raises(WorkspaceError, match="title"):
        check_canned("  ", "body")
    title, body = check_canned("  Pothole   fixed ", "Hello {{resident_name}}, {{ reference }}.")
    assert title == "Pothole fixed"
    values = {"resident_name": "Grace", "reference": "CC-1", "agent_name": "Ana"}
    assert render_canned(body, values) == "Hello Grace, CC-1."
    assert render_canned(body, {**values, "resident_name": None}) == "Hello, CC-1."
    assert render_canned("— {{ agent_name }}", values) == "— Ana"


async def test_canned_responses_are_saved_renamed_and_deleted(svc: Services) -> None:
    by = await agent(svc)
    async with svc.db.write() as session:
        first = await save_canned(
            session, title="Thanks", body="Thank you {{ resident_name }}", by=by
        )
        await save_canned(session, title="Bye", body="Goodbye", by=by)
    async with svc.db.write() as session:
        with pytest.raises(WorkspaceError, match="another response"):
            await save_canned(session, title="Bye", body="x", by=by, canned_id=first.id)
    async with svc.db.write() as session:
        await save_canned(session, title="Thanks!", body="Merci", by=by, canned_id=first.id)
    async with svc.db.write() as session:
        assert [c.title for c in await list_canned(session)] == ["Bye", "Thanks!"]
        assert first.id is not None
        await delete_canned(session, first.id)
    async with svc.db.read() as session:
        assert [c.title for c in await list_canned(session)] == ["Bye"]
