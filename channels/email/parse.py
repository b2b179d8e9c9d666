"""``parse_email``: raw RFC 5322 bytes in, one frozen :class:`ParsedEmail` out. Pure, no I/O.

It never raises: a resident's mail is worth more than a strict parse, so broken mail is read
best-effort and what was repaired is listed in ``defects``. The raw bytes are stored by the
caller before parsing, so a parser bug can always be fixed and the mail replayed.

Why compat32 and not ``policy.default``: with ``policy.default`` the stdlib parser re-parses the
Content-Type header through the header registry every time it looks at a part, which costs
about 1.5 ms for a two-part mail on its own; compat32 keeps values raw (about 0.1 ms) and
``headers.py`` decodes only the fields we use.
"""

from __future__ import annotations

import hashlib
import re
from email.parser import BytesParser

from channels.email.automatic import automatic_reasons
from channels.email.charsets import clean_text, decode_bytes
from channels.email.dsn import parse_delivery_report
from channels.email.headers import (
    RAW_POLICY,
    HeaderView,
    parse_addresses,
    parse_date,
    parse_language,
    parse_message_ids,
)
from channels.email.htmltext import render_html
from channels.email.mime import collect
from channels.email.parsed import ForwardedEmail, ParsedEmail
from channels.email.quotes import is_forward_subject, strip_quotes

# Threading needs only the recent ancestors; a hostile References field can hold thousands.
MAX_REFERENCES = 100
# The stdlib parser reads every part before we can stop it (0.8 s for 20,000 tiny parts), so
# cut the input after this many boundary-like lines; mime.py keeps at most 500 parts anyway.
MAX_BOUNDARY_LINES = 2_000

# Any one of these makes the input a mail; without them it is shown whole, as text.
_MAIL_HEADERS = (
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Received",
    "Return-Path",
    "Reply-To",
    "In-Reply-To",
    "References",
)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
# The languages the City answers in.
LANGUAGES = frozenset({"en", "fr"})

_PARSER = BytesParser(policy=RAW_POLICY)


def raw_id(raw: bytes) -> str:
    """The stable external id of a mail without a usable Message-ID."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _render_forward(forwarded: ForwardedEmail) -> str:
    """A forwarded attachment as text, laid out like mail clients lay out inline forwards."""
    lines = ["---------- Forwarded message ----------"]
    if forwarded.sender is not None:
        name = forwarded.sender.name
        address = forwarded.sender.address
        lines.append(f"From: {name} <{address}>" if name else f"From: {address}")
    if forwarded.date:
        lines.append(f"Date: {forwarded.date}")
    if forwarded.subject:
        lines.append(f"Subject: {forwarded.subject}")
    return "\n".join(lines) + "\n\n" + forwarded.text


def _with_forwards(text: str, forwarded: tuple[ForwardedEmail, ...]) -> str:
    pieces = [text] if text else []
    pieces += [_render_forward(f) for f in forwarded]
    return "\n\n".join(pieces)


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse one mail as received (bytes of the DATA command or of an IMAP fetch).

    Never raises; see :class:`ParsedEmail` for what each field holds.
    """
    data = bytes(raw)
    try:
        return _parse(data)
    except Exception as error:  # the last guard: a parse bug must still yield a message
        return _unparsed(data, f"parse failed ({type(error).__name__}): whole mail kept as text")


def _repaired(raw: bytes) -> tuple[bytes, list[str]]:
    """Undo the damage that would make the stdlib parser lose whole sections."""
    repairs: list[str] = []
    # Some senders start DATA with blank lines, which would turn every header into body.
    data = raw.lstrip(b"\r\n")
    if len(data) != len(raw) and data:
        repairs.append("blank lines before the headers removed")
    # A NUL in a header name ends the header section early for the stdlib parser.
    end = _HEADER_END.search(data)
    split = end.start() if end else len(data)
    if b"\x00" in data[:split]:
        data = data[:split].replace(b"\x00", b"") + data[split:]
        repairs.append("NUL bytes removed from the header section")
    position = -1
    for _ in range(MAX_BOUNDARY_LINES):
        position = data.find(b"\n--", position + 1)
        if position < 0:
            break
    else:
        data = data[:position]
        repairs.append(f"mail cut after {MAX_BOUNDARY_LINES} MIME boundary lines")
    return data, repairs


def _parse(raw: bytes) -> ParsedEmail:
    data, repairs = _repaired(raw)
    msg = _PARSER.parsebytes(data)
    headers = HeaderView(msg)
    if not any(name in headers for name in _MAIL_HEADERS):
        return _unparsed(raw, "no mail headers found: whole input kept as text")
    own_ids = parse_message_ids(headers.raw("Message-ID"))
    message_id = own_ids[0] if own_ids else None
    references = parse_message_ids(" ".join(headers.raw_all("References")))
    senders = parse_addresses(headers.raw_all("From"))
    sender = senders[0] if senders else None
    subject = headers.text("Subject") or None

    content = collect(msg)
    html: str | None = None
    base = content.plain
    text_from_html = False
    if content.html.strip():
        # The text comes from the HTML only when no text part said anything.
        rendered = render_html(content.html, with_text=not content.plain.strip())
        html = rendered.html
        repairs += rendered.defects
        if rendered.text:
            base, text_from_html = rendered.text, True
    base = base.strip("\n")
    new_text = strip_quotes(base, forward=is_forward_subject(subject))

    try:
        report = parse_delivery_report(msg)
    except Exception as error:  # a broken report must not cost the mail itself
        report = None
        repairs.append(f"delivery report unreadable ({type(error).__name__})")
    reasons = automatic_reasons(
        headers, from_address=sender.address if sender else None, subject=subject
    )
    if report is not None:
        reasons += ("report: delivery-status",)

    return ParsedEmail(
        external_id=message_id or raw_id(raw),
        message_id=message_id,
        in_reply_to=parse_message_ids(headers.raw("In-Reply-To")),
        references=tuple(reversed(references))[:MAX_REFERENCES],
        from_address=sender.address if sender else None,
        from_name=sender.name if sender else None,
        to=parse_addresses(headers.raw_all("To")),
        cc=parse_addresses(headers.raw_all("Cc")),
        reply_to=parse_addresses(headers.raw_all("Reply-To")),
        subject=subject,
        date=parse_date(headers.raw("Date")),
        language=parse_language(headers.raw("Content-Language"), LANGUAGES)
        or parse_language(headers.raw("Accept-Language"), LANGUAGES),
        text=_with_forwards(new_text, content.forwarded),
        full_text=_with_forwards(base, content.forwarded),
        html=html,
        text_from_html=text_from_html,
        attachments=content.attachments,
        forwarded=content.forwarded,
        automatic=bool(reasons),
        automatic_reasons=reasons,
        delivery_report=report,
        defects=tuple(repairs) + content.defects,
    )


def _unparsed(raw: bytes, defect: str) -> ParsedEmail:
    """What we can say about a mail the parser choked on: its bytes, shown as text."""
    text = clean_text(decode_bytes(raw)[0]).strip("\n")
    return ParsedEmail(
        external_id=raw_id(raw),
        message_id=None,
        in_reply_to=(),
        references=(),
        from_address=None,
        from_name=None,
        to=(),
        cc=(),
        reply_to=(),
        subject=None,
        date=None,
        language=None,
        text=text,
        full_text=text,
        html=None,
        text_from_html=False,
        attachments=(),
        forwarded=(),
        automatic=False,
        automatic_reasons=(),
        delivery_report=None,
        defects=(defect,),
    )
