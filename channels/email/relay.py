"""Where outgoing mail goes: CARECENTRE_SMTP_RELAY_URL read into a :class:`RelayConfig`.

``smtp://user:pass@host:587?starttls=true`` submits on 587 and requires STARTTLS;
``smtps://user:pass@host:465`` speaks TLS from the first byte; ``smtp://127.0.0.1:2525`` is a
relay on this machine without TLS. Without ``starttls``, STARTTLS is used when the relay offers
it. ``timeout`` (seconds, default 30) bounds each step of the conversation; ``ca_file`` names a
PEM file of certificate authorities to trust instead of the system's (a City's own CA).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class RelayConfig:
    host: str
    port: int
    use_tls: bool = False
    start_tls: bool | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    ca_file: str | None = None

    @property
    def where(self) -> str:
        """How the relay is named in errors and logs (never with the password)."""
        return f"{self.host}:{self.port}"

    @classmethod
    def from_url(cls, url: str) -> RelayConfig:
        """Read a relay URL; raises ``ValueError`` with what is wrong."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("use smtp://user:pass@host:587?starttls=true or smtps://host:465")
        implicit = parts.scheme == "smtps"
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = set(options) - {"starttls", "timeout", "ca_file"}
        if unknown:
            raise ValueError(f"unknown relay URL option(s): {', '.join(sorted(unknown))}")
        start_tls: bool | None = None
        if "starttls" in options:
            if options["starttls"] not in ("true", "false"):
                raise ValueError("starttls must be true or false")
            start_tls = options["starttls"] == "true"
        if implicit and start_tls:
            raise ValueError("smtps:// is TLS already; starttls=true is for smtp://")
        try:
            timeout = float(options.get("timeout", DEFAULT_TIMEOUT))
        except ValueError:
            raise ValueError("timeout must be a number of seconds") from None
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        try:
            port = parts.port or (465 if implicit else 587 if start_tls else 25)
        except ValueError:
            raise ValueError("the relay's port is not a number from 1 to 65535") from None
        return cls(
            host=parts.hostname,
            port=port,
            use_tls=implicit,
            # Implicit TLS never upgrades; plain SMTP upgrades when asked or when offered.
            start_tls=False if implicit else start_tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            timeout=timeout,
            ca_file=options.get("ca_file") or None,
        )
