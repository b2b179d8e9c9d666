"""CARECENTRE_SMTP_RELAY_URL, read into where and how mail is submitted."""

from __future__ import annotations

import pytest

from channels.email.relay import DEFAULT_TIMEOUT, RelayConfig


def test_submission_with_starttls_and_credentials() -> None:
    relay = RelayConfig.from_url(
        "smtp://care%40city:p%40ss%3Aword@mail.city.example:587?starttls=true"
    )
    assert (relay.host, relay.port, relay.use_tls, relay.start_tls) == (
        "mail.city.example",
        587,
        False,
        True,
    )
    assert (relay.username, relay.password) == ("care@city", "p@ss:word")
    assert relay.timeout == DEFAULT_TIMEOUT
    assert "p@ss" not in repr(relay)
    assert relay.where == "mail.city.example:587"


def test_implicit_tls_and_defaults() -> None:
    relay = RelayConfig.from_url("smtps://relay.example")
    assert (relay.port, relay.use_tls, relay.start_tls) == (465, True, False)
    local = RelayConfig.from_url("smtp://127.0.0.1:2525?timeout=2.5&starttls=false")
    assert (local.port, local.start_tls, local.timeout, local.username) == (2525, False, 2.5, None)
    # Without the option, STARTTLS is used when the relay offers it.
    assert RelayConfig.from_url("smtp://relay.example").start_tls is None
    assert RelayConfig.from_url("smtp://relay.example").port == 25
    assert RelayConfig.from_url("smtp://relay.example?starttls=true").port == 587


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://relay.example", "use smtp://"),
        ("smtp://", "use smtp://"),
        ("smtp://relay.example?starttls=yes", "starttls must be true or false"),
        ("smtps://relay.example?starttls=true", "TLS already"),
        ("smtp://relay.example?timeout=soon", "timeout must be a number"),
        ("smtp://relay.example?timeout=0", "timeout must be positive"),
        ("smtp://relay.example?tls=1", "unknown relay URL option"),
        ("smtp://relay.example:99999", "port"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RelayConfig.from_url(url)
