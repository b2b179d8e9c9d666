"""How many SMS segments a text costs, so agents see it before they send.

A text that fits the GSM 03.38 7-bit alphabet travels as GSM-7: 160 septets in one segment, or 153
per segment once it must be split (the rest carries the concatenation header). Characters from the
extension table (``^{}\\[~]|€`` and form feed) take an escape plus the character: two septets, and
the pair is never split across segments. Any other character forces UCS-2 for the whole text: 70
UTF-16 code units in one segment, 67 per segment when split; characters outside the Basic
Multilingual Plane (most emoji) take two units, kept together. Most French text is UCS-2: é, è, à
are GSM-7, but ç, â, ê, î, ô, û, ë, ï are not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

# GSM 03.38 basic character set, in code order (0x1B, the escape, is left out).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each is sent as ESC + character.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67

# Twilio refuses a Body longer than this (error 21617).
MAX_BODY_LENGTH = 1600


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """The cost of one text.

    ``units`` are septets for GSM-7 and UTF-16 code units for UCS-2; ``characters`` are Unicode
    code points as a person counts them. ``per_segment`` is the capacity that applies (160/153 or
    70/67) and ``remaining`` how many units still fit in the last segment.
    """

    encoding: Encoding
    segments: int
    characters: int
    units: int
    per_segment: int
    remaining: int


def _gsm7_costs(text: str) -> list[int] | None:
    """Septets per character, or ``None`` when the text needs UCS-2."""
    costs: list[int] = []
    for char in text:
        if char in GSM7_BASIC:
            costs.append(1)
        elif char in GSM7_EXTENSION:
            costs.append(2)
        else:
            return None
    return costs


def _ucs2_costs(text: str) -> list[int]:
    """UTF-16 code units per character: two for anything beyond the BMP (a surrogate pair)."""
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def _pack(costs: list[int], capacity: int) -> tuple[int, int]:
    """Fill segments in order without splitting a character; (segments, units in the last)."""
    segments, used = 1, 0
    for cost in costs:
        if used + cost > capacity:
            segments, used = segments + 1, 0
        used += cost
    return segments, used


def segment_info(text: str) -> SegmentInfo:
    """Encoding and segment count of ``text`` as an SMS. An empty text costs 0 segments."""
    gsm = _gsm7_costs(text)
    if gsm is not None:
        encoding: Encoding = "GSM-7"
        costs, single, multi = gsm, GSM7_SINGLE, GSM7_MULTI
    else:
        encoding = "UCS-2"
        costs, single, multi = _ucs2_costs(text), UCS2_SINGLE, UCS2_MULTI
    units = sum(costs)
    if units <= single:
        segments = 1 if text else 0
        return SegmentInfo(encoding, segments, len(text), units, single, single - units)
    segments, last = _pack(costs, multi)
    return SegmentInfo(encoding, segments, len(text), units, multi, multi - last)


def body_length(text: str) -> int:
    """Length as checked against :data:`MAX_BODY_LENGTH`: UTF-16 code units.

    Twilio documents the limit in "characters" without saying how an emoji counts; counting
    code units is the stricter reading, so a text we accept is never refused for its length.
    """
    return sum(_ucs2_costs(text))


def within_length_limit(text: str) -> bool:
    """True when Twilio accepts ``text`` as one message body (at most 1,600 characters)."""
    return body_length(text) <= MAX_BODY_LENGTH
