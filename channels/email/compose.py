"""Building the mail for one :class:`OutboundMessage`: headers that thread, text and HTML bodies.

Threading, as residents' mail clients do it: ``In-Reply-To`` names the resident's latest mail on
the ticket (or our latest, when they never wrote by email), ``References`` lists the ticket's
mail oldest first with that one last, and ``Reply-To`` carries the ticket's reply token. The
subject is ``Re: <subject> [CC-…]`` so the reference is visible in every mailbox list.

Automatic mail (acknowledgements) says so: ``Auto-Submitted: auto-replied`` (RFC 3834),
``X-Auto-Response-Suppress: All`` (Exchange and Outlook send no out-of-office answer to it) and
``X-Loop`` with our address, so another robot, or we ourselves, never answer it. No
``Precedence``: it is not a standard field (Auto-Submitted replaced it) and ``bulk`` makes some
providers file the mail with newsletters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, formataddr

from jinja2 import Environment

from carecentre.coltypes import utcnow
from carecentre.contract import OutboundMessage
from carecentre.templates import render
from channels.email.identity import MailIdentity

# Enough for any client to find the thread; a ticket with hundreds of mails must not produce a
# header thousands of characters long. The first id is kept: it names the thread's root.
MAX_REFERENCES = 20
MAX_SUBJECT = 200

_PREFIXES = re.compile(
    r"^(?:\s*(?:re|fwd?|tr|aw|sv|wg|réf|ref)\s*(?:\[\d+\])?\s*:)+\s*", re.IGNORECASE
)
_TAG = re.compile(r"\s*\[\s*CC-\d{3}-\d{3}-\d{3}\s*\]", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_PARAGRAPH_BREAK = re.compile(r"\n(?:[ \t]*\n)+")


def reply_subject(subject: str | None, reference: str, *, reply: bool, fallback: str) -> str:
    """``Re: <subject> [CC-…]``: earlier prefixes and reference tags removed, so it never grows."""
    base = _CONTROL.sub(" ", subject or "")
    base = _PREFIXES.sub("", _TAG.sub("", base)).strip()
    base = " ".join(base.split())[:MAX_SUBJECT] or fallback
    return f"{'Re: ' if reply else ''}{base} [{reference}]"


def thread_ids(keys: tuple[str, ...], identity: MailIdentity) -> tuple[str | None, list[str]]:
    """(In-Reply-To, References) from a ticket's thread keys, oldest first."""
    ids = list(dict.fromkeys(key[6:] for key in keys if key.startswith("email:") and key[6:]))
    if not ids:
        return None, []
    theirs = [i for i in ids if not identity.is_own_message_id(i)]
    parent = theirs[-1] if theirs else ids[-1]
    ordered = [i for i in ids if i != parent] + [parent]
    if len(ordered) > MAX_REFERENCES:
        ordered = ordered[:1] + ordered[-(MAX_REFERENCES - 1) :]
    return parent, ordered


def paragraphs(text: str) -> list[list[str]]:
    """Text as paragraphs of lines, for the HTML template (which escapes each line)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    blocks = (block.strip("\n") for block in _PARAGRAPH_BREAK.split(text))
    return [block.split("\n") for block in blocks if block.strip()]


def _display_name(name: str | None) -> str:
    return " ".join(_CONTROL.sub(" ", name or "").split())[:100]


@dataclass(frozen=True, slots=True)
class Composed:
    message: EmailMessage
    message_id: str
    reply_token: str


class Composer:
    """Turns outbound messages into mail, worded by the channel's templates."""

    def __init__(self, identity: MailIdentity, templates: Environment, *, city: str) -> None:
        self.identity = identity
        self.templates = templates
        self.city = city

    def compose(self, outbound: OutboundMessage) -> Composed:
        identity, reference = self.identity, outbound.ticket_reference
        language = outbound.language
        message_id = identity.message_id(reference, outbound.message_id)
        token = identity.reply_token(reference)
        parent, references = thread_ids(outbound.thread_keys, identity)
        sender = render(self.templates, "sender.txt", language, city=self.city)
        fallback = render(self.templates, "subject.txt", language, city=self.city)
        subject = reply_subject(
            outbound.subject, reference, reply=parent is not None, fallback=fallback
        )
        values = {
            "reference": reference,
            "city": self.city,
            "sender": sender,
            "subject": subject,
        }
        text = render(self.templates, "message.txt", language, body=outbound.body_text, **values)
        html = render(
            self.templates,
            "message.html",
            language,
            paragraphs=paragraphs(outbound.body_text),
            **values,
        )
        # Addresses with non-ASCII local parts need SMTPUTF8 all the way.
        utf8 = not outbound.to.isascii()
        message = EmailMessage(policy=SMTPUTF8 if utf8 else SMTP)
        message["From"] = formataddr((_display_name(sender), identity.mail_from))
        local, _, domain = outbound.to.rpartition("@")
        message["To"] = Address(_display_name(outbound.contact_name), local, domain)
        message["Reply-To"] = identity.reply_address(reference)
        message["Subject"] = subject
        message["Date"] = format_datetime(utcnow())
        message["Message-ID"] = f"<{message_id}>"
        if parent is not None:
            message["In-Reply-To"] = f"<{parent}>"
            message["References"] = " ".join(f"<{i}>" for i in references)
        if outbound.automatic:
            message["Auto-Submitted"] = "auto-replied"
            message["X-Auto-Response-Suppress"] = "All"
            message["X-Loop"] = identity.mail_from
        message.set_content(text, cte="quoted-printable")
        message.add_alternative(html, subtype="html", cte="quoted-printable")
        # After the bodies: set_content() drops every Content-* field set before it.
        message["Content-Language"] = language
        return Composed(message, message_id, token)
