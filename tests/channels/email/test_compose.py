"""The mail built for an outbound message: threading headers, subject, text and HTML bodies."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from carecentre.contract import Channel, OutboundMessage
from carecentre.templates import environment
from channels.email.compose import MAX_REFERENCES, Composer, paragraphs, reply_subject, thread_ids
from channels.email.identity import MailIdentity

REFERENCE = "CC-482-193-074"
IDENTITY = MailIdentity(secret="k", mail_from="customercare@city.example", domains=["city.example"])


def composer(override: Path | None = None) -> Composer:
    return Composer(IDENTITY, environment("channels.email", override), city="Kingsbridge")


def outbound(**fields: object) -> OutboundMessage:
    values: dict[str, object] = {
        "message_id": 7,
        "channel": Channel.EMAIL,
        "to": "jane.doe@example.org",
        "body_text": "Hello Jane,\n\nThe crew fills the pothole on Monday.\nThank you.",
        "ticket_reference": REFERENCE,
        "subject": "Pothole on Elm Street",
        "contact_name": "Jane Doe",
        "thread_keys": ("email:first@example.org",),
    }
    values.update(fields)
    return OutboundMessage(**values)  # type: ignore[arg-type]


def parsed(message: EmailMessage) -> EmailMessage:
    # Read back the bytes that go on the wire, as the resident's mail client would.
    result = BytesParser(policy=policy.default).parsebytes(message.as_bytes())
    assert isinstance(result, EmailMessage)
    return result


def bodies(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    # Lines end in CRLF on the wire; compared here as the resident's client shows them.
    return (
        str(text.get_content()).replace("\r\n", "\n"),
        str(html.get_content()).replace("\r\n", "\n"),
    )


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Pothole", "Re: Pothole [CC-482-193-074]"),
        ("RE: Re: Fwd: Pothole", "Re: Pothole [CC-482-193-074]"),
        ("Re: Pothole [CC-482-193-074]", "Re: Pothole [CC-482-193-074]"),
        ("TR : Réf: Nid-de-poule [cc-482-193-074]", "Re: Nid-de-poule [CC-482-193-074]"),
        ("  ", "Re: Your request [CC-482-193-074]"),
        (None, "Re: Your request [CC-482-193-074]"),
        ("Bad\r\nBcc: evil@example.org", "Re: Bad Bcc: evil@example.org [CC-482-193-074]"),
    ],
)
def test_the_subject_never_grows_and_shows_the_reference(
    subject: str | None, expected: str
) -> None:
    assert reply_subject(subject, REFERENCE, reply=True, fallback="Your request") == expected


def test_a_new_conversation_has_no_re() -> None:
    assert reply_subject("Transcript", REFERENCE, reply=False, fallback="x") == (
        "Transcript [CC-482-193-074]"
    )


def test_in_reply_to_names_the_residents_latest_mail_and_references_end_with_it() -> None:
    ours = IDENTITY.message_id(REFERENCE, 2)
    keys = (
        "email:first@example.org",
        f"email:{ours}",
        "reply-token:abc",
        "chat:xyz",
        "email:second@example.org",
        f"email:{IDENTITY.message_id(REFERENCE, 5)}",
    )
    parent, references = thread_ids(keys, IDENTITY)
    assert parent == "second@example.org"
    assert references == [
        "first@example.org",
        ours,
        IDENTITY.message_id(REFERENCE, 5),
        "second@example.org",
    ]
    # Only our own mail so far (a chat continued by email): answer our latest.
    assert thread_ids((f"email:{ours}",), IDENTITY) == (ours, [ours])
    assert thread_ids(("chat:1",), IDENTITY) == (None, [])


def test_references_are_capped_keeping_the_root_and_the_newest() -> None:
    keys = tuple(f"email:m{i}@example.org" for i in range(200))
    parent, references = thread_ids(keys, IDENTITY)
    assert parent == "m199@example.org"
    assert len(references) == MAX_REFERENCES
    assert references[0] == "m0@example.org"
    assert references[-2:] == ["m198@example.org", "m199@example.org"]


def test_a_reply_threads_and_carries_the_token() -> None:
    composed = composer().compose(outbound())
    message = parsed(composed.message)
    assert composed.message_id == IDENTITY.message_id(REFERENCE, 7)
    assert message["Message-ID"] == f"<{composed.message_id}>"
    assert message["In-Reply-To"] == "<first@example.org>"
    assert message["References"] == "<first@example.org>"
    assert message["Reply-To"] == f"reply+{composed.reply_token}@city.example"
    assert composed.reply_token == IDENTITY.reply_token(REFERENCE)
    assert message["Subject"] == f"Re: Pothole on Elm Street [{REFERENCE}]"
    assert message["From"] == "Kingsbridge Customer Care <customercare@city.example>"
    assert message["To"] == "Jane Doe <jane.doe@example.org>"
    assert message["Content-Language"] == "en"
    assert message["Date"] is not None
    # A person's reply: out-of-office answers to it are welcome, and nothing marks it automatic.
    for name in ("Auto-Submitted", "X-Auto-Response-Suppress", "X-Loop", "Precedence"):
        assert message[name] is None
    assert message.get_content_type() == "multipart/alternative"


def test_an_acknowledgement_says_it_is_automatic() -> None:
    message = parsed(composer().compose(outbound(automatic=True)).message)
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["X-Loop"] == "customercare@city.example"
    assert message["Precedence"] is None


def test_bodies_carry_the_text_and_the_reference_and_html_is_accessible() -> None:
    body = "Hello <Jane> & co,\n\nLine one\nLine two\n\n\n<script>alert(1)</script>"
    message = parsed(composer().compose(outbound(body_text=body)).message)
    text, html = bodies(message)
    assert body in text
    assert REFERENCE in text
    assert '<html lang="en">' in html
    assert f"<title>Re: Pothole on Elm Street [{REFERENCE}]</title>" in html
    assert REFERENCE in html
    assert "font-size:16px" in html
    assert "<img" not in html
    # The agent's text is escaped, never markup; paragraphs and line breaks are kept.
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Hello &lt;Jane&gt; &amp; co," in html
    assert "Line one<br>Line two</p>" in html


def test_french_when_the_resident_writes_french() -> None:
    composed = composer().compose(outbound(language="fr", subject=None, thread_keys=()))
    message = parsed(composed.message)
    text, html = bodies(message)
    assert message["Subject"] == f"Votre demande à Kingsbridge [{REFERENCE}]"
    assert message["From"] == "Service à la clientèle de Kingsbridge <customercare@city.example>"
    assert message["Content-Language"] == "fr"
    assert message["In-Reply-To"] is None
    assert message["References"] is None
    assert "Votre numéro de référence" in text
    assert '<html lang="fr">' in html


def test_a_city_can_reword_the_mail_without_code(tmp_path: Path) -> None:
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "sender.en.txt").write_text("Town of {{ city }}")
    message = parsed(composer(tmp_path).compose(outbound()).message)
    assert message["From"] == "Town of Kingsbridge <customercare@city.example>"


def test_unicode_recipients_and_names() -> None:
    composed = composer().compose(outbound(to="élise@exemple.ca", contact_name='Élise "E" Roy'))
    data = composed.message.as_bytes()
    # SMTPUTF8 mail: the address and the name go as UTF-8, the name quoted.
    assert 'To: "Élise \\"E\\" Roy" <élise@exemple.ca>\r\n'.encode() in data


def test_paragraphs() -> None:
    assert paragraphs("a\r\nb\r\n\r\n \r\nc\n") == [["a", "b"], ["c"]]
    assert paragraphs("") == []
