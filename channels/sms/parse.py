"""Turn Twilio's incoming-message webhook into an :class:`InboundMessage`. Pure: bytes in.

The core stores the raw body before calling this, so everything Twilio sent (including fields
Twilio adds without notice) is kept there; only what the core needs is mapped here.
"""

from __future__ import annotations

import re

from carecentre.contract import Channel, InboundAttachment, InboundMessage, ParseError
from carecentre.twilio.form import FormFields, decode_form
from channels.sms.keywords import classify
from channels.sms.references import find_reference

MAX_MEDIA = 10
_MESSAGE_SID = re.compile(r"(?:SM|MM)[0-9A-Za-z]{1,64}")
_MEDIA_FIELD = re.compile(r"Media(?:Url|ContentType)(\d+)")

# Fields worth keeping on the message itself (Twilio's names, so they can be looked up).
METADATA_FIELDS = (
    "AccountSid",
    "MessagingServiceSid",
    "NumSegments",
    "NumMedia",
    "SmsStatus",
    "OptOutType",
    "FromCity",
    "FromState",
    "FromZip",
    "FromCountry",
    "ToCountry",
    "ApiVersion",
)

# A fixed table, not the platform's mimetypes database, so filenames are the same everywhere.
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "image/heif": ".heif",
    "image/tiff": ".tiff",
    "video/mp4": ".mp4",
    "video/3gpp": ".3gp",
    "video/quicktime": ".mov",
    "audio/amr": ".amr",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/ogg": ".ogg",
    "audio/wav": ".wav",
    "text/vcard": ".vcf",
    "text/x-vcard": ".vcf",
    "text/calendar": ".ics",
    "text/plain": ".txt",
    "application/pdf": ".pdf",
}


def media_filename(index: int, content_type: str) -> str:
    """``media-1.jpg`` for the first picture; Twilio gives media no names of their own."""
    mime = content_type.split(";", 1)[0].strip().lower()
    return f"media-{index + 1}{_EXTENSIONS.get(mime, '.bin')}"


def _attachments(fields: FormFields) -> tuple[InboundAttachment, ...]:
    declared = fields.get("NumMedia")
    indexes = {int(m.group(1)) for name in fields if (m := _MEDIA_FIELD.fullmatch(name))}
    if declared is None or not declared.strip():
        count = len(indexes)
    elif declared.strip().isdigit():
        count = int(declared)
    else:
        raise ParseError(f"NumMedia is not a number: {declared!r}")
    if count > MAX_MEDIA:
        raise ParseError(f"NumMedia is {count}; Twilio sends at most {MAX_MEDIA} media")
    if indexes != set(range(count)):
        expected = f"MediaUrl0..MediaUrl{count - 1}" if count else "none"
        raise ParseError(
            f"NumMedia is {count} but media fields are numbered {sorted(indexes)}"
            f" (expected {expected})"
        )
    media = []
    for index in range(count):
        url = fields.require(f"MediaUrl{index}")
        content_type = fields.require(f"MediaContentType{index}")
        media.append(
            InboundAttachment(
                filename=media_filename(index, content_type),
                content_type=content_type,
                url=url,
                data=None,
            )
        )
    return tuple(media)


def parse_sms_form(raw: bytes) -> InboundMessage:
    """Parse the raw body of Twilio's incoming SMS/MMS webhook.

    Raises :class:`ParseError` naming what is wrong: a body that is not UTF-8, a missing
    MessageSid/From/To, a MessageSid that is not SM.../MM..., or media fields that do not agree
    with NumMedia.

    ``metadata`` keeps :data:`METADATA_FIELDS` when present, plus ``keyword`` (opt_out, opt_in,
    help, status) when the message is a control word the core must act on.
    """
    return parse_sms_fields(decode_form(raw))


def parse_sms_fields(fields: FormFields) -> InboundMessage:
    """:func:`parse_sms_form` of a body already decoded (the webhook decodes it once, to check
    its signature, and parses those same fields)."""
    sid = fields.require("MessageSid").strip()
    if not _MESSAGE_SID.fullmatch(sid):
        raise ParseError(f"MessageSid {sid!r} is not a Twilio message SID (SM... or MM...)")
    sender = fields.require("From").strip()
    recipient = fields.require("To").strip()
    body = fields.get("Body") or ""
    attachments = _attachments(fields)

    metadata = {name: value for name in METADATA_FIELDS if (value := fields.get(name))}
    keyword = classify(body, opt_out_type=fields.get("OptOutType"))
    reference = find_reference(body)
    if keyword is not None:
        metadata["keyword"] = keyword.keyword.value
        reference = keyword.reference or reference

    return InboundMessage(
        channel=Channel.SMS,
        external_id=sid,
        sender=sender,
        recipient=recipient,
        body_text=body,
        attachments=attachments,
        reference_hint=reference,
        thread_by_contact=True,
        metadata=metadata,
    )
