"""The incoming-message webhook over HTTP: signatures, bad input, replays and bursts.

Every request goes through the real app (routes, body limit, signature check, raw storage, parse,
ingest) on SQLite and PostgreSQL; what is stored is read back from the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import pytest

from carecentre.models import Attachment, Contact, ContactIdentity, Message, RawInbound, Ticket
from carecentre.twilio.form import decode_form
from tests.channels.sms.conftest import INBOUND, RESIDENT, inbound_fields, new_sid

if TYPE_CHECKING:
    from tests.channels.sms.conftest import SmsApp

RECORDS = (RawInbound, Contact, ContactIdentity, Ticket, Message, Attachment)
NOTHING = {model.__name__: 0 for model in RECORDS}
NO_TICKET = {"Contact": 0, "ContactIdentity": 0, "Ticket": 0, "Message": 0, "Attachment": 0}


def twilio_signature(token: str, url: str, pairs: list[tuple[str, str]]) -> str:
    """Twilio's algorithm, written out here so the webhook is not checked against itself:
    HMAC-SHA1 over the URL followed by every name and value, sorted by name, then value."""
    data = url + "".join(name + value for name, value in sorted(pairs))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def warnings_from(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# -- signatures --------------------------------------------------------------------------------


def test_a_signature_for_the_configured_public_url_is_accepted(sms_app: SmsApp) -> None:
    pairs = inbound_fields("The streetlight at Elm and 3rd is out")
    url = "https://carecentre.test/webhooks/twilio/sms"
    signature = twilio_signature(sms_app.twilio.auth_token, url, pairs)

    response = sms_app.post(INBOUND, pairs, signature=signature)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    assert response.text.endswith("<Response />")
    ticket = sms_app.only_ticket()
    assert ticket["messages"][0]["body"] == "The streetlight at Elm and 3rd is out"


def test_the_raw_query_string_is_part_of_the_signed_url(sms_app: SmsApp) -> None:
    # Twilio signs the URL as configured in its console, query string and all.
    pairs = inbound_fields("Question about my water bill")
    query = "source=twilio&city=kingsbridge%20on"
    url = f"https://carecentre.test/webhooks/twilio/sms?{query}"
    signature = twilio_signature(sms_app.twilio.auth_token, url, pairs)

    response = sms_app.client.post(
        f"{INBOUND}?{query}",
        content=urlencode(pairs).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )

    assert response.status_code == 200, response.text
    sms_app.settle()
    assert sms_app.count(Message) == 2  # the text and its acknowledgement


@pytest.mark.parametrize(
    ("case", "signature", "signed_url"),
    [
        pytest.param("unsigned", None, None, id="unsigned"),
        pytest.param("wrong", "c2lnbmF0dXJlIG9mIG5vdGhpbmc=", None, id="wrong-signature"),
        # What the request looks like to the app (the Host header): never what is checked.
        pytest.param("host", "", "http://testserver/webhooks/twilio/sms", id="host-header-url"),
        pytest.param("other", "", "https://elsewhere.example/webhooks/twilio/sms", id="other-url"),
        pytest.param("path", "", "https://carecentre.test/webhooks/twilio/voice", id="other-path"),
    ],
)
def test_a_request_that_fails_the_signature_check_is_refused_and_not_stored(
    sms_app: SmsApp,
    caplog: pytest.LogCaptureFixture,
    case: str,
    signature: str | None,
    signed_url: str | None,
) -> None:
    caplog.set_level(logging.WARNING)
    pairs = inbound_fields("Please call me back")

    response = sms_app.post(INBOUND, pairs, signature=signature, signed_url=signed_url)

    assert response.status_code == 403, response.text
    assert sms_app.counts(*RECORDS) == NOTHING
    (line,) = warnings_from(caplog)
    missing = "missing" if case == "unsigned" else "invalid"
    assert f"sms webhook /webhooks/twilio/sms refused: {missing} X-Twilio-Signature" in line
    assert "Please call me back" not in line  # a resident's words stay out of the logs


def test_a_signature_made_with_another_auth_token_is_refused(sms_app: SmsApp) -> None:
    pairs = inbound_fields("Hello")
    signature = twilio_signature("not-our-token", "https://carecentre.test" + INBOUND, pairs)
    assert sms_app.post(INBOUND, pairs, signature=signature).status_code == 403
    assert sms_app.counts(*RECORDS) == NOTHING


def test_a_field_changed_after_signing_is_refused(sms_app: SmsApp) -> None:
    pairs = inbound_fields("Hello", sender="+16135550111")
    signature = sms_app.signature(INBOUND, pairs)
    tampered = [(name, "+16135550999" if name == "From" else value) for name, value in pairs]
    assert sms_app.post(INBOUND, tampered, signature=signature).status_code == 403
    assert sms_app.counts(*RECORDS) == NOTHING


# -- signed, but malformed: kept as failed, never a partial ticket -----------------------------


def _without(pairs: list[tuple[str, str]], *names: str) -> list[tuple[str, str]]:
    return [(name, value) for name, value in pairs if name not in names]


def _with_media(declared: str, *media: tuple[str, str]) -> list[tuple[str, str]]:
    """A picture message declaring ``NumMedia=declared`` and carrying ``media``."""
    pairs = _without(inbound_fields("look at this"), "NumMedia")
    pairs.append(("NumMedia", declared))
    for index, (url, content_type) in enumerate(media):
        pairs += [(f"MediaUrl{index}", url), (f"MediaContentType{index}", content_type)]
    return pairs


@pytest.mark.parametrize(
    ("pairs", "error"),
    [
        pytest.param(
            _without(inbound_fields("hi"), "From"),
            "required form field 'From' is missing or empty",
            id="no-from",
        ),
        pytest.param(
            _without(inbound_fields("hi"), "To"),
            "required form field 'To' is missing or empty",
            id="no-to",
        ),
        pytest.param(
            _without(inbound_fields("hi"), "MessageSid"),
            "required form field 'MessageSid' is missing or empty",
            id="no-message-sid",
        ),
        pytest.param(
            _with_media(
                "2", ("https://api.twilio.com/2010-04-01/Accounts/AC1/Media/ME1", "image/jpeg")
            ),
            "NumMedia is 2 but media fields are numbered [0] (expected MediaUrl0..MediaUrl1)",
            id="num-media-too-high",
        ),
        pytest.param(
            _with_media("0", ("https://api.twilio.com/x", "image/png")),
            "NumMedia is 0 but media fields are numbered [0] (expected none)",
            id="undeclared-media",
        ),
        pytest.param(
            _with_media("1", ("https://attacker.example/pic.jpg", "image/jpeg")),
            "media URL on a host we never fetch from: https://attacker.example/pic.jpg",
            id="media-on-another-host",
        ),
        pytest.param(
            _with_media("1", ("http://api.twilio.com/2010-04-01/x", "image/jpeg")),
            "media URL on a host we never fetch from: http://api.twilio.com/2010-04-01/x",
            id="media-over-plain-http",
        ),
    ],
)
def test_a_signed_but_malformed_message_is_kept_as_failed(
    sms_app: SmsApp,
    caplog: pytest.LogCaptureFixture,
    pairs: list[tuple[str, str]],
    error: str,
) -> None:
    caplog.set_level(logging.WARNING)

    response = sms_app.post(INBOUND, pairs)

    assert response.status_code == 400, response.text
    assert error in response.text
    assert sms_app.counts(*RECORDS) == {**NO_TICKET, "RawInbound": 1}
    (raw,) = sms_app.raws()
    assert raw.status == "failed"
    assert raw.error == error
    assert raw.payload == urlencode(pairs).encode()  # exactly as received, replayable
    (line,) = warnings_from(caplog)
    assert line == f"inbound sms/message #{raw.id} kept unparsed: {error}"
    assert sms_app.twilio.requests == []  # nothing fetched, nothing sent


def test_a_signed_body_that_is_not_utf8_is_kept_as_failed(
    sms_app: SmsApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    sid = new_sid()
    # Latin-1 "é" (0xE9) where Twilio always sends UTF-8: signed over the bytes as they are.
    body = (
        f"MessageSid={sid}&From=%2B16135550123&To=%2B16135550100&NumMedia=0&Body=caf%E9"
    ).encode()
    data = b"https://carecentre.test/webhooks/twilio/sms" + b"".join(
        name + value
        for name, value in sorted(
            [
                (b"Body", b"caf\xe9"),
                (b"From", b"+16135550123"),
                (b"MessageSid", sid.encode()),
                (b"NumMedia", b"0"),
                (b"To", b"+16135550100"),
            ]
        )
    )
    token = sms_app.twilio.auth_token.encode()
    signature = base64.b64encode(hmac.new(token, data, hashlib.sha1).digest()).decode()

    response = sms_app.post(INBOUND, [], signature=signature, body=body)

    assert response.status_code == 400, response.text
    assert "not valid UTF-8" in response.text
    assert sms_app.counts(*RECORDS) == {**NO_TICKET, "RawInbound": 1}
    (raw,) = sms_app.raws()
    assert (raw.status, raw.payload) == ("failed", body)
    assert raw.error is not None
    assert "not valid UTF-8" in raw.error
    (line,) = warnings_from(caplog)
    assert line.startswith(f"inbound sms/message #{raw.id} kept unparsed: form body is not valid")


def test_an_unsigned_body_that_is_not_utf8_is_refused_and_not_stored(
    sms_app: SmsApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    body = f"MessageSid={new_sid()}&From=%2B16135550123&To=%2B16135550100&Body=caf%E9".encode()

    response = sms_app.post(INBOUND, [], signature="bm9wZQ==", body=body)

    assert response.status_code == 403
    assert sms_app.counts(*RECORDS) == NOTHING
    (line,) = warnings_from(caplog)
    assert "refused: invalid X-Twilio-Signature" in line


def test_a_body_over_the_limit_is_refused_before_it_is_read(sms_app: SmsApp) -> None:
    pairs = inbound_fields("x" * (1 << 20))

    response = sms_app.post(INBOUND, pairs)

    assert response.status_code == 413
    assert response.json() == {
        "error": {"code": "too_large", "message": "the body exceeds 1048576 bytes"}
    }
    assert sms_app.counts(*RECORDS) == NOTHING


def test_a_phone_number_that_cannot_be_one_is_kept_as_failed(
    sms_app: SmsApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    response = sms_app.text("hello", sender="12")

    assert response.status_code == 400
    assert sms_app.counts(*RECORDS) == {**NO_TICKET, "RawInbound": 1}
    (raw,) = sms_app.raws()
    assert raw.status == "failed"
    assert raw.error == "not a possible phone number: '12'"
    assert any("kept unparsed: not a possible phone number" in w for w in warnings_from(caplog))


# -- replays and bursts ------------------------------------------------------------------------


def test_replays_of_a_message_store_it_once(sms_app: SmsApp) -> None:
    first = inbound_fields("Garbage was not picked up on Oak St", sender="+16135550140")
    second = inbound_fields("It is still there", sender="+16135550140")

    responses = sms_app.concurrently([(INBOUND, first)] * 3)
    assert [r.status_code for r in responses] == [200, 200, 200]
    responses = sms_app.concurrently([(INBOUND, second)] * 3)
    assert [r.status_code for r in responses] == [200, 200, 200]

    ticket = sms_app.only_ticket()
    inbound = [m["body"] for m in ticket["messages"] if m["direction"] == "inbound"]
    assert inbound == ["Garbage was not picked up on Oak St", "It is still there"]
    acks = [m for m in ticket["messages"] if m["kind"] == "acknowledgement"]
    assert len(acks) == 1
    assert sms_app.counts(Contact, Ticket) == {"Contact": 1, "Ticket": 1}
    assert sorted(raw.status for raw in sms_app.raws()) == ["duplicate"] * 4 + ["ingested"] * 2


def test_a_replay_after_the_first_was_stored_answers_the_same(sms_app: SmsApp) -> None:
    pairs = inbound_fields("Noise complaint", sender="+16135550141")
    assert sms_app.post(INBOUND, pairs).text == sms_app.post(INBOUND, pairs).text
    assert sms_app.count(Message) == 2


def test_a_burst_from_a_new_number_makes_one_ticket_in_arrival_order(sms_app: SmsApp) -> None:
    sender = "+16135550177"
    texts = [f"part {i} of my message about the flooded underpass" for i in range(20)]
    requests = [(INBOUND, inbound_fields(text, sender=sender)) for text in texts]

    responses = sms_app.concurrently(requests, stagger=0.002)

    assert {r.status_code for r in responses} == {200}
    assert sms_app.counts(Contact, ContactIdentity, Ticket) == {
        "Contact": 1,
        "ContactIdentity": 1,
        "Ticket": 1,
    }
    inbound = sms_app.messages(Message.direction == "inbound")
    assert sorted(m.body_text for m in inbound) == sorted(texts)
    # Arrival is when the payload was stored (raw ids); the ticket shows them in that order.
    arrival = [raw.id for raw in sms_app.raws()]
    assert [m.raw_id for m in inbound] == arrival
    ticket = sms_app.only_ticket()
    bodies = [m["body"] for m in ticket["messages"] if m["direction"] == "inbound"]
    assert bodies == [m.body_text for m in inbound]
    assert [m["kind"] for m in ticket["messages"]].count("acknowledgement") == 1


def test_texts_from_many_numbers_at_once_each_get_their_own_ticket(sms_app: SmsApp) -> None:
    requests = [
        (INBOUND, inbound_fields(f"Report {i}", sender=f"+1613555{1000 + i:04d}"))
        for i in range(12)
    ]
    responses = sms_app.concurrently(requests)
    assert {r.status_code for r in responses} == {200}
    assert sms_app.counts(Contact, Ticket) == {"Contact": 12, "Ticket": 12}
    assert len(sms_app.messages(Message.kind == "acknowledgement")) == 12


def test_a_resident_s_text_with_unusual_characters_is_kept_exactly(sms_app: SmsApp) -> None:
    text = "Bonjour! Le trottoir près du 12, rue Saint-Édouard est glacé 🧊 & dangereux = 100%"
    response = sms_app.text(text)
    assert response.status_code == 200
    assert sms_app.only_ticket()["messages"][0]["body"] == text
    (raw,) = sms_app.raws()
    assert decode_form(raw.payload).get("Body") == text


def test_the_resident_is_found_again_by_their_normalized_number(sms_app: SmsApp) -> None:
    assert sms_app.text("first", sender=RESIDENT).status_code == 200
    # The same phone, written differently by a carrier, threads to the same ticket.
    assert sms_app.text("second", sender="+1 (613) 555-0123").status_code == 200
    ticket = sms_app.only_ticket()
    inbound = [m["body"] for m in ticket["messages"] if m["direction"] == "inbound"]
    assert inbound == ["first", "second"]
