"""Our own mail identity: the Message-IDs we mint, reply tokens, and recognising our own mail.

Both are threading keys the core trusts without checking who sent the mail (DESIGN.md:
"strong keys"), so both must be unguessable: each is an HMAC under the secret key. A reply token
is derived from the ticket reference, so every mail on a ticket carries the same Reply-To
address and an answer to any of them threads back. A Message-ID is derived from the reference
and the message's row id, so a retried send keeps its Message-ID (a mail client that receives
it twice shows it once), and we can tell our ids from a resident's without any lookup.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

from carecentre.references import parse_reference, reference_digits

# Lower-case base32: some relays lower-case local parts, and the parser keeps what arrives.
_TOKEN_BYTES = 15  # 120 bits, 24 characters
_MAC_BYTES = 10  # 80 bits, 16 characters
_OWN_ID = re.compile(r"^cc\.(\d{9})\.(\d{1,19})\.([a-z2-7]{16})@([^@\s]+)$")


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


@dataclass(frozen=True)
class MailIdentity:
    """Who we are on email: the From address, the domains we receive for, and the secret."""

    secret: str
    mail_from: str
    domains: Sequence[str]

    @property
    def domain(self) -> str:
        """The domain of our Reply-To addresses and Message-IDs (the first MAIL_DOMAIN)."""
        return self.domains[0] if self.domains else self.mail_from.rpartition("@")[2].lower()

    def _mac(self, purpose: str, value: str, size: int) -> str:
        digest = hmac.new(
            self.secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256
        ).digest()
        return _b32(digest[:size])

    def reply_token(self, reference: str) -> str:
        """The unguessable token of a ticket's Reply-To address."""
        return self._mac("reply-token", reference, _TOKEN_BYTES)

    def reply_address(self, reference: str) -> str:
        return f"reply+{self.reply_token(reference)}@{self.domain}"

    def message_id(self, reference: str, message_id: int) -> str:
        """Our Message-ID for outbound message ``message_id`` (without angle brackets)."""
        digits = reference_digits(reference)
        mac = self._mac("message-id", f"{reference}:{message_id}", _MAC_BYTES)
        return f"cc.{digits}.{message_id}.{mac}@{self.domain}"

    def is_own_message_id(self, value: str) -> bool:
        """True when ``value`` (without brackets) is a Message-ID we minted."""
        match = _OWN_ID.match(value)
        if match is None:
            return False
        reference = parse_reference(match.group(1))
        if reference is None:
            return False
        return hmac.compare_digest(self.message_id(reference, int(match.group(2))), value)

    def is_own_address(self, address: str) -> bool:
        """Our From address, or one of our reply addresses: mail "from" them is our own."""
        local, _, domain = address.strip().casefold().rpartition("@")
        if f"{local}@{domain}" == self.mail_from.strip().casefold():
            return True
        return domain in self.domains and local.startswith("reply+")
