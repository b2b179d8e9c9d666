"""Separate what the resident just wrote from the conversation their mail client quoted.

Why not mail-parser-reply (installed, en+fr): its French attribution pattern refuses any line
where "le " appears twice, case-insensitively, so "Le 6 janv. ... Service à la clientèle <...>
a écrit :" (our own French name) or a sender called Nicole or Isabelle is never recognised; it
treats a forwarded message's "From:/Date:/Subject:" block as a quote and cuts it off, and it strips
every line's indentation. The rules below are few, English and French only, and conservative:
when unsure, keep text. The full text is always kept beside the new text anyway.
"""

from __future__ import annotations

import re

# Lines an attribution ("On ... wrote:") may be wrapped over by the sender's mail client.
_ATTRIBUTION_LINES = 3
# A "From:" line starts a quoted header block when enough of these fields follow it closely.
_HEADER_FIELDS_NEEDED = 2
_HEADER_LOOKAHEAD = 5

_SPACES = re.compile(r"[\s\u00a0\u2007\u2009\u202f]+")
# An attribution names a time or an address; requiring one keeps a resident's own sentence
# ("On Monday the inspector wrote:") from being taken for a quote header.
_WHEN_OR_WHO = r"(?=.*(?:\d{1,2} ?[:h] ?\d{2}|@))"
_ATTRIBUTION = re.compile(
    rf"^(?:on\b{_WHEN_OR_WHO}.{{4,400}}\swrote ?:|le\b{_WHEN_OR_WHO}.{{4,400}}\sa écrit ?:)$",
    re.IGNORECASE,
)
_LOOSE_ATTRIBUTION = re.compile(r"^(?:on|le)\b.{4,400}\s(?:wrote|a écrit) ?:$", re.IGNORECASE)
# "Jane Doe <jane@example.com> wrote:" on one line (no date, so no "On"/"Le" to anchor a wrap).
# Bounded repeats: a hostile megabyte-long line must not make the regex backtrack for seconds.
_NAMED_ATTRIBUTION = re.compile(
    r"^.{0,300}<[^<>\s@]{1,64}@[^<>\s]{1,255}>,? (?:wrote|a écrit) ?:$", re.IGNORECASE
)
_FROM_FIELD = re.compile(r"^\*{0,2}(?:from|de) ?\*{0,2} ?: ?\*{0,2} ?\S", re.IGNORECASE)
_OTHER_FIELD = re.compile(
    r"^\*{0,2}(?:sent|date|to|cc|subject|envoyé|à|a|objet|date d'envoi) ?\*{0,2} ?:",
    re.IGNORECASE,
)
# Any short line ending in ":" that names a time or an address.
_FOREIGN_ATTRIBUTION = re.compile(r"^(?=.*(?:\d{1,2} ?[:h] ?\d{2}|@)).{1,300}:$")
_SEPARATOR = re.compile(r"^[_\-=]{8,}$")
_ORIGINAL_MESSAGE = re.compile(
    r"^-{2,} ?(?:original message|message d'origine|message original|courriel original) ?-{2,}$",
    re.IGNORECASE,
)
_FORWARD_MARKER = re.compile(
    r"^(?:-{2,} ?(?:forwarded message|message transféré|message transmis) ?-{2,}"
    r"|begin forwarded message ?:|début du message (?:réexpédié|transféré) ?:)$",
    re.IGNORECASE,
)
_FORWARD_SUBJECT = re.compile(r"^\s*(?:fwd?|tr|transf)\s?:", re.IGNORECASE)


def is_forward_subject(subject: str | None) -> bool:
    """True when the subject's first prefix says forward (``Fwd:``, ``FW:``, French ``TR :``)."""
    return bool(subject and _FORWARD_SUBJECT.match(subject))


def _key(line: str) -> str:
    return _SPACES.sub(" ", line).strip()


def _forward_start(keys: list[str]) -> int:
    for index, key in enumerate(keys):
        if _FORWARD_MARKER.match(key):
            return index
    return len(keys)


