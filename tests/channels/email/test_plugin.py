"""The email channel running in the app: acknowledgements, mail loops that stop by themselves,
and replies that survive a relay outage."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import update
from sqlmodel import col

from carecentre.app import running
from carecentre.coltypes import utcnow
from carecentre.contract import Channel
from carecentre.ingest import ACKS_PER_HOUR
from carecentre.metrics import Metrics
from carecentre.models import Message, OutboxItem, Ticket
from carecentre.states import DeliveryStatus, Direction
from channels.email.plugin import plugin, receivers
from tests.channels.email.conftest import RESIDENT, MailApp, MakeMailApp, mail
from tests.conftest import make_settings
from tests.fakes.smtp_sink import SmtpSink, free_port
from tests.support import databases


async def test_a_new_ticket_is_acknowledged_with_its_reference(app: MailApp) -> None:
    await app.send(mail())
    [ticket] = await app.tickets()
    assert await app.dispatch() == 1
    [ack] = await app.sink.arrived(1)
    assert ack.recipients == (RESIDENT,)
    assert ack.header("Subject") == f"Re: Pothole on Elm Street [{ticket.reference}]"
    assert ack.header("Auto-Submitted") == "auto-replied"
    text = ack.text()
    assert text.startswith("Hello Jane Doe,")
    assert f"opened request {ticket.reference}" in text
    assert "613-555-0311" in text
    [row] = await app.messages(Message.kind == "acknowledgement")
    assert row.subject == ack.header("Subject")
    assert row.delivery_status is DeliveryStatus.SENT


async def test_french_mail_gets_a_french_acknowledgement(app: MailApp) -> None:
    await app.send(
        mail("Nid-de-poule rue des Érables", "Bonjour", headers={"Content-Language": "fr-CA"})
    )
    await app.dispatch()
    [ack] = await app.sink.arrived(1)
    assert ack.text().startswith("Bonjour Jane Doe,")
    assert "Service à la clientèle de Kingsbridge" in ack.text()
    assert '<html lang="fr">' in ack.html()
    assert ack.header("Content-Language") == "fr"


async def test_a_robot_answering_every_mail_gets_at_most_acks_per_hour(app: MailApp) -> None:
    """The worst robot: every answer a brand-new mail, no threading, no automatic headers."""
    robot = "robot@example.net"
    await app.send(mail("Hello", "Hello", sender=robot, name="Robot"))
    answered = 0
    for round_ in range(3 * ACKS_PER_HOUR):
        await app.dispatch()
        delivered = app.sink.delivered
        if len(delivered) == answered:
            break
        for number, _ in enumerate(delivered[answered:]):
            await app.send(mail(f"Ticket {round_}.{number}", "Received!", sender=robot))
        answered = len(delivered)
    assert answered == ACKS_PER_HOUR
    # Everything it sent is still kept, on tickets, for a person to look at.
    assert await app.count(Ticket) == ACKS_PER_HOUR + 1


async def test_two_carecentres_mailing_each_other_stop_by_themselves(
    tmp_path: Path, sqlite_template: Path
) -> None:
    port_a, port_b = free_port(), free_port()
    # Each one's relay is the other one's SMTP receiver.
    settings = {}
    for name, domain, own, other in (
        ("a", "city-a.example", port_a, port_b),
        ("b", "city-b.example", port_b, port_a),
    ):
        folder = tmp_path / f"{name}2"
        folder.mkdir()
        settings[name] = make_settings(
            folder,
            databases.sqlite_copy(sqlite_template, folder),
            smtp_host="127.0.0.1",
            smtp_port=own,
            smtp_relay_url=f"smtp://127.0.0.1:{other}",
            mail_domains=domain,
            mail_from=f"customercare@{domain}",
            run_dispatcher=False,
        ).model_copy(update={"secret_key": SecretStr(f"secret-of-{domain}")})
    async with (
        running(settings["a"], Metrics(), plugins=[plugin, receivers], dispatch=False) as svc_a,
        running(settings["b"], Metrics(), plugins=[plugin, receivers], dispatch=False) as svc_b,
    ):
        a = MailApp(svc_a, settings["a"], SmtpSink(port_b))
        b = MailApp(svc_b, settings["b"], SmtpSink(port_a))
        # B's Customer Care writes to A's (a person, not a robot: A acknowledges it).
        await a.send(
            mail("Shared culvert", "Can we talk?", sender="customercare@city-b.example"),
            mail_from="customercare@city-b.example",
            to=("customercare@city-a.example",),
        )
        # Then each side's agent answers the other, once.
        rounds = await _pump(a, b)
        [ticket_a] = await a.tickets()
        [ticket_b] = await b.tickets()
        await a.reply(ticket_a.reference, "Yes: Tuesday?")
        rounds += await _pump(a, b)
        await b.reply(ticket_b.reference, "Tuesday is fine.")
        rounds += await _pump(a, b)

        # A acknowledged B's first mail; B never acknowledged A's acknowledgement, and
        # every later mail threaded onto the one ticket each side has.
        assert await a.count(Message, Message.kind == "acknowledgement") == 1
        assert await b.count(Message, Message.kind == "acknowledgement") == 0
        assert (await a.count(Ticket), await b.count(Ticket)) == (1, 1)
        inbound_a = await a.messages(Message.direction == Direction.INBOUND)
        inbound_b = await b.messages(Message.direction == Direction.INBOUND)
        assert [m.body_text.split("\n")[0] for m in inbound_a] == [
            "Can we talk?",
            "Tuesday is fine.",
        ]
        assert [m.automatic for m in inbound_b] == [True, False]  # A's ack, then A's agent
        assert rounds <= 6


async def _pump(a: MailApp, b: MailApp) -> int:
    """Dispatch both outboxes until nothing moves (receiving happens before each 250)."""
    for rounds in range(1, 20):
        if not await a.dispatch() + await b.dispatch():
            return rounds
    raise AssertionError("the two instances kept mailing each other")


async def test_a_day_without_relay_loses_nothing_and_sends_nothing_twice(
    make_mail_app: MakeMailApp,
) -> None:
    async with make_mail_app(outbox_max_delay=0.02) as app:
        app.sink.down()
        await app.send(mail())
        await app.send(mail("Broken streetlight", sender="ahmed@example.org", name="Ahmed"))
        first, second = await app.tickets()
        await app.reply(first.reference, "A crew is on its way.")
        await app.reply(second.reference, "We replaced the bulb.")

        # The relay is down: every pass fails, and every reply waits.
        for _ in range(10):
            await app.dispatch()
            await asyncio.sleep(0.03)
        items = await app.outbox()
        assert len(items) == 4
        assert {item.state for item in items} == {"pending"}
        assert min(item.attempts for item in items) >= 5
        for message in await app.messages(Message.direction == Direction.OUTBOUND):
            assert message.delivery_status is DeliveryStatus.QUEUED
            assert message.delivery_error is not None
            assert "cannot be reached" in message.delivery_error

        # A day goes by (the outbox gives up only after OUTBOX_GIVE_UP_AFTER, two days).
        async with app.svc.db.write() as session:
            await session.execute(
                update(OutboxItem).values(
                    created_at=utcnow() - timedelta(hours=23), next_attempt_at=utcnow()
                )
            )
        await app.dispatch()
        assert {item.state for item in await app.outbox()} == {"pending"}

        # The relay is back: each reply goes out, once.
        app.sink.up()
        for _ in range(10):
            await app.dispatch()
            await asyncio.sleep(0.03)
        delivered = app.sink.delivered
        assert len(delivered) == 4
        assert len({mail_.header("Message-ID") for mail_ in delivered}) == 4
        assert {item.state for item in await app.outbox()} == {"done"}
        for message in await app.messages(Message.direction == Direction.OUTBOUND):
            assert message.delivery_status is DeliveryStatus.SENT
            assert message.delivery_error is None
        assert await app.dispatch() == 0
        assert len(app.sink.delivered) == 4


async def test_a_reply_past_the_give_up_time_is_marked_failed_not_dropped(
    make_mail_app: MakeMailApp,
) -> None:
    async with make_mail_app() as app:
        app.sink.down()
        await app.send(mail())
        async with app.svc.db.write() as session:
            await session.execute(
                update(OutboxItem).values(created_at=utcnow() - timedelta(days=3))
            )
        await app.dispatch()
        [item] = await app.outbox()
        assert item.state == "failed"
        [ack] = await app.messages(col(Message.kind) == "acknowledgement")
        assert ack.delivery_status is DeliveryStatus.FAILED
        assert ack.delivery_error is not None
        assert ack.delivery_error.startswith("gave up after")


async def test_without_a_relay_replies_wait_in_the_outbox(make_mail_app: MakeMailApp) -> None:
    async with make_mail_app(smtp_relay_url=None) as app:
        assert app.svc.senders.get(Channel.EMAIL) is None
        await app.send(mail())
        await app.dispatch()
        [item] = await app.outbox()
        assert item.state == "pending"
        assert item.last_error == "no sender is configured for email"
