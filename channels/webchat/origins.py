"""Which pages may open the chat socket, and embed the chat page: an Origin allow-list.

The service's own origin (from CARECENTRE_PUBLIC_URL) always may: the chat page and the
embedded widget (an iframe of that page) connect from it. CARECENTRE_CHAT_ORIGINS adds the
City's sites, which may frame the chat page and open the socket from their own scripts. A
websocket without an Origin header is refused too: browsers always send one.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """``https://Example.org:443/path`` → ``https://example.org``; ``None`` when not http(s)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname.casefold()
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


class Origins:
    def __init__(self, public_url: str, extra: Iterable[str]) -> None:
        own = origin_of(public_url)
        assert own is not None, "PUBLIC_URL is validated as an http(s) URL"
        self.own = own
        self.allowed = frozenset(
            {own, *(found for origin in extra if (found := origin_of(origin)) is not None)}
        )

    def allows(self, origin: str | None) -> bool:
        if not origin or origin == "null":
            return False
        found = origin_of(origin)
        return found is not None and found in self.allowed

    def frame_ancestors(self) -> str:
        """The CSP ``frame-ancestors`` source list for the chat page."""
        return " ".join(["'self'", *sorted(self.allowed - {self.own})])
