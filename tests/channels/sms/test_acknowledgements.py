"""What a resident's texts make the City send: acknowledgements, answers to keywords, and agent
replies, through the outbox dispatcher and the real Twilio sender to the fake Twilio API."""

from __future__ import annotations

import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import httpx2
import pytest

from carecentre.ingest import ACKS_PER_HOUR
from carecentre.models import ContactIdentity, Event, Message, OutboxItem, RawInbound, Ticket
from carecentre.references import new_reference
from carecentre.services import Services
from channels.sms.sender import TwilioSmsSender
from tests.channels.sms.conftest import CITY_NUMBER, INBOUND, RESIDENT, inbound_fields
from tests.fakes.twilio_api import Reply

if TYPE_CHECKING:
    from tests.channels.sms.conftest import SmsApp

NEIGHBOUR = "+16135550188"
MakeApp = Callable[..., AbstractContextManager["SmsApp"]]


def answer(response: httpx2.Response) -> str | None:
    """The text of the TwiML <Message> Twilio will send back, or None for an empty <Response/>."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.text)
    assert root.tag == "Response"
    messages = root.findall("Message")
    assert len(messages) <= 1
    return messages[0].text if messages else None


def reference_of(app: SmsApp, sender: str = RESIDENT) -> str:
    (ticket,) = [t for t in app.tickets() if t.contact_id == identity(app, sender).contact_id]
    return ticket.reference


def identity(app: SmsApp, address: str) -> ContactIdentity:
    (found,) = app.rows(ContactIdentity, ContactIdentity.address == address)
    assert isinstance(found, ContactIdentity)
    return found


def reply(app: SmsApp, reference: str, body: str) -> httpx2.Response:
    return app.api("POST", f"/tickets/{reference}/replies", json={"body": body})


# -- acknowledgements ----------------------------------------------------------------------


def test_a_new_ticket_is_acknowledged_once_with_its_reference(sms_app: SmsApp) -> None:
    assert answer(sms_app.text("There is a dead raccoon on Birch Ave")) is None
    assert answer(sms_app.text("Near number 42")) is None
    reference = reference_of(sms_app)

    assert sms_app.dispatch() == 1
    assert sms_app.dispatch() == 0

    (sent,) = sms_app.twilio.messages
    assert sent.authorized
    assert sent.value("To") == RESIDENT
    assert sent.value("From") == CITY_NUMBER
    assert sent.value("Body") == (
        f"Kingsbridge Customer Care: we got your message. Your reference is {reference}. "
        "An agent will answer you here by text. Reply STOP to stop texts, HELP for help."
    )
    assert sent.value("StatusCallback") == "https://carecentre.test/webhooks/twilio/sms/status"
    ticket = sms_app.ticket(reference)
    kinds = [(m["direction"], m["kind"]) for m in ticket["messages"]]
    assert kinds == [
        ("inbound", "message"),
        ("outbound", "acknowledgement"),
        ("inbound", "message"),
    ]
    ack = ticket["messages"][1]
    assert ack["delivery_status"] == "sent"
    assert ack["automatic"] is True
    # An acknowledgement is not an agent's answer: the ticket still waits for one.
    assert ticket["first_response_at"] is None
    assert ticket["status"] == "new"


def test_each_new_ticket_gets_its_own_acknowledgement(sms_app: SmsApp) -> None:
    sms_app.text("Pothole on Main St")
    first = reference_of(sms_app)
    closed = sms_app.api("PATCH", f"/tickets/{first}", json={"status": "closed"})
    assert closed.status_code == 200, closed.text

    # A closed ticket is never reopened: the next text opens a new one, linked to it.
    sms_app.text("Another pothole, on King St this time")
    second = next(t.reference for t in sms_app.tickets() if t.reference != first)
    assert sms_app.ticket(second)["linked_to"] == first

    assert sms_app.dispatch() == 2
    bodies = [str(m.value("Body")) for m in sms_app.twilio.messages]
    mentioned = sorted(ref for body in bodies for ref in (first, second) if ref in body)
    assert mentioned == sorted([first, second])


def test_a_number_gets_at_most_five_acknowledgements_an_hour(
    sms_app: SmsApp, caplog: pytest.LogCaptureFixture
) -> None:
    # Another robot texting us in a loop: each text opens a new ticket once the last is closed.
    caplog.set_level("INFO")
    for i in range(ACKS_PER_HOUR + 2):
        sms_app.text(f"Automated alert {i}")
        newest = max(sms_app.tickets(), key=lambda t: t.id or 0)
        closed = sms_app.api("PATCH", f"/tickets/{newest.reference}", json={"status": "closed"})
        assert closed.status_code == 200, closed.text
    # Someone else still gets theirs.
    sms_app.text("My own question", sender=NEIGHBOUR)

    acks = sms_app.messages(Message.kind == "acknowledgement")
    assert [a.address for a in acks] == [RESIDENT] * ACKS_PER_HOUR + [NEIGHBOUR]
    assert sms_app.count(Ticket) == ACKS_PER_HOUR + 3
    assert caplog.text.count("skipped: 5 in the last hour") == 2


def test_the_acknowledgement_is_in_french_when_the_city_writes_french(
    make_sms_app: MakeApp,
) -> None:
    with make_sms_app(language="fr") as app:
        app.text("Il y a un nid-de-poule devant chez moi")
        reference = reference_of(app)
        assert app.dispatch() == 1
        (sent,) = app.twilio.messages
        assert sent.value("Body") == (
            f"Kingsbridge, Service à la clientèle : nous avons reçu votre message. Votre numéro "
            f"de référence est {reference}. Un agent vous répondra ici par texto. Répondez STOP "
            "pour ne plus recevoir de textos, INFO pour de l'aide."
        )
        assert "composez le 613-555-0311" in str(answer(app.text("INFO")))


@pytest.mark.parametrize("where", ["sms/ack.en.txt", "ack.en.txt"])
def test_a_template_in_the_templates_folder_replaces_the_built_in_one(
    make_sms_app: MakeApp, tmp_path: Path, where: str
) -> None:
    folder = tmp_path / "templates"
    (folder / where).parent.mkdir(parents=True, exist_ok=True)
    (folder / where).write_text("{{ city }} 311: your request is {{ reference }}. Thank you!\n")

    with make_sms_app(templates_dir=folder) as app:
        app.text("My street was not plowed")
        assert app.dispatch() == 1
        (sent,) = app.twilio.messages
        assert (
            sent.value("Body")
            == f"Kingsbridge 311: your request is {reference_of(app)}. Thank you!"
        )
        # Templates not overridden are still the built-in ones.
        assert "Text STATUS and your reference" in str(answer(app.text("HELP")))


def test_no_acknowledgement_goes_to_a_number_that_opted_out(
    sms_app: SmsApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    assert answer(sms_app.text("STOP")) is None
    assert answer(sms_app.text("My recycling was left behind")) is None

    reference = reference_of(sms_app)
    assert [m["kind"] for m in sms_app.ticket(reference)["messages"]] == ["message"]
    assert sms_app.dispatch() == 0
    assert sms_app.twilio.requests == []
    assert f"no acknowledgement for {reference}: {RESIDENT} has opted out" in caplog.text


# -- keywords -------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["STOP", "stop", " Unsubscribe. ", "QUIT"])
def test_stop_marks_the_number_opted_out_and_agent_replies_are_refused(
    sms_app: SmsApp, word: str
) -> None:
    sms_app.text("Graffiti on the bridge")
    reference = reference_of(sms_app)
    assert sms_app.dispatch() == 1

    assert answer(sms_app.text(word)) is None  # Twilio confirms the opt-out itself

    assert identity(sms_app, RESIDENT).opted_out_at is not None
    refused = reply(sms_app, reference, "We sent a crew this morning.")
    assert refused.status_code == 409
    assert refused.json()["error"] == {
        "code": "reply_refused",
        "message": f"{RESIDENT} has opted out of text messages (they sent STOP); "
        "answer on another channel, or wait until they text START",
    }
    assert sms_app.dispatch() == 0
    assert len(sms_app.twilio.messages) == 1  # only the acknowledgement, before STOP
    # A keyword is an instruction, not part of the resident's matter.
    assert sms_app.ticket(reference)["messages"][0]["body"] == "Graffiti on the bridge"
    assert sms_app.count(Message) == 2
    statuses = [raw.status for raw in sms_app.raws()]
    assert statuses == ["ingested", "control:opt_out"]
    events = [e.type for e in sms_app.rows(Event)]
    assert "contact.opted_out" in events


def test_twilio_advanced_opt_out_classification_wins(sms_app: SmsApp) -> None:
    # "ARRÊT" is a French opt-out word configured in Twilio's console; Twilio says so.
    assert answer(sms_app.text("ARRÊT", OptOutType="STOP")) is None
    assert identity(sms_app, RESIDENT).opted_out_at is not None
    assert sms_app.count(Ticket) == 0


def test_start_opts_back_in(sms_app: SmsApp) -> None:
    sms_app.text("Broken swing at Lakeview Park")
    reference = reference_of(sms_app)
    sms_app.text("STOP")
    assert reply(sms_app, reference, "Noted.").status_code == 409

    assert answer(sms_app.text("START")) is None

    assert identity(sms_app, RESIDENT).opted_out_at is None
    queued = reply(sms_app, reference, "A crew will fix it Tuesday.")
    assert queued.status_code == 202, queued.text
    assert sms_app.dispatch() == 2  # the acknowledgement kept waiting, and the reply
    bodies = [str(m.value("Body")) for m in sms_app.twilio.messages]
    assert "A crew will fix it Tuesday." in bodies
    assert [reference in body for body in bodies].count(True) == 1  # the acknowledgement


@pytest.mark.parametrize("word", ["HELP", "info", "Help!"])
def test_help_answers_with_the_city_s_contact_details(sms_app: SmsApp, word: str) -> None:
    text = answer(sms_app.text(word))
    assert text == (
        "Kingsbridge Customer Care: call 613-555-0311 (Mon-Fri 8:30-4:30) or visit "
        "https://kingsbridge.example/contact. Text STATUS and your reference to check a "
        "request. Reply STOP to stop texts."
    )
    assert sms_app.count(Ticket) == 0
    assert [raw.status for raw in sms_app.raws()] == ["control:help"]


def test_twilio_is_answered_before_the_text_is_filed(sms_app: SmsApp) -> None:
    backlog = sms_app.services.backlog
    backlog.quiet = backlog.max_delay = 30.0  # filed only when asked
    fields = inbound_fields("Streetlight out on Maple Ave")

    response = sms_app.client.post(
        INBOUND,
        content=urlencode(fields).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sms_app.signature(INBOUND, fields),
        },
    )

    assert answer(response) is None  # an empty <Response/>
    assert [raw.status for raw in sms_app.raws()] == ["accepted"]
    assert sms_app.count(Ticket) == 0
    sms_app.settle()
    assert [raw.status for raw in sms_app.raws()] == ["ingested"]
    reference = reference_of(sms_app)
    acks = sms_app.messages(Message.kind == "acknowledgement")
    assert len(acks) == 1
    assert reference in acks[0].body_text


def test_status_right_after_a_first_text_knows_its_new_ticket(sms_app: SmsApp) -> None:
    backlog = sms_app.services.backlog
    backlog.quiet = backlog.max_delay = 30.0  # the text would wait, but STATUS files it first

    first, status = sms_app.concurrently(
        [
            (INBOUND, inbound_fields("Missed recycling on Elm St")),
            (INBOUND, inbound_fields("STATUS")),
        ],
        stagger=0.05,
    )

    assert answer(first) is None
    reference = reference_of(sms_app)
    assert answer(status) == f"Request {reference}: received, waiting for an agent."


def test_status_answers_about_the_sender_s_own_ticket(sms_app: SmsApp) -> None:
    assert answer(sms_app.text("STATUS")) == (
        "We found no request from this number. Call 613-555-0311 if you need help."
    )
    sms_app.text("Tree down on Cedar Cres")
    reference = reference_of(sms_app)

    latest = answer(sms_app.text("STATUS"))
    named = answer(sms_app.text(f"status {reference}"))
    digits = answer(sms_app.text("Status: " + reference.replace("CC-", "").replace("-", "")))

    assert latest == named == digits == f"Request {reference}: received, waiting for an agent."
    assert reply(sms_app, reference, "A crew is on its way.").status_code == 202
    assert answer(sms_app.text("STATUS")) == f"Request {reference}: an agent is working on it."
    # Asking is not a message on the ticket.
    inbound = [m for m in sms_app.ticket(reference)["messages"] if m["direction"] == "inbound"]
    assert [m["body"] for m in inbound] == ["Tree down on Cedar Cres"]


def test_status_never_tells_about_someone_else_s_ticket(sms_app: SmsApp) -> None:
    sms_app.text("Water main break on Elm", sender=NEIGHBOUR)
    theirs = reference_of(sms_app, NEIGHBOUR)
    sms_app.text("My own matter")
    unknown = new_reference()
    assert unknown not in {t.reference for t in sms_app.tickets()}

    about_theirs = answer(sms_app.text(f"STATUS {theirs}"))
    about_unknown = answer(sms_app.text(f"STATUS {unknown}"))

    assert about_theirs is not None
    assert about_unknown is not None
    assert about_theirs.replace(theirs, "<ref>") == about_unknown.replace(unknown, "<ref>")
    assert about_theirs == (
        f"We found no request {theirs} from this number. Check the reference, or call 613-555-0311."
    )


def test_a_reference_in_a_text_threads_only_to_the_sender_s_own_ticket(sms_app: SmsApp) -> None:
    sms_app.text("Water main break on Elm", sender=NEIGHBOUR)
    theirs = reference_of(sms_app, NEIGHBOUR)

    sms_app.text(f"Any news on #{theirs}?")

    mine = reference_of(sms_app)
    assert mine != theirs
    messages = sms_app.ticket(mine)["messages"]
    assert [m["body"] for m in messages if m["direction"] == "inbound"] == [
        f"Any news on #{theirs}?"
    ]
    assert sms_app.ticket(theirs)["messages"][0]["body"] == "Water main break on Elm"
    assert len(sms_app.ticket(theirs)["messages"]) == 2  # their text and its acknowledgement


# -- sending through the dispatcher -----------------------------------------------------------


def _reply_queued(app: SmsApp, body: str = "We will be there Monday.") -> tuple[str, int]:
    """A ticket whose acknowledgement has gone out, and an agent's reply queued on it."""
    app.text("Broken streetlight on Pine St")
    assert app.dispatch() == 1
    reference = reference_of(app)
    queued = reply(app, reference, body)
    assert queued.status_code == 202, queued.text
    return reference, int(queued.json()["message"]["id"])


