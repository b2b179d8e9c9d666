"""unflow: RFC 3676 format=flowed text joined back into paragraphs."""

from __future__ import annotations

from channels.email.flowed import unflow


def test_soft_breaks_are_joined_and_hard_breaks_kept() -> None:
    text = "I would like to book a \nbulky pickup.\nThanks,\nPriya"
    assert unflow(text) == "I would like to book a bulky pickup.\nThanks,\nPriya"


def test_delsp_removes_the_added_space() -> None:
    assert unflow("Hello wor \nld", delsp=True) == "Hello world"


def test_signature_separator_is_not_a_soft_break() -> None:
    assert unflow("Bye\n-- \nPriya") == "Bye\n-- \nPriya"


def test_quote_depth_is_kept_and_ends_paragraphs() -> None:
    text = "> quoted and \n> wrapped\n>> deeper\n>\nmine"
    assert unflow(text) == "> quoted and wrapped\n>> deeper\n>\nmine"


def test_space_stuffing_is_removed() -> None:
    assert unflow(" From the start") == "From the start"
