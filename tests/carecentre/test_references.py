from __future__ import annotations

import pytest

from carecentre.references import (
    find_reference,
    is_valid_digits,
    new_reference,
    parse_reference,
    reference_digits,
)


def test_new_references_are_well_formed_and_checked() -> None:
    for _ in range(500):
        reference = new_reference()
        assert reference.startswith("CC-")
        assert len(reference) == 14
        assert is_valid_digits(reference_digits(reference))
        assert parse_reference(reference) == reference


@pytest.mark.parametrize("form", ["{r}", "#{r}", "{d}", "cc {g}", "CC-{g}", "# {d}", " {r} "])
def test_parse_accepts_the_ways_people_write_it(form: str) -> None:
    reference = new_reference()
    digits = reference_digits(reference)
    spaced = f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    assert parse_reference(form.format(r=reference, d=digits, g=spaced)) == reference


def test_one_wrong_digit_or_a_swap_is_caught() -> None:
    reference = new_reference()
    digits = reference_digits(reference)
    for i in range(9):
        for wrong in "0123456789":
            if wrong != digits[i]:
                assert parse_reference(digits[:i] + wrong + digits[i + 1 :]) is None
    for i in range(8):
        if digits[i] != digits[i + 1]:
            swapped = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
            assert parse_reference(swapped) is None


def test_find_in_free_text() -> None:
    reference = new_reference()
    digits = reference_digits(reference)
    assert find_reference(f"re #{reference} the pothole is back") == reference
    assert find_reference(f"Re: [{reference}] Pothole") == reference
    assert find_reference(f"call me at 613 555 0123 about #{digits}") == reference
    assert find_reference("nothing here") is None
    # Without a marker, nine digits are only a reference when asked to accept them.
    assert find_reference(f"my number {digits}", require_marker=True) is None
    assert find_reference(f"my number {digits}") == reference


@pytest.mark.parametrize("bad", ["", "CC-", "CC-12-345-678", "1234567890", "CC-ABC-DEF-GHI"])
def test_not_references(bad: str) -> None:
    assert parse_reference(bad) is None
