"""Which Twilio media URLs (MMS pictures, recordings) may be fetched with our credentials."""

from __future__ import annotations

import pytest

from carecentre.twilio.media_urls import TWILIO_MEDIA_REDIRECT_HOSTS, is_allowed_media_url

MEDIA = "/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"


@pytest.mark.parametrize(
    "url",
    [
        f"https://api.twilio.com{MEDIA}",
        f"https://API.Twilio.com{MEDIA}",
        f"https://api.twilio.com:443{MEDIA}",
        "https://api.twilio.com",
    ],
)
def test_twilio_media_urls_are_allowed(url: str) -> None:
    assert is_allowed_media_url(url)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(f"http://api.twilio.com{MEDIA}", id="plain-http"),
        pytest.param(f"https://api.twilio.com:8443{MEDIA}", id="other-port"),
        pytest.param(f"https://api.twilio.com.{MEDIA}", id="trailing-dot"),
        pytest.param(f"https://api.twilio.com:{MEDIA}", id="empty-port"),
        pytest.param(f"https://api.twilio.com.evil.example{MEDIA}", id="suffix"),
        pytest.param(f"https://evilapi.twilio.com{MEDIA}", id="other-subdomain"),
        pytest.param(f"https://evil.example/api.twilio.com{MEDIA}", id="host-in-path"),
        pytest.param(f"https://api.twilio.com@evil.example{MEDIA}", id="userinfo-trick"),
        pytest.param(f"https://user:pw@api.twilio.com{MEDIA}", id="userinfo"),
        pytest.param(f"https://evil.example\\@api.twilio.com{MEDIA}", id="backslash"),
        pytest.param(f"https://api.twilio.com\t{MEDIA}", id="tab"),
        pytest.param(f" https://api.twilio.com{MEDIA}", id="leading-space"),
        pytest.param(f"https://api.twilio.com{MEDIA}\n", id="newline"),
        pytest.param("https://127.0.0.1/media", id="ipv4"),
        pytest.param("https://[::1]/media", id="ipv6"),
        pytest.param("https://2130706433/media", id="decimal-ip"),
        pytest.param("https://0x7f.1/media", id="hex-ip"),
        pytest.param("https://api.twilio.com:99999/x", id="bad-port"),
        pytest.param("https://[api.twilio.com/x", id="bad-bracket"),
        pytest.param("ftp://api.twilio.com/x", id="ftp"),
        pytest.param("file:///etc/passwd", id="file"),
        pytest.param("//api.twilio.com/x", id="scheme-relative"),
        pytest.param("https://\u0430pi.twilio.com/x", id="cyrillic-a"),
        pytest.param("", id="empty"),
        pytest.param(f"https://mms.twiliocdn.com{MEDIA}", id="cdn-not-a-webhook-host"),
    ],
)
def test_everything_else_is_refused(url: str) -> None:
    assert not is_allowed_media_url(url)


def test_redirect_targets_use_their_own_list() -> None:
    url = "https://mms.twiliocdn.com/AC1/abcdef?Expires=1&Signature=x"
    assert is_allowed_media_url(url, allowed_hosts=TWILIO_MEDIA_REDIRECT_HOSTS)
    assert not is_allowed_media_url(
        "https://s3-external-1.amazonaws.com/media.twiliocdn.com/AC1/x",
        allowed_hosts=TWILIO_MEDIA_REDIRECT_HOSTS,
    )


def test_the_configured_api_url_is_allowed_on_its_exact_origin() -> None:
    api = "http://127.0.0.1:8123"
    assert is_allowed_media_url("http://127.0.0.1:8123/media/photo.jpg", api_base_url=api)
    assert is_allowed_media_url("http://127.0.0.1:8123/media/x", api_base_url=api + "/")
    assert not is_allowed_media_url("http://127.0.0.1:8124/media/x", api_base_url=api)
    assert not is_allowed_media_url("https://127.0.0.1:8123/media/x", api_base_url=api)
    assert not is_allowed_media_url("http://localhost:8123/media/x", api_base_url=api)
    assert not is_allowed_media_url("http://u@127.0.0.1:8123/media/x", api_base_url=api)
    assert not is_allowed_media_url("http://127.0.0.1/media/x", api_base_url=api)


def test_the_default_api_url_adds_nothing() -> None:
    assert is_allowed_media_url(
        f"https://api.twilio.com{MEDIA}", api_base_url="https://api.twilio.com"
    )
    assert not is_allowed_media_url(
        "http://api.twilio.com/x", api_base_url="https://api.twilio.com"
    )
