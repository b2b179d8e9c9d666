"""The Origin allow-list: the service's own origin and CHAT_ORIGINS, compared canonically."""

from __future__ import annotations

import pytest

from channels.webchat.origins import Origins, origin_of


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Example.ORG", "https://example.org"),
        ("https://example.org:443/chat?x=1", "https://example.org"),
        ("http://example.org:80", "http://example.org"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("ftp://example.org", None),
        ("null", None),
        ("https://example.org:99999", None),
    ],
)
def test_origin_of(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


def test_only_listed_origins_and_our_own_are_allowed() -> None:
    origins = Origins("https://care.city.example/", ["https://www.city.example"])
    assert origins.allows("https://care.city.example")
    assert origins.allows("https://WWW.city.example:443")
    for refused in (
        None,
        "",
        "null",
        "http://www.city.example",
        "https://www.city.example.evil",
        "https://evil.example",
        "https://care.city.example:8443",
    ):
        assert not origins.allows(refused), refused
    assert origins.frame_ancestors() == "'self' https://www.city.example"
