"""What the email parser returns: plain frozen values, no I/O, no library objects.

Every text field is plain text (headers decoded, bodies decoded). Only ``ParsedEmail.html`` is
HTML, and it is already sanitized. Anything shown to an agent must still be escaped by the UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class EmailAddress:
    """One mailbox from an address header; ``name`` is the decoded display name, if any."""

    address: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedAttachment:
    """A file that came with the mail.

    ``filename`` is safe to show and to use as a download name (no path parts, no markup, no
    control characters); it is never safe to use as a path on disk. ``content_type`` is the
    declared type, lower-cased: it is not verified against the bytes, so serve attachments as
    downloads, never inline from our own origin (an ``image/svg+xml`` may carry a script).
    """

    filename: str
    content_type: str
    data: bytes
    inline: bool = False
    content_id: str | None = None


@dataclass(frozen=True, slots=True)
class ForwardedEmail:
    """A message/rfc822 part: a mail the resident forwarded as an attachment."""

    subject: str | None
    sender: EmailAddress | None
    date: str | None
    message_id: str | None
    text: str


@dataclass(frozen=True, slots=True)
class DeliveryRecipient:
    """One per-recipient block of a delivery status notification (RFC 3464)."""

    final_recipient: str | None
    action: str | None
    status: str | None
    diagnostic: str | None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """A bounce or delay notice for a mail we sent.

    ``original_message_id`` is the Message-ID of our outbound mail (from the returned message or
    its headers), so the outbox can mark that message failed.
    """

    original_message_id: str | None
    reporting_mta: str | None
    recipients: tuple[DeliveryRecipient, ...]

    @property
    def failed(self) -> bool:
        """True when at least one recipient finally failed (not merely delayed)."""
        return any(r.action == "failed" for r in self.recipients)


@dataclass(frozen=True, slots=True)
class ParsedEmail:
    """One inbound mail, parsed best-effort. Ids are stored without angle brackets.

    - ``external_id``: the Message-ID, or ``"sha256:<hex of the raw bytes>"`` when missing.
    - ``in_reply_to`` and ``references``: message ids, newest first (References reversed).
    - ``text``: the new text only (quoted conversation removed, forwarded mail kept);
      ``full_text``: everything, quotes included. Both are derived from the HTML part when the
      mail has no usable text part (``text_from_html``).
    - ``html``: the HTML body after sanitizing, or ``None``.
    - ``language``: ``"en"`` or ``"fr"`` when the mail says so (Content-Language, then the
      first Accept-Language that Outlook sends); ``None`` when it does not.
    - ``automatic`` with its ``automatic_reasons``: the mail was sent by a machine (auto-reply,
      bounce, list) and must never be answered automatically.
    - ``defects``: what was repaired or left out, for supervisors and golden files.
    """

    external_id: str
    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    from_address: str | None
    from_name: str | None
    to: tuple[EmailAddress, ...]
    cc: tuple[EmailAddress, ...]
    reply_to: tuple[EmailAddress, ...]
    subject: str | None
    date: datetime | None
    language: str | None
    text: str
    full_text: str
    html: str | None
    text_from_html: bool
    attachments: tuple[ParsedAttachment, ...]
    forwarded: tuple[ForwardedEmail, ...]
    automatic: bool
    automatic_reasons: tuple[str, ...]
    delivery_report: DeliveryReport | None
    defects: tuple[str, ...]

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """In-Reply-To then References, newest first, without duplicates."""
        return tuple(dict.fromkeys(self.in_reply_to + self.references))
