"""Twilio's message status callbacks, and the order delivery statuses may move in.

Status callbacks arrive out of order and may be retried, so a status only replaces the stored one
when it moves forward: ``sent`` arriving after ``delivered`` is ignored, and a final status
(delivered, undelivered, failed, read, canceled) is never replaced by an earlier one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from carecentre.contract import ParseError
from carecentre.twilio.form import FormFields, decode_form


class SmsStatus(StrEnum):
    """Twilio's Message status values."""

    SCHEDULED = "scheduled"
    ACCEPTED = "accepted"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    PARTIALLY_DELIVERED = "partially_delivered"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    READ = "read"
    CANCELED = "canceled"
    RECEIVING = "receiving"
    RECEIVED = "received"


FINAL_STATUSES = frozenset(
    {
        SmsStatus.DELIVERED,
        SmsStatus.UNDELIVERED,
        SmsStatus.FAILED,
        SmsStatus.READ,
        SmsStatus.CANCELED,
    }
)

# Higher is later. Final statuses share a rank so the first one recorded stands, except "read"
# (WhatsApp/RCS read receipts), which can only follow a delivery. Inbound statuses rank alongside
# their outbound counterparts; the two never meet on one message.
STATUS_RANK = MappingProxyType(
    {
        SmsStatus.SCHEDULED: 0,
        SmsStatus.ACCEPTED: 1,
        SmsStatus.QUEUED: 2,
        SmsStatus.SENDING: 3,
        SmsStatus.RECEIVING: 3,
        SmsStatus.SENT: 4,
        SmsStatus.PARTIALLY_DELIVERED: 5,
        SmsStatus.RECEIVED: 6,
        SmsStatus.DELIVERED: 6,
        SmsStatus.UNDELIVERED: 6,
        SmsStatus.FAILED: 6,
        SmsStatus.CANCELED: 6,
        SmsStatus.READ: 7,
    }
)


def is_forward(old: SmsStatus | str | None, new: SmsStatus | str) -> bool:
    """True when ``new`` should replace ``old`` (``None``: nothing recorded yet).

    The same status again is not forward, so a retried callback changes nothing. Raises
    ``ValueError`` for a status Twilio does not define.
    """
    new_status = SmsStatus(new)
    if old is None:
        return True
    return STATUS_RANK[new_status] > STATUS_RANK[SmsStatus(old)]


@dataclass(frozen=True, slots=True)
class StatusCallback:
    """One delivery report. ``error_code`` comes with failed and undelivered."""

    message_sid: str
    status: SmsStatus
    error_code: str | None = None
    error_message: str | None = None


def parse_status_form(raw: bytes) -> StatusCallback:
    """Parse the raw body of a message status callback.

    Raises :class:`ParseError` when MessageSid or MessageStatus is missing, or the status is
    not one Twilio defines (the raw body is kept, so it can be replayed after an upgrade).
    """
    return parse_status_fields(decode_form(raw))


def parse_status_fields(fields: FormFields) -> StatusCallback:
    """:func:`parse_status_form` of a body already decoded (for its signature check)."""
    # SmsSid/SmsStatus are the deprecated names of the same values; older accounts send both.
    sid = fields.get("MessageSid") or fields.get("SmsSid")
    if not sid or not sid.strip():
        raise ParseError("required form field 'MessageSid' is missing or empty")
    status_text = fields.get("MessageStatus") or fields.get("SmsStatus")
    if not status_text or not status_text.strip():
        raise ParseError("required form field 'MessageStatus' is missing or empty")
    try:
        status = SmsStatus(status_text.strip().lower())
    except ValueError:
        raise ParseError(f"MessageStatus {status_text!r} is not a Twilio message status") from None
    return StatusCallback(
        message_sid=sid.strip(),
        status=status,
        error_code=(fields.get("ErrorCode") or "").strip() or None,
        error_message=(fields.get("ErrorMessage") or "").strip() or None,
    )
