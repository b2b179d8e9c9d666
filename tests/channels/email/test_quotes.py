"""strip_quotes: the resident's new text, without the conversation their client quoted."""

from __future__ import annotations

import pytest

from channels.email.quotes import is_forward_subject, strip_quotes

NEW = "The pothole is still there.\n\nMarie"


@pytest.mark.parametrize(
    "attribution",
    [
        "On Mon, Jan 6, 2025 at 9:12\u202fAM City of Northriver <care@northriver.example> wrote:",
        "On Mon, Jan 6, 2025 at 9:12 AM City of Northriver <\ncare@northriver.example> wrote:",
        "On Jan 6, 2025, at 14:47, City of Northriver <care@northriver.example> wrote:",
        "On 2025-01-06 10:12, City of Northriver wrote:",
        "Le lun. 6 janv. 2025 à 10:12, Service à la clientèle <care@northriver.example> a écrit :",
        "Le lun. 6 janv. 2025, 10 h 12, Ville <care@northriver.example> a\nécrit\u00a0:",
        "Le 06/01/2025 à 10:12, Isabelle Nicole Lemieux a écrit :",
        "City of Northriver <care@northriver.example> wrote:",
    ],
    ids=[
        "gmail",
        "gmail-wrapped",
        "apple",
        "thunderbird",
        "fr-gmail",
        "fr-mobile",
        "fr-le-names",
        "named",
    ],
)
def test_attribution_and_quote_are_removed(attribution: str) -> None:
    text = f"{NEW}\n\n{attribution}\n\n> Bonjour,\n> Merci.\n"
    assert strip_quotes(text) == NEW


@pytest.mark.parametrize(
    "block",
    [
        "From: City <care@northriver.example>\nSent: Friday, January 3, 2025 4:02 PM\n"
        "To: Marie <m@example.com>\nSubject: RE: pothole",
        "________________________________\nFrom: City <care@northriver.example>\n"
        "Sent: Friday, January 3, 2025 4:02 PM\nTo: Marie\nSubject: pothole",
        "De : Ville <care@northriver.example>\nEnvoyé : 7 janvier 2025 09:14\n"
        "À : Marie\nObjet : RE: nid-de-poule",
        "*From:* City <care@northriver.example>\n*Sent:* Friday\n*To:* Marie",
        "-----Original Message-----\nFrom: City [mailto:care@northriver.example]\nSent: Monday",
        "-----Message d'origine-----\nDe : Ville\nEnvoyé : lundi",
    ],
    ids=["outlook", "owa-separator", "outlook-fr", "bold-markers", "original", "origine"],
)
def test_outlook_header_blocks_are_removed(block: str) -> None:
    text = f"{NEW}\n\n{block}\n\nHello Marie, we will send a crew."
    assert strip_quotes(text) == NEW


def test_trailing_quote_without_attribution_is_removed() -> None:
    assert strip_quotes(f"{NEW}\n\n> older text\n> more\n") == NEW


def test_unknown_language_attribution_above_a_trailing_quote_goes_with_it() -> None:
    attribution = "El lun, 6 ene 2025 a las 10:12, Ciudad (<care@northriver.example>) escribió:"
    text = f"{NEW}\n\n{attribution}\n> hola"
    assert strip_quotes(text) == NEW


def test_interleaved_answers_are_kept() -> None:
    text = "Answers below.\n\n> When?\nThursday.\n\n> Where?\nAt the meter.\n\nWen"
    assert strip_quotes(text) == text


def test_reply_written_below_the_quote_is_found() -> None:
    text = "On Tue, 21 Jan 2025, City wrote:\n\n> Renew your permit?\n\nYes please.\n\nGeorge"
    assert strip_quotes(text) == "Yes please.\n\nGeorge"


def test_a_mail_that_is_only_quote_is_kept_whole() -> None:
    text = "> only quoted\n> text"
    assert strip_quotes(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "On Monday the inspector wrote:\nthe road is fine.\nI disagree with him.",
        "Le 6 janvier, mon voisin m'a écrit :\n> bruit\nJe suis d'accord avec lui.",
        "From: 123 Main St\nTo: 456 Elm St\nThe bus takes an hour.",
    ],
    ids=["en-sentence", "fr-m-a-ecrit", "from-to-in-letter"],
)
def test_residents_own_sentences_are_not_taken_for_quotes(text: str) -> None:
    assert strip_quotes(text) == text


def test_forwarded_marker_keeps_everything_below_it() -> None:
    forward = (
        "---------- Forwarded message ---------\nFrom: Parking <parking@northriver.example>\n"
        "Date: Tue, Jan 14, 2025\nSubject: Ticket\nTo: <d@example.com>\n\nAppeal received.\n\n"
        "On Mon, Jan 13, 2025 at 9:00 AM D <d@example.com> wrote:\n> I appeal."
    )
    text = f"Please see below.\n\n{forward}"
    assert strip_quotes(text) == text


def test_a_quote_above_a_forward_is_cut_but_the_forward_stays() -> None:
    text = (
        "See below.\n\nOn Mon, Jan 6, 2025 at 9:00 AM X <x@example.com> wrote:\n> earlier\n\n"
        "Begin forwarded message:\n\nFrom: School <s@example.com>\nSubject: Guard\n\nAbsent."
    )
    assert strip_quotes(text) == (
        "See below.\n\nBegin forwarded message:\n\nFrom: School <s@example.com>\n"
        "Subject: Guard\n\nAbsent."
    )


def test_forward_flag_keeps_outlook_style_forwards_whole() -> None:
    block = "De : Martine Roy\nEnvoyé : 14 janvier 2025\nÀ : Association\nObjet : Odeurs"
    text = f"FYI\n\n{block}\n\nBonsoir"
    assert strip_quotes(text, forward=True) == text
    assert strip_quotes(text) == "FYI"


@pytest.mark.parametrize(
    ("subject", "forward"),
    [
        ("Fwd: Parking ticket", True),
        ("FW: Garbage", True),
        ("TR\u00a0: Odeurs", True),
        ("tr: odeurs", True),
        ("Re: Fwd: Parking ticket", False),
        ("Trees on my street", False),
        (None, False),
    ],
)
def test_forward_subjects(subject: str | None, forward: bool) -> None:
    assert is_forward_subject(subject) is forward


def test_empty_and_blank_text() -> None:
    assert strip_quotes("") == ""
    assert strip_quotes("\n\n") == ""
