"""Numbers as callers hear and key them, and as agents read them. Pure functions.

Text-to-speech reads ``6135550123`` as "six billion…"; digits separated by spaces are read one by
one, and commas make the pauses people expect between groups: "6 1 3, 5 5 5, 0 1 2 3".
"""

from __future__ import annotations

from carecentre.identities import InvalidAddress, format_phone_national, normalize_phone
from carecentre.references import reference_digits

# What Twilio puts in From when the caller hides their number: the words themselves, or the
# words spelled on a keypad (ANONYMOUS, RESTRICTED, UNKNOWN, BLOCKED, UNAVAILABLE).
WITHHELD = frozenset(
    {
        "",
        "anonymous",
        "restricted",
        "unknown",
        "blocked",
        "unavailable",
        "private",
        "+266696687",
        "+7378742833",
        "+8656696",
        "+2562533",
        "+86282452253",
    }
)


def _spaced(digits: str) -> str:
    return " ".join(digits)


def caller_number(raw: str | None, region: str = "CA") -> str:
    """The caller's number in E.164, or ``""`` when it is withheld or unusable."""
    value = (raw or "").strip()
    if value.lower() in WITHHELD:
        return ""
    try:
        return normalize_phone(value, region)
    except InvalidAddress:
        return ""


def keyed_number(digits: str, region: str = "CA") -> str | None:
    """A phone number keyed on a telephone (``6135550123``, ``16135550123``), in E.164.

    ``None`` when it is not a number we could call back: too short, too long, or not possible
    in the numbering plan.
    """
    if not digits.isdigit() or not 10 <= len(digits) <= 11:
        return None
    if len(digits) == 11 and not digits.startswith("1"):
        return None
    try:
        return normalize_phone(digits, region)
    except InvalidAddress:
        return None


def spoken_number(e164: str) -> str:
    """``+16135550123`` → ``"6 1 3, 5 5 5, 0 1 2 3"`` (North American numbers in 3-3-4)."""
    digits = "".join(ch for ch in e164 if ch.isdigit())
    if e164.startswith("+1") and len(digits) == 11:
        national = digits[1:]
        return ", ".join(_spaced(part) for part in (national[:3], national[3:6], national[6:]))
    return _spaced(digits)


def spoken_reference(reference: str) -> str:
    """``CC-482-193-075`` → ``"C C, 4 8 2, 1 9 3, 0 7 5"``."""
    digits = reference_digits(reference)
    groups = (digits[0:3], digits[3:6], digits[6:9])
    return "C C, " + ", ".join(_spaced(group) for group in groups)


def written_number(e164: str) -> str:
    """How agents read a number: ``(613) 555-0123``."""
    return format_phone_national(e164) if e164 else "a withheld number"


def written_duration(seconds: int | None) -> str:
    """``125`` → ``"2 min 5 s"``."""
    if seconds is None:
        return "unknown duration"
    minutes, rest = divmod(max(seconds, 0), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"
