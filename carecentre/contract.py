"""The contract between the channels and the core.

A channel's job ends when it returns an :class:`InboundMessage`: it parses and verifies what
arrives, and hands the core one normalized value. Contact lookup, threading, routing and ticket
rules live once, in the core. Going the other way, the outbox hands a channel's sender one
:class:`OutboundMessage`, and the sender answers with a :class:`SendResult` or raises one of the
errors below, which tell the outbox whether a retry is safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Channel(StrEnum):
    """How a message travelled."""

    EMAIL = "email"
    SMS = "sms"
    VOICE = "voice"
    CHAT = "chat"


class IdentityKind(StrEnum):
    """What kind of address identifies a contact. SMS and voice share phone identities."""

    EMAIL = "email"
    PHONE = "phone"
    CHAT = "chat"


CHANNEL_IDENTITY: Mapping[Channel, IdentityKind] = {
    Channel.EMAIL: IdentityKind.EMAIL,
    Channel.SMS: IdentityKind.PHONE,
    Channel.VOICE: IdentityKind.PHONE,
    Channel.CHAT: IdentityKind.CHAT,
}


@dataclass(frozen=True, slots=True)
class InboundAttachment:
    """A file that came with a message.

    ``data`` is ``None`` while only a URL is known (an MMS picture not fetched yet); the core keeps
    the URL on the message so nothing is lost when a fetch fails.
    """

    filename: str
    content_type: str
    data: bytes | None = None
    url: str | None = None
    content_id: str | None = None
    inline: bool = False


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from a resident, normalized by its channel.

    Threading hints, strongest first:

    - ``thread_keys``: keys the core registered on a ticket earlier (our own email Message-IDs,
      reply tokens, a chat session, a CallSid). Any match threads to that ticket.
    - ``reference_hint``: a ticket reference the resident typed (email subject, ``#ref`` in a text).
      Accepted only when the sender is that ticket's contact.
    - ``thread_by_contact``: thread to the contact's latest ticket on this channel (SMS).

    ``register_keys`` are attached to the resulting ticket so later messages can thread by them.
    Keys are namespaced by the channel, e.g. ``"email:<message-id>"`` or ``"call:CA123"``.
    """

    channel: Channel
    external_id: str
    sender: str
    sender_name: str | None = None
    recipient: str | None = None
    subject: str | None = None
    body_text: str = ""
    body_html: str | None = None
    full_text: str | None = None
    sent_at: datetime | None = None
    attachments: tuple[InboundAttachment, ...] = ()
    thread_keys: tuple[str, ...] = ()
    reference_hint: str | None = None
    thread_by_contact: bool = False
    register_keys: tuple[str, ...] = ()
    queue_hint: str | None = None
    automatic: bool = False
    language: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def identity_kind(self) -> IdentityKind:
        return CHANNEL_IDENTITY[self.channel]


@dataclass(frozen=True, slots=True)
class AckRequest:
    """A new ticket was opened by a resident's message: what an acknowledgement may say."""

    reference: str
    channel: Channel
    language: str
    contact_name: str | None
    queue_name: str
    subject: str


@dataclass(frozen=True, slots=True)
class AckContent:
    body: str
    subject: str | None = None


class ParseError(ValueError):
    """A payload that cannot become an InboundMessage; the raw payload is kept, replayable."""


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """What the outbox hands a channel's sender: everything needed, no database access."""

    message_id: int
    channel: Channel
    to: str
    body_text: str
    ticket_reference: str
    attempt: int = 1
    subject: str | None = None
    body_html: str | None = None
    contact_name: str | None = None
    language: str = "en"
    automatic: bool = False
    thread_keys: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    """The provider accepted the message. ``provider_id`` lets delivery callbacks find it;
    ``thread_keys`` are registered on the ticket so answers to this message thread back to it
    (an email's own Message-ID, say)."""

    provider_id: str | None = None
    delivered: bool = False
    thread_keys: tuple[str, ...] = ()


class SendError(Exception):
    """Base of the errors a sender raises. ``code`` is the provider's code when there is one."""

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class TransientSendError(SendError):
    """The provider cannot have accepted the message (refused connection, 429, 5xx): retry."""


class PermanentSendError(SendError):
    """The provider refused the message for good, or may have accepted it: never retry."""


class RecipientOptedOut(PermanentSendError):
    """The recipient has opted out of this channel (SMS STOP, Twilio 21610)."""


class Sender(Protocol):
    """One per channel; registered with the outbox dispatcher."""

    channel: Channel

    async def send(self, message: OutboundMessage) -> SendResult: ...
