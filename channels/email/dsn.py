"""Delivery status notifications (RFC 3464): which of our mails bounced, for whom and why.

A bounce is ``multipart/report; report-type=delivery-status`` holding a human-readable part, a
``message/delivery-status`` part with one block per recipient, and the returned message (or only
its headers). The returned Message-ID is ours, so the outbox can mark that message failed.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from email.message import Message
from email.parser import HeaderParser

from channels.email.charsets import decode_bytes
from channels.email.headers import RAW_POLICY, HeaderView, header_text, parse_message_ids
from channels.email.parsed import DeliveryRecipient, DeliveryReport

_STATUS_CODE = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_BLOCK_SEPARATOR = re.compile(r"\n[ \t]*\n")
_ENCODED = frozenset({"base64", "quoted-printable"})
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_ORIGINAL_TYPES = frozenset({"message/rfc822", "text/rfc822-headers", "message/rfc822-headers"})
# A report lists few recipients; a hostile one could list thousands.
_MAX_RECIPIENTS = 100


def is_delivery_report(msg: Message) -> bool:
    """True for ``multipart/report`` with ``report-type=delivery-status``."""
    if msg.get_content_type() != "multipart/report":
        return False
    report_type = msg.get_param("report-type")
    return isinstance(report_type, str) and report_type.strip().lower() == "delivery-status"


def _typed_value(value: str | None) -> str | None:
    """``"rfc822; jane@example.com"`` -> ``"jane@example.com"`` (the type is implied)."""
    if value is None:
        return None
    text = header_text(value)
    if ";" in text:
        text = text.split(";", 1)[1].strip()
    return text.strip("<>").strip() or None


def _lenient_b64(data: bytes) -> bytes:
    cleaned = _NOT_BASE64.sub(b"", data)
    if len(cleaned) % 4 == 1:
        cleaned = cleaned[:-1]  # a lone trailing character cannot encode anything
    try:
        return base64.b64decode(cleaned + b"=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        return b""


def _status_blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    encoding = str(part.get("Content-Transfer-Encoding") or "").strip().lower()
    if isinstance(payload, list) and encoding not in _ENCODED:
        return [block for block in payload if isinstance(block, Message)]
    # Encoded (some MTAs base64 the report): the stdlib parsed the encoded text as header
    # blocks, so rebuild that text, decode it, and parse the blocks ourselves.
    if isinstance(payload, list):
        text = "\n".join(b.as_string() for b in payload if isinstance(b, Message))
    else:
        text = str(payload)
    data = text.encode("ascii", "ignore")
    if encoding == "base64":
        text = decode_bytes(_lenient_b64(data))[0]
    elif encoding == "quoted-printable":
        text = decode_bytes(quopri.decodestring(data))[0]
    text = text.replace("\r\n", "\n")
    parser = HeaderParser(policy=RAW_POLICY)
    return [parser.parsestr(block + "\n") for block in _BLOCK_SEPARATOR.split(text) if block]


def _recipient(block: HeaderView) -> DeliveryRecipient:
    status = block.raw("Status")
    code = _STATUS_CODE.search(status) if status else None
    action = block.raw("Action")
    return DeliveryRecipient(
        final_recipient=_typed_value(
            block.raw("Final-Recipient") or block.raw("Original-Recipient")
        ),
        action=action.strip().lower() or None if action else None,
        status=code.group(1) if code else None,
        diagnostic=_typed_value(block.raw("Diagnostic-Code")),
    )


def _original_message_id(part: Message) -> str | None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        headers = payload[0]
    else:
        data = part.get_payload(decode=True)
        text = decode_bytes(data)[0] if isinstance(data, bytes) else str(payload)
        headers = HeaderParser(policy=RAW_POLICY).parsestr(text.lstrip("\r\n"), headersonly=True)
    ids = parse_message_ids(HeaderView(headers).raw("Message-ID"))
    return ids[0] if ids else None


def parse_delivery_report(msg: Message) -> DeliveryReport | None:
    """The delivery report in ``msg``, or None when ``msg`` is not one."""
    if not is_delivery_report(msg):
        return None
    parts = msg.get_payload()
    if not isinstance(parts, list):
        return None
    reporting_mta: str | None = None
    recipients: list[DeliveryRecipient] = []
    original_id: str | None = None
    for part in parts:
        if not isinstance(part, Message):
            continue
        content_type = part.get_content_type()
        if content_type == "message/delivery-status":
            blocks = [HeaderView(block) for block in _status_blocks(part)]
            for block in blocks:
                if "Reporting-MTA" in block and reporting_mta is None:
                    reporting_mta = _typed_value(block.raw("Reporting-MTA"))
                if "Final-Recipient" in block or "Original-Recipient" in block:
                    recipients.append(_recipient(block))
        elif content_type in _ORIGINAL_TYPES and original_id is None:
            original_id = _original_message_id(part)
    return DeliveryReport(
        original_message_id=original_id,
        reporting_mta=reporting_mta,
        recipients=tuple(recipients[:_MAX_RECIPIENTS]),
    )
