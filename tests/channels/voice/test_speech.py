"""Numbers as callers hear and key them, and as agents read them."""

from __future__ import annotations

import pytest

from channels.voice.speech import (
    caller_number,
    keyed_number,
    spoken_number,
    spoken_reference,
    written_duration,
    written_number,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+16135550123", "+16135550123"),
        ("613-555-0123", "+16135550123"),
        ("+266696687", ""),  # Twilio's "anonymous"
        ("+7378742833", ""),  # "restricted", a possible number in another plan
        ("Anonymous", ""),
        ("", ""),
        (None, ""),
        ("client:agent", ""),
    ],
)
def test_the_callers_number_or_nothing_when_withheld(raw: str | None, expected: str) -> None:
    assert caller_number(raw) == expected


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("6135550123", "+16135550123"),
        ("16135550123", "+16135550123"),
        ("26135550123", None),
        ("5550123", None),
        ("911", None),
        ("613555012345", None),
        ("613555012*", None),
        ("", None),
    ],
)
def test_a_keyed_number(digits: str, expected: str | None) -> None:
    assert keyed_number(digits) == expected


def test_spoken_and_written_forms() -> None:
    assert spoken_number("+16135550123") == "6 1 3, 5 5 5, 0 1 2 3"
    assert spoken_number("+442079460000") == "4 4 2 0 7 9 4 6 0 0 0 0"
    assert spoken_reference("CC-482-193-075") == "C C, 4 8 2, 1 9 3, 0 7 5"
    assert written_number("+16135550123") == "(613) 555-0123"
    assert written_number("") == "a withheld number"
    assert [written_duration(s) for s in (None, 0, 59, 60, 125)] == [
        "unknown duration",
        "0 s",
        "59 s",
        "1 min 0 s",
        "2 min 5 s",
    ]
