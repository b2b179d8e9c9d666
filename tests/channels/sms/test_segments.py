"""SMS segment counting: GSM-7 160/153 with two-septet escapes, UCS-2 70/67 in UTF-16 units."""

from __future__ import annotations

import pytest

from channels.sms.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    MAX_BODY_LENGTH,
    SegmentInfo,
    body_length,
    segment_info,
    within_length_limit,
)


def test_tables_are_complete() -> None:
    # 128 code points in the basic table, one of them the escape we leave out.
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


def test_empty_text_costs_nothing() -> None:
    assert segment_info("") == SegmentInfo("GSM-7", 0, 0, 0, 160, 160)


@pytest.mark.parametrize(
    ("length", "segments", "per_segment"),
    [(1, 1, 160), (160, 1, 160), (161, 2, 153), (306, 2, 153), (307, 3, 153), (1530, 10, 153)],
)
def test_gsm7_boundaries(length: int, segments: int, per_segment: int) -> None:
    info = segment_info("a" * length)
    assert (info.encoding, info.segments, info.per_segment) == ("GSM-7", segments, per_segment)
    assert info.units == info.characters == length


def test_exactly_160_and_161() -> None:
    assert segment_info("x" * 160).segments == 1
    assert segment_info("x" * 160).remaining == 0
    assert segment_info("x" * 161) == SegmentInfo("GSM-7", 2, 161, 161, 153, 153 * 2 - 161)


@pytest.mark.parametrize("char", sorted(GSM7_EXTENSION))
def test_extension_characters_count_two(char: str) -> None:
    info = segment_info(char)
    assert (info.encoding, info.units, info.characters) == ("GSM-7", 2, 1)


def test_euro_signs_fill_a_single_segment_at_80() -> None:
    assert segment_info("€" * 80).segments == 1
    assert segment_info("€" * 81).segments == 2


def test_escape_pair_is_not_split_across_segments() -> None:
    # 152 septets, then an escape pair: it would straddle 153, so it starts segment two.
    text = "a" * 152 + "€" + "b" * 152
    info = segment_info(text)
    assert info.units == 152 + 2 + 152
    assert info.segments == 3  # 152 | 2 + 151 | 1: splitting the pair would have fit in two
    assert segment_info("a" * 151 + "€" + "b" * 151).segments == 2  # exactly 153 + 153


def test_french_with_accents_outside_gsm_forces_ucs2() -> None:
    for word in ("ça", "bâtiment", "fenêtre", "île", "hôtel", "sûr", "Noël", "naïf"):
        assert segment_info(f"Bonjour, {word}").encoding == "UCS-2", word


def test_french_accents_inside_gsm_stay_gsm7() -> None:
    info = segment_info("Élève à l'école, très bien")
    assert info.encoding == "GSM-7"


def test_capital_c_cedilla_is_gsm_but_small_is_not() -> None:
    assert segment_info("Ç").encoding == "GSM-7"
    assert segment_info("ç").encoding == "UCS-2"


@pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_ucs2_boundaries(length: int, segments: int) -> None:
    info = segment_info("ç" * length)
    assert (info.encoding, info.segments) == ("UCS-2", segments)
    assert info.per_segment == (70 if segments == 1 else 67)


def test_emoji_counts_two_units() -> None:
    info = segment_info("Merci 👍")
    assert (info.encoding, info.characters, info.units, info.remaining) == ("UCS-2", 7, 8, 62)
    assert segment_info("😀" * 35).segments == 1
    assert segment_info("😀" * 36).segments == 2


def test_surrogate_pair_is_not_split_across_segments() -> None:
    text = "ç" * 66 + "😀" + "ç" * 66  # 66 + 2 + 66 = 134 units = 2 x 67 if the pair split
    assert segment_info(text).segments == 3
    assert segment_info("ç" * 65 + "😀" + "ç" * 67).segments == 2


def test_one_non_gsm_character_switches_the_whole_text() -> None:
    text = "a" * 100 + "ê"
    info = segment_info(text)
    assert (info.encoding, info.segments) == ("UCS-2", 2)


def test_length_limit() -> None:
    assert within_length_limit("a" * MAX_BODY_LENGTH)
    assert not within_length_limit("a" * (MAX_BODY_LENGTH + 1))
    # Counted in UTF-16 units: 800 emoji are 1,600 units, one more is over.
    assert within_length_limit("😀" * 800)
    assert not within_length_limit("😀" * 800 + "a")
    assert body_length("ça 😀") == 5
