"""Charset decoding: a fixed fallback chain that never raises."""

from __future__ import annotations

import pytest

from channels.email.charsets import clean_text, codec_name, decode_bytes, decode_text, fix_8bit

CAFE_UTF8 = "caf\u00e9 \u2013 150 \u20ac".encode()
CAFE_1252 = "caf\u00e9 \u2013 150 \u20ac".encode("cp1252")


@pytest.mark.parametrize(
    ("data", "declared", "text", "codec"),
    [
        (CAFE_UTF8, "utf-8", "caf\u00e9 \u2013 150 \u20ac", "utf_8"),
        (CAFE_UTF8, "us-ascii", "caf\u00e9 \u2013 150 \u20ac", "utf_8"),
        (CAFE_1252, "utf-8", "caf\u00e9 \u2013 150 \u20ac", "cp1252"),
        (CAFE_1252, "iso-8859-1", "caf\u00e9 \u2013 150 \u20ac", "cp1252"),
        (CAFE_1252, "x-unknown", "caf\u00e9 \u2013 150 \u20ac", "cp1252"),
        (CAFE_1252, None, "caf\u00e9 \u2013 150 \u20ac", "cp1252"),
        ("Привет".encode("koi8-r"), "koi8-r", "Привет", "koi8_r"),
        ("日本".encode("iso-2022-jp"), "iso-2022-jp", "日本", "iso2022_jp"),
        ("hé".encode("utf-16"), "utf-16", "hé", "utf_16"),
        (b"\x81\x8d\x8f", "utf-8", "\x81\x8d\x8f", "latin_1"),
    ],
    ids=[
        "utf8",
        "ascii-label",
        "1252-as-utf8",
        "latin1-label",
        "unknown",
        "none",
        "koi8",
        "iso2022",
        "utf16",
        "last-resort",
    ],
)
def test_decode_chain(data: bytes, declared: str | None, text: str, codec: str) -> None:
    assert decode_bytes(data, declared) == (text, codec)


@pytest.mark.parametrize("label", [None, "", "x-unknown", "unicode-escape", "utf-8\x00", "a" * 100])
def test_unusable_labels(label: str | None) -> None:
    assert codec_name(label) is None
    assert decode_bytes(b"abc\xe9", label) == ("abcé", "cp1252")


def test_labels_are_normalized() -> None:
    assert codec_name(' "UTF-8" ') == "utf_8"
    assert codec_name("ISO-8859-1") == "iso8859_1"
    assert codec_name("windows-1252") == "cp1252"


def test_non_text_codecs_fall_through() -> None:
    # "base64" is a codec Python knows, but not one that makes text out of bytes.
    assert decode_bytes(b"\xe9t\xe9", "base64") == ("été", "cp1252")


def test_decode_text_reports_only_real_mismatches() -> None:
    assert decode_text(b"plain ascii", "utf-8") == ("plain ascii", None)
    assert decode_text(CAFE_1252, "windows-1252")[1] is None
    assert decode_text(CAFE_1252, "iso-8859-1")[1] is None
    assert decode_text(CAFE_1252, "utf-8")[1] == (
        "declared charset 'utf-8' did not fit, decoded as cp1252"
    )
    assert decode_text(CAFE_UTF8, None)[1] == "no charset, decoded as utf_8"


def test_fix_8bit_restores_raw_header_bytes() -> None:
    raw_utf8 = "café".encode().decode("ascii", "surrogateescape")
    raw_1252 = "café".encode("cp1252").decode("ascii", "surrogateescape")
    assert fix_8bit(raw_utf8) == "café"
    assert fix_8bit(raw_1252) == "café"
    assert fix_8bit("plain") == "plain"
    assert fix_8bit("lone \ud800 surrogate") == "lone \ufffd surrogate"


def test_clean_text() -> None:
    assert clean_text("a\r\nb\rc\x00d\x07e\tf\x1b[31mred\x1b[0m") == "a\nb\ncde\tfred"
    assert clean_text("x\udc80y") == "x\ufffdy"