def _attribution_width(keys: list[str], index: int, limit: int) -> int:
    """How many lines the attribution starting at ``index`` spans; 0 when there is none."""
    if keys[index].endswith(":") and _NAMED_ATTRIBUTION.match(keys[index]):
        return 1
    for width in range(1, _ATTRIBUTION_LINES + 1):
        end = index + width
        if end > limit or not keys[end - 1].endswith(":"):
            continue
        joined = " ".join(k for k in keys[index:end] if k)
        if _ATTRIBUTION.match(joined):
            return width
        # Without a time or an address, only a quote right below makes it an attribution.
        if _LOOSE_ATTRIBUTION.match(joined) and _next_is_quote(keys, end, limit):
            return width
    return 0


def _next_is_quote(keys: list[str], index: int, limit: int) -> bool:
    while index < limit and not keys[index]:
        index += 1
    return index < limit and keys[index].startswith(">")


def _header_block_at(keys: list[str], index: int, limit: int) -> bool:
    if not _FROM_FIELD.match(keys[index]):
        return False
    following = [k for k in keys[index + 1 : min(limit, index + 1 + _HEADER_LOOKAHEAD)] if k]
    fields = sum(1 for k in following[:4] if _OTHER_FIELD.match(k))
    return fields >= _HEADER_FIELDS_NEEDED


def _back_over_separator(keys: list[str], index: int) -> int:
    """Include the "_____" or "-----Original Message-----" line Outlook puts above the block."""
    previous = index - 1
    while previous >= 0 and not keys[previous]:
        previous -= 1
    if previous >= 0 and (
        _SEPARATOR.match(keys[previous]) or _ORIGINAL_MESSAGE.match(keys[previous])
    ):
        return previous
    return index


def _trailing_quote_start(keys: list[str], limit: int) -> int | None:
    """Where the last run of ``>`` lines starts, if the text (before ``limit``) ends with one."""
    end = limit
    while end > 0 and not keys[end - 1]:
        end -= 1
    start = end
    while start > 0 and (not keys[start - 1] or keys[start - 1].startswith(">")):
        start -= 1
    while start < end and not keys[start]:
        start += 1
    if start >= end:
        return None
    # An attribution in a language we do not know ("El ... escribió:") sits just above.
    above = start - 1
    while above >= 0 and not keys[above]:
        above -= 1
    if above >= 0 and _FOREIGN_ATTRIBUTION.match(keys[above]):
        return above
    return start


def _cut_index(keys: list[str], start: int, limit: int) -> int | None:
    for index in range(start, limit):
        key = keys[index]
        if not key:
            continue
        if _ORIGINAL_MESSAGE.match(key):
            return index
        if _header_block_at(keys, index, limit):
            return _back_over_separator(keys, index)
        if _attribution_width(keys, index, limit):
            return index
    trailing = _trailing_quote_start(keys, limit)
    return trailing if trailing is not None and trailing >= start else None


def _after_leading_quote(keys: list[str], index: int, limit: int) -> int | None:
    """Where a reply written below the quote starts: past the attribution and ``>`` lines."""
    index += _attribution_width(keys, index, limit)
    if not _next_is_quote(keys, index, limit):
        return None
    while index < limit and (not keys[index] or keys[index].startswith(">")):
        index += 1
    return index if index < limit else None


def strip_quotes(text: str, *, forward: bool = False) -> str:
    """Return the new text of a mail body: what the resident wrote, without quoted mail.

    Usually that is everything above the first quote header or block. A reply written below the
    quote is found too. Forwarded content stays: nothing from a "Forwarded message" marker on is
    cut, and with ``forward`` (the subject says the whole mail is a forward) nothing is cut at
    all. When unsure, the whole text is returned.
    """
    text = text.strip("\n")
    if forward or not text:
        return text
    lines = text.split("\n")
    keys = [_key(line) for line in lines]
    limit = _forward_start(keys)
    start = 0
    cut = _cut_index(keys, start, limit)
    if cut is not None and not any(keys[:cut]):
        # Bottom-posting: the quote comes first; the reply is below it.
        below = _after_leading_quote(keys, cut, limit)
        if below is None:
            return text
        start = below
        cut = _cut_index(keys, start, limit)
    if cut is None:
        cut = limit
    new = "\n".join(lines[start:cut]).strip("\n").rstrip()
    if not new.strip():
        return text
    if limit < len(lines):
        new += "\n\n" + "\n".join(lines[limit:])
    return new
