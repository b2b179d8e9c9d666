"""``to_inbound``: a :class:`ParsedEmail` mapped onto the channel contract.

Thread keys are ``"email:<message id>"`` (ids without angle brackets, case kept) for every
In-Reply-To/References id, newest first, and ``"reply-token:<token>"`` when the mail was
addressed to ``reply+<token>@<domain>``. The mail registers ``"email:<its own Message-ID>"``.
A bounce also threads by the Message-ID of our returned mail, so it lands on its ticket.
The subject's ticket reference (a hint only) is found by the core's ``carecentre.references``.
"""

from __future__ import annotations

import re

from carecentre.contract import Channel, InboundAttachment, InboundMessage, ParseError
from carecentre.references import find_reference
from channels.email.automatic import is_null_sender
from channels.email.headers import is_address
from channels.email.parsed import ParsedEmail

# The token alphabet of URL-safe base64 and hex. Some relays lower-case local parts, so tokens
# should be generated lower-case; we keep what arrives.
_PLUS_ADDRESS = re.compile(r"^([A-Za-z0-9._-]+)\+([A-Za-z0-9_-]{1,128})@[^@\s]+$")


def plus_token(address: str | None, tag: str = "reply") -> str | None:
    """The token of a ``<tag>+<token>@domain`` address (tag case-insensitive), or None."""
    if not address:
        return None
    match = _PLUS_ADDRESS.match(address.strip().strip("<>"))
    if match is None or match.group(1).lower() != tag:
        return None
    return match.group(2)


def _reply_tokens(parsed: ParsedEmail, recipient: str | None) -> list[str]:
    token = plus_token(recipient)
    if token is not None:
        return [token]
    # No envelope (IMAP) or the relay rewrote it: the headers still show where it was sent.
    found = (plus_token(a.address) for a in parsed.to + parsed.cc)
    return list(dict.fromkeys(t for t in found if t is not None))


def _sender(parsed: ParsedEmail, envelope_sender: str | None) -> tuple[str, str | None]:
    if parsed.from_address:
        return parsed.from_address, parsed.from_name
    envelope = (envelope_sender or "").strip().strip("<>")
    if is_address(envelope):
        return envelope, None
    if parsed.reply_to:
        return parsed.reply_to[0].address, parsed.reply_to[0].name
    raise ParseError(f"email {parsed.external_id}: no usable sender (From, envelope or Reply-To)")


def _metadata(parsed: ParsedEmail, reasons: tuple[str, ...]) -> dict[str, str]:
    metadata: dict[str, str] = {}
    if parsed.reply_to:
        metadata["reply_to"] = ", ".join(m.address for m in parsed.reply_to)
    if parsed.cc:
        metadata["cc"] = ", ".join(m.address for m in parsed.cc)
    if reasons:
        metadata["automatic_reasons"] = "; ".join(reasons)
    report = parsed.delivery_report
    if report is not None:
        failed = [r for r in report.recipients if r.action == "failed"]
        first = failed[0] if failed else (report.recipients[0] if report.recipients else None)
        fields = {
            "delivery.original_message_id": report.original_message_id,
            "delivery.failed": "true" if report.failed else "false",
            "delivery.final_recipient": first.final_recipient if first else None,
            "delivery.action": first.action if first else None,
            "delivery.status": first.status if first else None,
            "delivery.diagnostic": first.diagnostic if first else None,
        }
        metadata.update({k: v for k, v in fields.items() if v is not None})
    return metadata


def to_inbound(
    parsed: ParsedEmail, *, envelope_sender: str | None = None, recipient: str | None = None
) -> InboundMessage:
    """Map a parsed mail onto :class:`InboundMessage`.

    ``envelope_sender`` is the SMTP ``MAIL FROM`` (``""`` or ``"<>"`` for the null sender,
    ``None`` when unknown); ``recipient`` the ``RCPT TO`` address the mail was accepted for.
    Raises :class:`ParseError` only when no sender address can be found at all.
    """
    sender, sender_name = _sender(parsed, envelope_sender)
    thread_ids = list(parsed.thread_ids)
    report = parsed.delivery_report
    if report is not None and report.original_message_id:
        thread_ids.append(report.original_message_id)
    thread_keys = [f"email:{i}" for i in thread_ids]
    thread_keys += [f"reply-token:{t}" for t in _reply_tokens(parsed, recipient)]
    reasons = parsed.automatic_reasons
    if is_null_sender(envelope_sender):
        reasons += ("envelope sender: <>",)
    first_to = parsed.to[0].address if parsed.to else None
    return InboundMessage(
        channel=Channel.EMAIL,
        external_id=parsed.external_id,
        sender=sender,
        sender_name=sender_name,
        recipient=recipient or first_to,
        subject=parsed.subject,
        body_text=parsed.text,
        body_html=parsed.html,
        full_text=parsed.full_text,
        sent_at=parsed.date,
        attachments=tuple(
            InboundAttachment(
                filename=a.filename,
                content_type=a.content_type,
                data=a.data,
                content_id=a.content_id,
                inline=a.inline,
            )
            for a in parsed.attachments
        ),
        thread_keys=tuple(dict.fromkeys(thread_keys)),
        # Only a reference marked "CC-" or "#" counts: a subject may carry account numbers.
        reference_hint=find_reference(parsed.subject, require_marker=True)
        if parsed.subject
        else None,
        register_keys=(f"email:{parsed.message_id}",) if parsed.message_id else (),
        automatic=bool(reasons),
        language=parsed.language,
        metadata=_metadata(parsed, reasons),
    )
