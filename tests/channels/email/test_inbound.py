"""to_inbound: ParsedEmail mapped onto the channel contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from carecentre.contract import Channel, InboundMessage, ParseError
from channels.email.inbound import plus_token, to_inbound
from channels.email.parse import parse_email

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "email"


def _inbound(name: str, **kwargs: str | None) -> InboundMessage:
    return to_inbound(parse_email((CORPUS / f"{name}.eml").read_bytes()), **kwargs)


def test_reply_maps_every_field() -> None:
    inbound = _inbound(
        "gmail_reply",
        envelope_sender="jane.morrison@gmail.com",
        recipient="reply+k7d2m9x4q8w3z6p1@care.northriver.example",
    )
    assert inbound.channel is Channel.EMAIL
    assert inbound.external_id == "CAH7x+Qe8k2jZr3d9Yw1pL0vR5nK6tB4mUoS2fA9cXgE@mail.gmail.com"
    assert inbound.sender == "jane.morrison@gmail.com"
    assert inbound.sender_name == "Jane Morrison"
    assert inbound.recipient == "reply+k7d2m9x4q8w3z6p1@care.northriver.example"
    assert inbound.subject == "Re: [CC-204-581-337] Pothole on Elm Street"
    assert inbound.body_text.endswith("getting deeper with the rain.\n\nJane")
    assert inbound.full_text is not None
    assert "> Customer Care Centre" in inbound.full_text
    assert inbound.body_html is not None
    assert inbound.body_html.startswith('<div dir="ltr">')
    assert inbound.sent_at is not None
    assert inbound.sent_at.isoformat() == "2025-01-06T10:31:02-05:00"
    assert inbound.thread_keys == (
        "email:cc.7f3a9e1c2b.msg-481@care.northriver.example",
        "email:cc.7f3a9e1c2b.msg-480@care.northriver.example",
        "reply-token:k7d2m9x4q8w3z6p1",
    )
    assert inbound.register_keys == (
        "email:CAH7x+Qe8k2jZr3d9Yw1pL0vR5nK6tB4mUoS2fA9cXgE@mail.gmail.com",
    )
    assert inbound.reference_hint == "CC-204-581-337"
    assert inbound.automatic is False
    assert inbound.metadata == {}


def test_attachments_are_carried_over() -> None:
    inbound = _inbound("outlook_inline_image_cid")
    assert len(inbound.attachments) == 1
    image = inbound.attachments[0]
    assert (image.filename, image.content_type, image.inline) == ("image001.png", "image/png", True)
    assert image.content_id == "image001.png@01DB6688.5C1E2F30"
    assert image.data is not None
    assert image.data.startswith(b"\x89PNG")


def test_envelope_recipient_token_wins_over_headers() -> None:
    inbound = _inbound("ios_mail_reply", recipient="Reply+OTHERtoken@care.northriver.example")
    assert inbound.thread_keys[-1] == "reply-token:OTHERtoken"
    assert "reply-token:p4t8w2k6n0r3v7x1" not in inbound.thread_keys


def test_token_from_headers_when_no_envelope() -> None:
    assert "reply-token:p4t8w2k6n0r3v7x1" in _inbound("ios_mail_reply").thread_keys


def test_missing_message_id_registers_nothing() -> None:
    inbound = _inbound("missing_message_id")
    assert inbound.external_id.startswith("sha256:")
    assert inbound.register_keys == ()


def test_bounce_threads_to_our_returned_mail_and_says_why() -> None:
    inbound = _inbound("dsn_postfix_failed", envelope_sender="")
    assert inbound.automatic is True
    assert inbound.thread_keys == ("email:cc.c0ffee1234.msg-501@care.northriver.example",)
    assert inbound.metadata["delivery.original_message_id"] == (
        "cc.c0ffee1234.msg-501@care.northriver.example"
    )
    assert inbound.metadata["delivery.failed"] == "true"
    assert inbound.metadata["delivery.status"] == "5.1.1"
    assert inbound.metadata["automatic_reasons"].endswith("; envelope sender: <>")


def test_null_envelope_alone_makes_a_mail_automatic() -> None:
    assert _inbound("gmail_new_request_photo").automatic is False
    inbound = _inbound("gmail_new_request_photo", envelope_sender="<>")
    assert inbound.automatic is True
    assert inbound.metadata == {"automatic_reasons": "envelope sender: <>"}


def test_sender_falls_back_to_envelope_then_reply_to() -> None:
    parsed = parse_email((CORPUS / "missing_from.eml").read_bytes())
    with pytest.raises(ParseError):
        to_inbound(parsed)
    with pytest.raises(ParseError):
        to_inbound(parsed, envelope_sender="<>")
    assert to_inbound(parsed, envelope_sender="webform@northriver.example").sender == (
        "webform@northriver.example"
    )
    with_reply_to = parse_email(b"Reply-To: Ana <ana@example.com>\nSubject: hi\n\nbody")
    inbound = to_inbound(with_reply_to)
    assert (inbound.sender, inbound.sender_name) == ("ana@example.com", "Ana")


def test_reply_to_and_cc_are_kept_for_the_reply() -> None:
    inbound = _inbound("reply_to_and_cc")
    assert inbound.metadata == {
        "reply_to": "ward4@northriver.example",
        "cc": "roads@northriver.example, mayor@northriver.example",
    }


@pytest.mark.parametrize(
    ("address", "token"),
    [
        ("reply+k7d2m9x4q8w3z6p1@care.northriver.example", "k7d2m9x4q8w3z6p1"),
        ("<REPLY+Ab_c-9@care.example>", "Ab_c-9"),
        ("reply@care.example", None),
        ("bounce+abc@care.example", None),
        ("reply+bad token@care.example", None),
        ("reply+a+b@care.example", None),
        ("reply+@care.example", None),
        (None, None),
    ],
)
def test_plus_token(address: str | None, token: str | None) -> None:
    assert plus_token(address) == token


def test_plus_token_other_tags() -> None:
    assert plus_token("bounce+c0ffee1234@care.example", "bounce") == "c0ffee1234"


@pytest.mark.parametrize(
    ("subject", "hint"),
    [
        ("Re: [CC-204-581-337] Pothole", "CC-204-581-337"),
        ("RE: cc 318 902 441 still not picked up", "CC-318-902-441"),
        ("Re: [CC-204-581-330] Pothole", None),  # wrong check digit: a typo, not a ticket
        ("Account 204581337 overdue", None),  # digits without a CC or # marker
        (None, None),
    ],
)
def test_reference_hint_comes_from_the_subject(subject: str | None, hint: str | None) -> None:
    header = f"Subject: {subject}\n" if subject is not None else ""
    parsed = parse_email(f"From: a@example.com\n{header}\nbody".encode())
    assert to_inbound(parsed).reference_hint == hint


def test_language_comes_from_the_mail_when_it_says() -> None:
    assert _inbound("outlook_french_reply_cp1252").language == "fr"
    assert _inbound("outlook_reply_exchange").language == "en"
    assert _inbound("gmail_reply").language is None
