"""What received mail becomes, sent over real SMTP: threading (our Message-IDs, reply tokens,
references only from the ticket's contact), automatic mail never acknowledged, and bounces that
mark our message failed instead of opening a ticket."""

from __future__ import annotations

from carecentre.models import Message, Ticket
from carecentre.states import DeliveryStatus, Direction, TicketStatus
from channels.email.intake import Intake
from channels.email.plugin import identity
from tests.channels.email.conftest import CITY, RESIDENT, MailApp, mail, message_id_of
from tests.fakes.smtp_sink import Delivered

NEIGHBOUR = "sam.neighbour@example.net"
STRANGER = "mallory@example.com"


def bounce(original_id: str, *, action: str = "failed", status: str = "5.1.1") -> bytes:
    """A delivery status notification as Postfix sends it."""
    lines = [
        "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)",
        f"To: {CITY}",
        "Subject: Undelivered Mail Returned to Sender",
        f"Message-ID: <bounce-{action}-{original_id}>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
        "",
        "--B",
        "Content-Type: text/plain",
        "",
        "I'm sorry to have to inform you that your message could not be delivered.",
        "--B",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; mx.example.org",
        "",
        f"Final-Recipient: rfc822; {RESIDENT}",
        f"Action: {action}",
        f"Status: {status}",
        "Diagnostic-Code: smtp; 550 5.1.1 <jane.doe@example.org>: User unknown",
        "",
        "--B",
        "Content-Type: text/rfc822-headers",
        "",
        f"From: {CITY}",
        f"To: {RESIDENT}",
        f"Message-ID: <{original_id}>",
        "",
        "--B--",
        "",
    ]
    return "\r\n".join(lines).encode()


async def opened(app: MailApp, raw: bytes | None = None) -> tuple[Ticket, Delivered]:
    """A resident's first mail: its ticket and the acknowledgement that went out."""
    await app.send(raw or mail())
    [ticket] = await app.tickets()
    await app.dispatch()
    [ack] = await app.sink.arrived(1)
    return ticket, ack


async def test_a_bounce_marks_our_mail_failed_and_opens_no_ticket(app: MailApp) -> None:
    ticket, ack = await opened(app)
    ours = ack.header("Message-ID").strip("<>")

    await app.send(bounce(ours), mail_from="")

    [_first, report] = await app.raws()
    assert report.status == "delivery-report"
    assert report.error is None
    [sent] = await app.messages(Message.kind == "acknowledgement")
    assert sent.external_id == ours
    assert sent.delivery_status is DeliveryStatus.FAILED
    assert sent.delivery_error is not None
    assert "550 5.1.1 <jane.doe@example.org>: User unknown" in sent.delivery_error
    assert sent.delivery_code == "5.1.1"
    assert [t.id for t in await app.tickets()] == [ticket.id]
    assert await app.count(Message, Message.direction == Direction.INBOUND) == 1
    # The same bounce again changes nothing.
    await app.send(bounce(ours), mail_from="")
    assert (await app.raws())[-1].status == "delivery-report"


async def test_bounces_we_cannot_match_or_mere_delays_open_nothing(app: MailApp) -> None:
    _ticket, ack = await opened(app)
    ours = ack.header("Message-ID").strip("<>")

    await app.send(bounce("someone-else@example.org"), mail_from="")
    await app.send(bounce(ours, action="delayed", status="4.4.1"), mail_from="")

    _first, unknown, delayed = await app.raws()
    assert unknown.status == delayed.status == "delivery-report"
    assert unknown.error is not None
    assert "not a mail we sent" in unknown.error
    assert delayed.error is not None
    assert "delayed" in delayed.error
    assert await app.count(Ticket) == 1
    [sent] = await app.messages(Message.kind == "acknowledgement")
    assert sent.delivery_status is DeliveryStatus.SENT


async def test_automatic_mail_is_stored_but_never_acknowledged(app: MailApp) -> None:
    vacation = mail(
        "Automatic reply: Pothole on Elm Street",
        "I am away until Monday.",
        sender="away@example.org",
        headers={"Auto-Submitted": "auto-replied"},
    )
    await app.send(vacation)
    ourselves = mail("Loop?", "Hello", sender=CITY, name=None)
    await app.send(ourselves)

    assert await app.count(Ticket) == 2
    inbound = await app.messages(Message.direction == Direction.INBOUND)
    assert [m.automatic for m in inbound] == [True, True]
    assert inbound[1].meta["automatic_reasons"].endswith("own")
    assert await app.count(Message, Message.kind == "acknowledgement") == 0
    assert await app.dispatch() == 0
    assert app.sink.delivered == []


