"""New tickets are routed by the rules, in order, and keep a record of why they landed where
they did; without a matching rule, the channel's hint or the default queue decides."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from carecentre.contract import Channel
from carecentre.models import Queue, Ticket
from carecentre.rules import parse_rule
from carecentre.rules_store import save_rule
from carecentre.seed import ensure_queues
from carecentre.services import Services
from carecentre.states import Priority
from carecentre.supervision_models import RoutingRule, TicketRoute
from carecentre.workspace import tags_of
from tests.support.factories import events_of, ingest


async def _rules(svc: Services, *rules: dict[str, Any]) -> None:
    async with svc.db.write() as session:
        await ensure_queues(session)
    for rule in rules:
        await svc.db.run_write(lambda s, r=rule: save_rule(s, parse_rule(r)).id)


async def _landed(svc: Services, ticket_id: int) -> tuple[str, Priority, list[str], TicketRoute]:
    async with svc.db.read() as session:
        ticket = await session.get_one(Ticket, ticket_id)
        queue = await session.get_one(Queue, ticket.queue_id)
        route = await session.get_one(TicketRoute, ticket_id)
        tags = (await tags_of(session, [ticket_id])).get(ticket_id, [])
    return queue.slug, ticket.priority, tags, route


async def test_the_first_matching_rule_routes_the_ticket_and_is_recorded(svc: Services) -> None:
    await _rules(
        svc,
        {
            "name": "Council",
            "when": {"email_domain": ["council.example"]},
            "then": {"priority": "high"},
        },
        {
            "name": "Potholes",
            "when": {"words": ["pothole"]},
            "then": {"queue": "roads", "priority": "urgent", "tags": ["pothole", "winter"]},
        },
        {
            "name": "Everything else by text",
            "when": {"channel": ["sms"]},
            "then": {"queue": "waste"},
        },
    )

    pothole = await ingest(svc, Channel.SMS, "+16135550123", "A huge POTHOLE on Elm")
    slug, priority, tags, route = await _landed(svc, pothole.ticket_id)
    assert (slug, priority, tags) == ("roads", Priority.URGENT, ["pothole", "winter"])
    assert (route.how, route.label) == ("rule", "rule “Potholes”")
    async with svc.db.read() as session:
        rule_id = await session.scalar(select(RoutingRule.id).where(RoutingRule.name == "Potholes"))
    assert route.rule_id == rule_id

    # An earlier rule wins even when a later one matches too; it sets no queue, so the default.
    council = await ingest(
        svc, Channel.EMAIL, "clerk@council.example", "pothole report", subject="Pothole"
    )
    slug, priority, tags, route = await _landed(svc, council.ticket_id)
    assert (slug, priority, tags, route.label) == ("general", Priority.HIGH, [], "rule “Council”")

    other = await ingest(svc, Channel.SMS, "+16135550999", "My bin")
    assert (await _landed(svc, other.ticket_id))[0] == "waste"

    created = await events_of(svc, "ticket.created")
    assert [e.data["routed_by"] for e in created] == [
        "rule “Potholes”",
        "rule “Council”",
        "rule “Everything else by text”",
    ]


async def test_without_a_rule_the_hint_or_the_default_decides(svc: Services) -> None:
    await _rules(svc, {"name": "Snow", "when": {"words": ["snow"]}, "then": {"queue": "roads"}})
    hinted = await ingest(svc, Channel.VOICE, "+16135550123", "(voicemail)", queue_hint="waste")
    plain = await ingest(svc, Channel.EMAIL, "a@example.org", "Hello", subject="Question")

    slug, _, _, route = await _landed(svc, hinted.ticket_id)
    assert (slug, route.how, route.label) == ("waste", "hint", "the voice option “waste”")
    slug, priority, _, route = await _landed(svc, plain.ticket_id)
    assert (slug, priority, route.how) == ("general", Priority.NORMAL, "default")
    assert route.label == "no rule matched: the default queue"


async def test_a_rule_whose_queue_was_switched_off_since_is_passed_over(svc: Services) -> None:
    await _rules(
        svc,
        {"name": "Parking", "when": {"words": ["parking"]}, "then": {"queue": "parking"}},
        {"name": "Fallback", "when": {"words": ["parking"]}, "then": {"queue": "bylaw"}},
    )
    async with svc.db.write() as session:
        await session.execute(
            update(Queue).where(col(Queue.slug) == "parking").values(active=False)
        )
    result = await ingest(svc, Channel.SMS, "+16135550123", "parking ticket question")
    slug, _, _, route = await _landed(svc, result.ticket_id)
    assert (slug, route.label) == ("bylaw", "rule “Fallback”")
