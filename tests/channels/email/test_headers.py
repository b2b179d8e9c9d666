"""Header decoding: encoded words, addresses, message ids, dates."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from email.parser import BytesParser

import pytest

from channels.email.headers import (
    RAW_POLICY,
    HeaderView,
    decode_words,
    header_text,
    is_address,
    parse_addresses,
    parse_date,
    parse_language,
    parse_message_ids,
)
from channels.email.parsed import EmailAddress


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("=?utf-8?q?Caf=C3=A9_au_lait?=", "Café au lait"),
        ("=?UTF-8?B?w4l0w6k=?= =?UTF-8?B?IGTDqWrDoA==?=", "Été déjà"),
        ("Re: =?iso-8859-1?q?d=E9neigement?= rue", "Re: déneigement rue"),
        ("=?utf-8?q?a?= text =?utf-8?q?b?=", "a text b"),
        ('"=?utf-8?q?Tremblay=2C_Marie?="', '"Tremblay, Marie"'),
        ("=?utf-8*fr?q?langue?=", "langue"),
        ("=?x-unknown?q?Probl=E8me?=", "Problème"),
        ("=?utf-8?b?!!!not-base64?=", "!!!not-base64"),
        ("=?utf-8?b?w4lt?=", "Ém"),
        ("plain", "plain"),
    ],
)
def test_decode_words(raw: str, decoded: str) -> None:
    assert decode_words(raw) == decoded


def test_multibyte_character_split_across_words() -> None:
    first = base64.b64encode(b"r\xc3").decode()
    second = base64.b64encode(b"\xa9servation").decode()
    assert decode_words(f"=?utf-8?B?{first}?=\n =?utf-8?B?{second}?=") == "réservation"


def test_header_text_is_one_clean_line() -> None:
    assert header_text("Broken\x00 subject\t with\x1b[31m  ANSI\x07") == "Broken subject with ANSI"


def test_header_view_unfolds_and_decodes_raw_utf8() -> None:
    raw = "Subject: caf\u00e9 au\n lait\nX-Empty:\nsubject: second\n\nbody".encode()
    view = HeaderView(BytesParser(policy=RAW_POLICY).parsebytes(raw))
    assert view.text("SUBJECT") == "café au lait"
    assert view.raw_all("subject") == ["café au lait", "second"]
    assert "x-empty" in view
    assert view.raw("X-Empty") == ""
    assert view.raw("Missing") is None
    assert 42 not in view


def test_parse_addresses() -> None:
    found = parse_addresses(
        [
            '"O\'Neil, Siobhan" <siobhan@example.com>, undisclosed-recipients:;',
            "=?koi8-r?b?98nL1M/S?= <viktor@example.ru>, not-an-address, <>",
            "plain@example.com (Comment Name)",
        ]
    )
    assert found == (
        EmailAddress("siobhan@example.com", "O'Neil, Siobhan"),
        EmailAddress("viktor@example.ru", "Виктор"),
        EmailAddress("plain@example.com", "Comment Name"),
    )


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("jane@example.com", True),
        ("zoë@exemple.québec", True),
        ("jane", False),
        ("a@b@c", False),
        ("jane doe@example.com", False),
        ("<jane@example.com>", False),
        ("", False),
    ],
)
def test_is_address(value: str, valid: bool) -> None:
    assert is_address(value) is valid


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ("<a@b> <c@d>\n <a@b>", ("a@b", "c@d")),
        ("  bare-id@example.com ", ("bare-id@example.com",)),
        ("not an id", ()),
        ("<has space@x>", ()),
        ("<" + "x" * 300 + "@y>", ()),
        ("", ()),
        (None, ()),
    ],
)
def test_parse_message_ids(value: str | None, ids: tuple[str, ...]) -> None:
    assert parse_message_ids(value) == ids


def test_parse_date() -> None:
    assert parse_date("Mon, 6 Jan 2025 10:31:02 -0500") == datetime(
        2025, 1, 6, 10, 31, 2, tzinfo=timezone(timedelta(hours=-5))
    )
    assert parse_date("Mon, 6 Jan 2025 10:31:02 -0000") == datetime(
        2025, 1, 6, 10, 31, 2, tzinfo=UTC
    )
    assert parse_date("yesterday") is None
    assert parse_date("Mon, 6 Jan 99999999 10:31:02 +0000") is None
    assert parse_date(None) is None


@pytest.mark.parametrize(
    ("value", "language"),
    [
        ("fr-CA", "fr"),
        ("EN-us", "en"),
        ("fr-CA, en-US", "fr"),
        (" en", "en"),
        ("de-DE", None),
        ("x-klingon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_language(value: str | None, language: str | None) -> None:
    assert parse_language(value, frozenset({"en", "fr"})) == language


def test_long_display_names_are_cut() -> None:
    (mailbox,) = parse_addresses([f'"{"x" * 500}" <a@example.com>'])
    assert mailbox.name == "x" * 200


def test_overlong_addresses_are_not_addresses() -> None:
    assert parse_addresses([f"{'a' * 65}@example.com"]) == ()
