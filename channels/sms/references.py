"""Ticket references as residents type them in a text message.

The canonical form is ``CC-123-456-789``. Residents copy it, mistype it or read it from a letter, so
the prefix, the dashes (or single spaces) and a leading ``#`` are all optional when the text is
known to be a reference (``STATUS 123456789``). In free text only an explicit ``#reference`` or the
full canonical form counts, so a phone number or an amount is never taken for one.

The reference format belongs to the core; everything format-specific is in the constants below so
the core can take this module over unchanged.
"""

from __future__ import annotations

import re

REFERENCE_PREFIX = "CC"
# Three groups of three digits, as printed on every acknowledgement.
_GROUPS = r"(\d{3})[-\s]?(\d{3})[-\s]?(\d{3})"
_LENIENT = rf"(?:{REFERENCE_PREFIX}[-\s]?)?{_GROUPS}"
# Not followed by another digit group or a letter: "#123-456-7890" is not a reference.
_END = r"(?![-\s]?\d)(?!\w)"

# The whole text is a reference, in any accepted spelling.
TYPED_REFERENCE = re.compile(rf"\s*#?\s*{_LENIENT}\s*", re.IGNORECASE)
# A reference inside free text: "#" + any accepted spelling, or the exact canonical form.
REFERENCE_IN_TEXT = re.compile(
    rf"#\s?{_LENIENT}{_END}|(?<![\w-]){REFERENCE_PREFIX}-(\d{{3}})-(\d{{3}})-(\d{{3}}){_END}",
    re.IGNORECASE,
)


def format_reference(digits: str) -> str:
    """``"123456789"`` -> ``"CC-123-456-789"``."""
    return f"{REFERENCE_PREFIX}-{digits[0:3]}-{digits[3:6]}-{digits[6:9]}"


def normalize_reference(text: str) -> str | None:
    """The canonical reference when ``text`` is exactly one reference, else ``None``."""
    match = TYPED_REFERENCE.fullmatch(text)
    if match is None:
        return None
    return format_reference("".join(match.groups()))


def find_reference(text: str) -> str | None:
    """The first ``#reference`` (or canonical ``CC-123-456-789``) in free text, canonical."""
    match = REFERENCE_IN_TEXT.search(text)
    if match is None:
        return None
    return format_reference("".join(group for group in match.groups() if group))
