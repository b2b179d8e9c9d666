"""Bytes to text, best effort, never raising.

Mail lies about its charset: ``us-ascii`` bodies full of 8-bit bytes, ``utf-8`` labels on
Windows-1252 text, charset names no codec knows. We try a fixed chain and keep the first strict
success, so the outcome is predictable (no guessing library, no statistics).
"""

from __future__ import annotations

import codecs
import re

# Labels that in practice mean a larger codec (as in the WHATWG encoding standard): text declared
# Latin-1 or ASCII is very often typed on Windows, with curly quotes in 0x80-0x9F, and East Asian
# mailers label their vendor extensions with the old standard's name.
_SUPERSETS = {
    "ascii": "cp1252",
    "iso8859_1": "cp1252",
    "iso8859_9": "cp1254",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
}

# Codecs whose ASCII bytes do not mean ASCII text (7-bit stateful or wide encodings). A UTF-8
# attempt would "succeed" on them and produce garbage, so the declared codec goes first.
_DECLARED_FIRST_PREFIXES = ("utf_16", "utf_32", "utf_7", "iso2022", "hz")

# Text codecs Python knows that no mail should be decoded with.
_REFUSED_CODECS = frozenset(
    {"unicode_escape", "raw_unicode_escape", "idna", "punycode", "undefined", "mbcs", "oem"}
)

# C0 controls except TAB and LF, plus DEL: never meaningful in mail text, and NUL breaks
# databases and terminals.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Terminal colour codes (ESC [ ... m) pasted from consoles: removed whole, not just the ESC.
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
# Lone surrogates cannot be stored as UTF-8 anywhere downstream.
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def codec_name(label: str | None) -> str | None:
    """Return Python's canonical codec name for a MIME charset label, or None if unusable."""
    if not label:
        return None
    cleaned = label.strip().strip("\"'").strip().lower()
    if not cleaned or len(cleaned) > 40:
        return None
    try:
        name = codecs.lookup(cleaned).name.replace("-", "_")
    except (LookupError, ValueError):
        return None
    return None if name in _REFUSED_CODECS else name


def _try(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeError, LookupError, ValueError):
        return None


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode ``data`` and return ``(text, codec used)``.

    Order: the declared codec when it is not ASCII-compatible, then UTF-8, then the declared
    codec (or its usual superset: Latin-1 and ASCII labels read as Windows-1252), then
    Windows-1252, then Latin-1, which accepts every byte.
    """
    codec = codec_name(declared)
    if codec is not None and codec.startswith(_DECLARED_FIRST_PREFIXES):
        text = _try(data, codec)
        if text is not None:
            return text, codec
    text = _try(data, "utf-8")
    if text is not None:
        return text, "utf_8"
    if codec is not None:
        codec = _SUPERSETS.get(codec, codec)
        text = _try(data, codec)
        if text is not None:
            return text, codec
    text = _try(data, "cp1252")
    if text is not None:
        return text, "cp1252"
    return data.decode("latin-1"), "latin_1"


def decode_text(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """Decode a body part; the second item notes a charset that did not fit the bytes."""
    text, used = decode_bytes(data, declared)
    if data.isascii():
        # Every label we accept reads ASCII the same way: nothing worth reporting.
        return text, None
    expected = codec_name(declared)
    if expected is None:
        wanted = f"unknown charset {declared!r}" if declared else "no charset"
        return text, f"{wanted}, decoded as {used}"
    if used not in (expected, _SUPERSETS.get(expected)):
        return text, f"declared charset {declared!r} did not fit, decoded as {used}"
    return text, None


def fix_8bit(value: str) -> str:
    """Turn raw 8-bit bytes smuggled in a header (surrogate escapes) back into real text."""
    if not _SURROGATES.search(value):
        return value
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", value)
    return decode_bytes(raw)[0]


def clean_text(text: str) -> str:
    """Normalize line ends to LF, drop control characters (NUL included) and lone surrogates."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x1b" in text:
        text = _ANSI_ESCAPE.sub("", text)
    return _SURROGATES.sub("\ufffd", _CONTROL_CHARS.sub("", text))