def _message(app: SmsApp, message_id: int) -> Message:
    (found,) = app.messages(Message.id == message_id)
    return found


def _item(app: SmsApp, message_id: int) -> OutboxItem:
    (found,) = app.rows(OutboxItem, OutboxItem.message_id == message_id)
    assert isinstance(found, OutboxItem)
    return found


@pytest.mark.parametrize(
    "refusal",
    [
        pytest.param(Reply.too_many_requests(), id="429"),
        pytest.param(Reply.server_error(), id="500"),
    ],
)
def test_a_refusal_twilio_cannot_have_queued_is_retried(sms_app: SmsApp, refusal: Reply) -> None:
    reference, message_id = _reply_queued(sms_app)
    sms_app.twilio.script(refusal)

    assert sms_app.dispatch() == 1
    item = _item(sms_app, message_id)
    assert (item.state, item.attempts) == ("pending", 1)
    assert item.last_error is not None
    assert f"Twilio answered HTTP {refusal.status} (code {refusal.code})" in item.last_error
    assert _message(sms_app, message_id).delivery_status == "queued"

    _wait_due(sms_app, message_id)
    assert sms_app.dispatch() == 1
    assert _item(sms_app, message_id).state == "done"
    replies = [m for m in sms_app.twilio.messages if m.value("Body") == "We will be there Monday."]
    assert len(replies) == 2  # the refused one, and the one Twilio accepted
    (out,) = [m for m in sms_app.ticket(reference)["messages"] if m["id"] == message_id]
    assert (out["delivery_status"], out["delivery_error"]) == ("sent", None)


