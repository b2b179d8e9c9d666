"""Normalizing contact addresses before lookup: phones to E.164, email with a case-folded domain."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from carecentre.contract import IdentityKind

_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\"]+$")
_CHAT = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


class InvalidAddress(ValueError):
    """An address that cannot identify a contact."""


# Residents text and call from the same few numbers again and again, and every message is
# normalized when it arrives and again when it is filed: parsing a number is the slow part.
@lru_cache(maxsize=4096)
def normalize_phone(raw: str, region: str = "CA") -> str:
    """E.164 form of a phone number (``+16135550123``); raises :class:`InvalidAddress`."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as error:
        raise InvalidAddress(f"not a phone number: {raw!r}") from error
    if not phonenumbers.is_possible_number(number):
        raise InvalidAddress(f"not a possible phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    """``Local@Example.COM`` → ``Local@example.com``: the local part is the mailbox owner's."""
    address = raw.strip().strip("<>").strip()
    if not _EMAIL.match(address):
        raise InvalidAddress(f"not an email address: {raw!r}")
    local, _, domain = address.rpartition("@")
    domain = domain.casefold()  # before IDNA: punycode of "Q" and "q" differ
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        pass
    return f"{local}@{domain}"


def normalize(kind: IdentityKind, raw: str, *, region: str = "CA") -> str:
    if kind is IdentityKind.PHONE:
        return normalize_phone(raw, region)
    if kind is IdentityKind.EMAIL:
        return normalize_email(raw)
    if not _CHAT.match(raw):
        raise InvalidAddress("not a chat session id")
    return raw


def format_phone_national(e164: str) -> str:
    """``+16135550123`` → ``(613) 555-0123`` for people to read."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