async def test_a_reference_in_the_subject_counts_only_from_the_tickets_contact(
    app: MailApp,
) -> None:
    ticket, _ack = await opened(app)

    # A stranger quoting Jane's reference gets a ticket of their own.
    await app.send(mail(f"About {ticket.reference}", "Tell me about it", sender=STRANGER))
    # Jane quoting it, in a new mail without any threading header, lands on hers.
    await app.send(mail(f"More about [{ticket.reference}]", "Also a crack."))

    tickets = await app.tickets()
    assert len(tickets) == 2
    strangers = tickets[1]
    assert strangers.id != ticket.id
    janes = await app.messages(Message.ticket_id == ticket.id, Message.direction == "inbound")
    assert [m.body_text for m in janes][-1] == "Also a crack."


async def test_people_in_copy_replying_do_not_open_duplicates(app: MailApp) -> None:
    first = mail(headers={"Cc": NEIGHBOUR})
    ticket, ack = await opened(app, first)
    janes_id = message_id_of(first)

    # The neighbour answers all: to the City and Jane, in reply to Jane's mail.
    reply_all = mail(
        "Re: Pothole on Elm Street",
        "I saw it too.",
        sender=NEIGHBOUR,
        name="Sam",
        headers={"In-Reply-To": f"<{janes_id}>", "References": f"<{janes_id}>", "Cc": RESIDENT},
    )
    await app.send(reply_all)
    # And later answers the City's acknowledgement (sent to Jane, forwarded to Sam).
    to_ack = mail(
        "Re: " + ack.header("Subject"),
        "Any news?",
        sender=NEIGHBOUR,
        name="Sam",
        to=ack.header("Reply-To"),
        headers={"In-Reply-To": ack.header("Message-ID")},
    )
    await app.send(to_ack, to=(ack.header("Reply-To"),))

    assert await app.count(Ticket) == 1
    messages = await app.messages(Message.ticket_id == ticket.id, Message.direction == "inbound")
    assert [m.address for m in messages] == [RESIDENT, NEIGHBOUR, NEIGHBOUR]
    assert await app.count(Message, Message.kind == "acknowledgement") == 1


async def test_answers_thread_by_our_message_id_or_by_the_reply_token(app: MailApp) -> None:
    ticket, ack = await opened(app)
    # The reply token alone (a client that dropped In-Reply-To and changed the subject).
    await app.send(
        mail("new subject entirely", "Token only", to=ack.header("Reply-To")),
        to=(ack.header("Reply-To"),),
    )
    # Our Message-ID alone, sent to the City's main address.
    await app.send(
        mail("Something", "Header only", headers={"References": ack.header("Message-ID")})
    )
    assert await app.count(Ticket) == 1
    bodies = [m.body_text for m in await app.messages(Message.direction == "inbound")]
    assert bodies[-2:] == ["Token only", "Header only"]
    assert ticket.id is not None
    keys = await app.keys(ticket.id)
    assert f"email:{ack.header('Message-ID').strip('<>')}" in keys
    assert f"reply-token:{ack.header('Reply-To').split('+')[1].split('@')[0]}" in keys


async def test_a_residents_answer_reopens_a_resolved_ticket(app: MailApp) -> None:
    ticket, _ack = await opened(app)
    await app.reply(ticket.reference)
    await app.dispatch()
    [_ack_mail, answer] = await app.sink.arrived(2)
    async with app.svc.db.write() as session:
        row = await session.get_one(Ticket, ticket.id)
        row.status = TicketStatus.RESOLVED

    await app.send(
        mail(
            "Re: " + answer.header("Subject"),
            "It is back.",
            to=answer.header("Reply-To"),
            headers={
                "In-Reply-To": answer.header("Message-ID"),
                "References": f"{answer.header('References')} {answer.header('Message-ID')}",
            },
        ),
        to=(answer.header("Reply-To"),),
    )
    [reopened] = await app.tickets()
    assert reopened.status is TicketStatus.OPEN


async def test_a_replayed_bounce_lands_on_its_ticket_as_automatic_mail(app: MailApp) -> None:
    ticket, ack = await opened(app)
    intake = Intake(app.svc.pipeline, app.svc.delivery, identity(app.settings))
    message = intake.parser(bounce(ack.header("Message-ID").strip("<>")), {"mail_from": ""})
    assert message.automatic
    result = await app.svc.pipeline.ingest(message)
    assert result.reference == ticket.reference
    assert not result.created
    assert not result.acknowledged