def _wait_due(app: SmsApp, message_id: int) -> None:
    """Let the (tiny, in tests) backoff pass."""
    deadline = time.monotonic() + 5
    while _item(app, message_id).next_attempt_at.timestamp() > time.time():
        assert time.monotonic() < deadline, "the retry never became due"
        time.sleep(0.01)


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port that refuses connections: bound but not listening, so nothing else takes it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_a_refused_connection_is_retried(make_sms_app: MakeApp, refused_port: int) -> None:
    with make_sms_app(twilio_api_url=f"http://127.0.0.1:{refused_port}") as app:
        app.text("Snow not cleared on Maple")
        (ack,) = app.messages(Message.kind == "acknowledgement")
        assert ack.id is not None

        assert app.dispatch() == 1
        item = _item(app, ack.id)
        assert (item.state, item.attempts) == ("pending", 1)
        assert "could not connect to Twilio" in str(item.last_error)
        _wait_due(app, ack.id)
        assert app.dispatch() == 1
        assert (_item(app, ack.id).state, _item(app, ack.id).attempts) == ("pending", 2)


def _short_timeout_sender(app: SmsApp) -> TwilioSmsSender:
    """The real sender, with a deadline short enough for a test to wait for."""
    sender = TwilioSmsSender(
        account_sid=app.twilio.account_sid,
        auth_token=app.twilio.auth_token,
        from_number=CITY_NUMBER,
        status_callback_url="https://carecentre.test/webhooks/twilio/sms/status",
        api_base_url=app.twilio.base_url,
        timeout=0.5,
    )

    async def register(svc: Services) -> None:
        svc.senders.register(sender)

    app.run(register)
    return sender


