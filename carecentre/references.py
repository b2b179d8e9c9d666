"""Ticket references: short, unambiguous when read aloud, keyable on a phone.

A reference is ``CC-`` and nine digits in groups of three, e.g. ``CC-482-193-075``. Digits read well
aloud in any language and a caller can key them on a phone; the last digit is a Damm check digit,
so one mistyped digit or two swapped neighbours are caught before any lookup. The eight others
are random, so references say nothing about volume and cannot be walked.
"""

from __future__ import annotations

import re
import secrets

PREFIX = "CC"

# The Damm algorithm's quasigroup table (order 10, weakly totally anti-symmetric).
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

# Found in free text: "#CC-482-193-075", "cc 482 193 075", "482193075" after a '#'.
PATTERN = re.compile(
    r"(?<![\w-])(?:#\s*)?(?:CC[\s-]?)?(\d{3})[\s.-]?(\d{3})[\s.-]?(\d{3})(?![\w-])",
    re.IGNORECASE,
)
_STRICT = re.compile(r"^(?:#\s*)?(?:CC[\s-]?)?(\d{3})[\s.-]?(\d{3})[\s.-]?(\d{3})$", re.IGNORECASE)


def _damm(digits: str) -> int:
    interim = 0
    for digit in digits:
        interim = _DAMM[interim][int(digit)]
    return interim


def _format(digits: str) -> str:
    return f"{PREFIX}-{digits[0:3]}-{digits[3:6]}-{digits[6:9]}"


def new_reference() -> str:
    body = f"{secrets.randbelow(10**8):08d}"  # one draw from the system's CSPRNG
    return _format(body + str(_damm(body)))


def is_valid_digits(digits: str) -> bool:
    return len(digits) == 9 and digits.isdigit() and _damm(digits) == 0


def parse_reference(text: str) -> str | None:
    """The canonical reference for ``text`` if it is one (any spacing or prefix), else ``None``."""
    match = _STRICT.match(text.strip())
    if not match:
        return None
    digits = "".join(match.groups())
    return _format(digits) if is_valid_digits(digits) else None


def find_reference(text: str, *, require_marker: bool = False) -> str | None:
    """The first valid reference in free text. With ``require_marker`` it must follow ``#``
    or ``CC`` (so an SMS quoting a phone number does not look like a reference)."""
    for match in PATTERN.finditer(text):
        token = match.group(0).lstrip()
        if require_marker and not (token.startswith("#") or token[:2].upper() == PREFIX):
            continue
        digits = "".join(match.groups())
        if is_valid_digits(digits):
            return _format(digits)
    return None


def reference_digits(reference: str) -> str:
    """``CC-482-193-075`` → ``482193075`` (what a caller keys)."""
    return "".join(ch for ch in reference if ch.isdigit())
