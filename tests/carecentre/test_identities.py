from __future__ import annotations

import pytest

from carecentre.contract import IdentityKind
from carecentre.identities import (
    InvalidAddress,
    format_phone_national,
    normalize,
    normalize_email,
    normalize_phone,
)


@pytest.mark.parametrize(
    "raw", ["613-555-0123", "(613) 555-0123", "+1 613 555 0123", "16135550123", "+16135550123"]
)
def test_phones_become_e164_with_canada_as_default(raw: str) -> None:
    assert normalize_phone(raw) == "+16135550123"


def test_other_regions() -> None:
    assert normalize_phone("+33 1 42 68 53 00") == "+33142685300"
    assert normalize_phone("020 7946 0958", "GB") == "+442079460958"


@pytest.mark.parametrize("raw", ["", "hello", "12", "+1 613 555"])
def test_not_phones(raw: str) -> None:
    with pytest.raises(InvalidAddress):
        normalize_phone(raw)


def test_email_domain_is_case_folded_local_part_kept() -> None:
    assert normalize_email("John.Doe@EXAMPLE.Com") == "John.Doe@example.com"
    assert normalize_email(" <a@B.ca> ") == "a@b.ca"
    assert normalize_email("marie@Ville.Québec.ca") == "marie@ville.xn--qubec-csa.ca"


@pytest.mark.parametrize("raw", ["", "no-at-sign", "a@b", "a b@c.ca", "<script>@x.ca"])
def test_not_emails(raw: str) -> None:
    with pytest.raises(InvalidAddress):
        normalize_email(raw)


def test_chat_session_ids() -> None:
    assert normalize(IdentityKind.CHAT, "abcdEFGH1234-_") == "abcdEFGH1234-_"
    with pytest.raises(InvalidAddress):
        normalize(IdentityKind.CHAT, "short")


def test_national_format_for_people() -> None:
    assert format_phone_national("+16135550123") == "(613) 555-0123"