@pytest.mark.parametrize(
    "trouble",
    [
        pytest.param(Reply.hang_until_released(), id="no-answer"),
        pytest.param(Reply.disconnected(), id="dropped-connection"),
    ],
)
def test_a_send_twilio_may_have_accepted_is_never_retried(sms_app: SmsApp, trouble: Reply) -> None:
    reference, message_id = _reply_queued(sms_app)
    sender = _short_timeout_sender(sms_app)
    try:
        sms_app.twilio.script(trouble)
        assert sms_app.dispatch() == 1
        sms_app.twilio.release()
        assert sms_app.dispatch() == 0
    finally:

        async def close(_svc: Services) -> None:
            await sender.aclose()

        sms_app.run(close)

    replies = [m for m in sms_app.twilio.messages if m.value("Body") == "We will be there Monday."]
    assert len(replies) == 1
    item = _item(sms_app, message_id)
    assert (item.state, item.attempts) == ("failed", 1)
    (out,) = [m for m in sms_app.ticket(reference)["messages"] if m["id"] == message_id]
    assert out["delivery_status"] == "failed"
    assert "may have been accepted; not retried" in out["delivery_error"]


def test_twilio_21610_marks_the_number_opted_out_and_the_reply_failed(sms_app: SmsApp) -> None:
    reference, message_id = _reply_queued(sms_app)
    sms_app.twilio.script(Reply.opted_out())

    assert sms_app.dispatch() == 1

    message = _message(sms_app, message_id)
    assert (message.delivery_status, message.delivery_code) == ("failed", "21610")
    assert "Attempt to send to unsubscribed recipient" in str(message.delivery_error)
    assert _item(sms_app, message_id).state == "failed"
    assert identity(sms_app, RESIDENT).opted_out_at is not None
    (event,) = [
        e
        for e in sms_app.rows(Event, Event.type == "message.status")
        if e.data["message_id"] == message_id and e.data["delivery_status"] == "failed"
    ]
    assert event.data["code"] == "21610"
    assert event.data["reference"] == reference
    # The next reply is refused before it is queued.
    assert reply(sms_app, reference, "Hello?").status_code == 409
    assert len(sms_app.twilio.messages) == 2


def test_an_agent_reply_reaches_twilio_exactly_once(sms_app: SmsApp) -> None:
    _reference, message_id = _reply_queued(sms_app, "Ça sera réparé lundi 🙂")

    assert sms_app.dispatch() == 1
    assert sms_app.dispatch() == 0

    (sent,) = [m for m in sms_app.twilio.messages if m.value("Body") == "Ça sera réparé lundi 🙂"]
    assert sent.value("To") == RESIDENT
    message = _message(sms_app, message_id)
    assert message.delivery_status == "sent"
    assert message.external_id is not None
    assert message.external_id.startswith("SM")
    assert sms_app.count(RawInbound) == 1
