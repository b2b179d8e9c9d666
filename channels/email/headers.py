"""Reading header fields safely: encoded words, addresses, message ids and dates.

The parser keeps headers raw (see ``parse.py`` for why it does not use ``policy.default``), so
decoding happens here, leniently: mailers put encoded words inside quotes, split one character
across two encoded words, or send raw UTF-8. Nothing here raises on bad input.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.message import Message
from email.policy import Compat32
from email.utils import getaddresses, parsedate_to_datetime

from channels.email.charsets import clean_text, decode_bytes, fix_8bit
from channels.email.parsed import EmailAddress

_FOLD = re.compile(r"\r?\n(?=[ \t])")
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,60})\?([bBqQ])\?([^?\s]*)\?=")
_WHITESPACE = re.compile(r"\s+")
_MESSAGE_ID = re.compile(r"<([^<>\s]{1,250})>")
_BARE_MESSAGE_ID = re.compile(r"^[^<>\s@]{1,200}@[^<>\s@]{1,200}$")
# Deliberately loose (residents have unicode local parts), but one "@", no spaces or brackets.
# Lengths are RFC 5321's limits (64 + 1 + 255 = the 320 characters the core stores).
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"\\]{1,64}@[^@\s<>()\[\],;:\"\\]{1,255}$")
# A display name longer than this is junk, and the core stores names in 200 characters.
MAX_NAME = 200
# Address fields: the stdlib parser takes 1.4 s for 150,000 addresses; no real mail needs more
# than a few hundred, and threading or replies never need them all.
MAX_ADDRESS_FIELD = 20_000
MAX_ADDRESSES = 200
_LANGUAGE_TAG = re.compile(r"^\s*([A-Za-z]{2,3})\b")
_Q_HEX = re.compile(rb"=([0-9A-Fa-f]{2})")


class _RawHeaderPolicy(Compat32):
    """compat32, but header values come back exactly as received (8-bit bytes included).

    compat32 wraps 8-bit values in ``Header`` objects that lose their bytes; we want the bytes
    so ``fix_8bit`` can decode raw UTF-8 or Windows-1252 headers properly.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


RAW_POLICY = _RawHeaderPolicy()


class HeaderView:
    """Case-insensitive, read-only view of one message's header fields, unfolded and NUL-free."""

    def __init__(self, msg: Message) -> None:
        self._fields: dict[str, list[str]] = {}
        for name, value in msg.items():
            raw = value if isinstance(value, str) else str(value)
            unfolded = _FOLD.sub("", raw).replace("\r", "").replace("\n", "")
            # NUL and other controls never belong in a header and would end up in ids and keys.
            value = clean_text(fix_8bit(unfolded))
            self._fields.setdefault(name.strip().lower(), []).append(value)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields

    def raw(self, name: str) -> str | None:
        """The first field with this name, not decoded, or None."""
        values = self._fields.get(name.lower())
        return values[0] if values else None

    def raw_all(self, name: str) -> list[str]:
        """Every field with this name, in order."""
        return list(self._fields.get(name.lower(), ()))

    def text(self, name: str) -> str | None:
        """The first field with this name as display text (encoded words decoded), or None."""
        value = self.raw(name)
        return None if value is None else header_text(value)


def _decode_word(charset: str, encoding: str, payload: str) -> bytes:
    if encoding in "bB":
        data = payload.encode("ascii", "ignore")
        try:
            return base64.b64decode(data + b"=" * (-len(data) % 4))
        except (binascii.Error, ValueError):
            return data
    data = payload.replace("_", " ").encode("utf-8", "replace")
    return _Q_HEX.sub(lambda m: bytes([int(m.group(1), 16)]), data)


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words, also where strict parsers refuse to (inside quotes).

    Whitespace between two encoded words is dropped, and adjacent words in one charset are decoded
    together, because some mailers split a multi-byte character across words.
    """
    if "=?" not in value:
        return value
    pieces: list[str] = []
    pending = b""
    pending_charset = ""
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        if between and not (pending and between.isspace()):
            if pending:
                pieces.append(decode_bytes(pending, pending_charset)[0])
                pending = b""
            pieces.append(between)
        charset = match.group(1).split("*", 1)[0]
        if pending and charset.lower() != pending_charset.lower():
            pieces.append(decode_bytes(pending, pending_charset)[0])
            pending = b""
        pending += _decode_word(charset, match.group(2), match.group(3))
        pending_charset = charset
        position = match.end()
    if pending:
        pieces.append(decode_bytes(pending, pending_charset)[0])
    pieces.append(value[position:])
    return "".join(pieces)


def header_text(value: str) -> str:
    """A header value as one clean line of text: decoded, control characters removed."""
    return _WHITESPACE.sub(" ", clean_text(decode_words(value))).strip()


def parse_addresses(values: Iterable[str]) -> tuple[EmailAddress, ...]:
    """Mailboxes from address fields; entries without a usable address are left out.

    At most ``MAX_ADDRESSES``, read from the first ``MAX_ADDRESS_FIELD`` characters of a field.
    """
    fields = [value[:MAX_ADDRESS_FIELD] for value in values]
    if not fields:
        return ()
    try:
        pairs = getaddresses(fields)
    except Exception:  # the stdlib parser has raised on hostile input in past releases
        return ()
    found: list[EmailAddress] = []
    for name, address in pairs:
        address = clean_text(address).strip()
        if not is_address(address):
            continue
        display = header_text(name)[:MAX_NAME].strip() if name else ""
        found.append(EmailAddress(address=address, name=display or None))
        if len(found) == MAX_ADDRESSES:
            break
    return tuple(found)


def is_address(value: str) -> bool:
    """True when ``value`` looks like ``local@domain`` (not a proof the mailbox exists)."""
    return bool(_ADDRESS.match(value))


def parse_message_ids(value: str | None) -> tuple[str, ...]:
    """Message ids from In-Reply-To, References or Message-ID, without angle brackets."""
    if not value:
        return ()
    ids = _MESSAGE_ID.findall(value)
    if not ids:
        # Some mailers forget the brackets; accept one bare id that still looks like one.
        bare = value.strip()
        ids = [bare] if _BARE_MESSAGE_ID.match(bare) else []
    return tuple(dict.fromkeys(ids))


def parse_date(value: str | None) -> datetime | None:
    """The Date field as an aware datetime (no zone given means UTC), or None."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_language(value: str | None, supported: frozenset[str]) -> str | None:
    """The primary language of a Content-Language or Accept-Language value, if supported.

    ``"fr-CA, en-US"`` -> ``"fr"``; only the first tag counts (the sender's first choice).
    """
    match = _LANGUAGE_TAG.match(value or "")
    if match is None:
        return None
    language = match.group(1).lower()
    return language if language in supported else None
