"""Decide whether a Twilio media URL (an MMS picture, a call recording) may be fetched.

A media URL arrives in a signed webhook, but it is still fetched with our Twilio credentials, so
only Twilio's own hosts are allowed: ``MediaUrlN`` and ``RecordingUrl`` point at
``api.twilio.com``, which may answer with a redirect to a short-lived URL on
``mms.twiliocdn.com`` when "Enforce HTTP Auth on Media URLs" is on. (Media stored before that
setting was enabled lives on ``s3-external-1.amazonaws.com``, a host shared by every S3 customer;
it is deliberately not allowed.) Credentials belong only on ``api.twilio.com`` (or the local fake
API); the fetcher must not send them along a redirect.

The check is strict and literal: https only, exact host names, default port, no user info, no IP
literals. The single exception is the configured Twilio API URL itself (``TWILIO_API_URL``, a local
fake in tests), which is allowed on its exact scheme, host and port, even over plain http.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from urllib.parse import SplitResult, urlsplit

# Where Twilio's webhooks point MediaUrlN.
TWILIO_MEDIA_HOSTS = frozenset({"api.twilio.com"})
# Where api.twilio.com redirects a media request when media require HTTP auth.
TWILIO_MEDIA_REDIRECT_HOSTS = frozenset({"mms.twiliocdn.com"})

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _split(url: str) -> SplitResult | None:
    # urlsplit quietly strips or tolerates characters that other parsers treat differently
    # (tabs, newlines, backslashes); a URL containing them is refused, not normalized.
    if not url.isascii() or any(c.isspace() or c == "\\" or ord(c) < 0x20 for c in url):
        return None
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return None
    return parts


def _origin(parts: SplitResult) -> tuple[str, str, int] | None:
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, parts.port or _DEFAULT_PORTS[parts.scheme]


def _is_ip_literal(host: str) -> bool:
    # Other numeric spellings resolvers accept ("0x7f.1", "2130706433") cannot pass either:
    # hosts are compared exactly with the allowed names.
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_allowed_media_url(
    url: str,
    *,
    allowed_hosts: Collection[str] = TWILIO_MEDIA_HOSTS,
    api_base_url: str | None = None,
) -> bool:
    """True when ``url`` may be fetched.

    ``allowed_hosts`` are exact, lower-case host names reached over https on port 443 (pass
    ``TWILIO_MEDIA_REDIRECT_HOSTS`` when checking a redirect target). ``api_base_url`` is the
    configured Twilio API URL; its exact origin is allowed too.
    """
    parts = _split(url)
    if parts is None or "@" in parts.netloc:
        return False
    origin = _origin(parts)
    if origin is None:
        return False
    if api_base_url is not None:
        api_parts = _split(api_base_url)
        if api_parts is not None and "@" not in api_parts.netloc and origin == _origin(api_parts):
            return True
    scheme, host, port = origin
    if scheme != "https" or port != 443 or _is_ip_literal(host):
        return False
    # hostname is lower-cased by urlsplit; the netloc must be exactly that host (no trailing
    # dot, no empty port) so what we check is what the HTTP client will connect to.
    if parts.netloc.lower() not in (host, f"{host}:443"):
        return False
    return host in allowed_hosts
