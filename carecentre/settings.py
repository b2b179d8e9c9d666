"""Settings, read once from ``CARECENTRE_*`` environment variables and a ``.env`` file.

Built once at start-up and passed in; nothing reads the environment later. A bad value stops
start-up with one line naming the setting and what is wrong (:func:`load_settings`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from carecentre.hours import load_calendar

ENV_PREFIX = "CARECENTRE_"


class SettingsError(Exception):
    """A setting is missing or invalid; ``str()`` is one line a person can act on."""


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every setting, its default, and what it is for. Documented in README's table."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    data_dir: Path = Field(Path("data"), description="Folder for the SQLite database and files.")
    database_url: str | None = Field(
        None, description="SQLAlchemy async URL; default: SQLite in DATA_DIR."
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(8000, ge=1, le=65535)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(2525, ge=0, le=65535, description="0 turns the SMTP receiver off.")
    public_url: AnyHttpUrl = Field(
        AnyHttpUrl("http://127.0.0.1:8000"),
        description="The URL Twilio and residents reach; webhook signatures are checked on it.",
    )
    secret_key: SecretStr | None = Field(
        None, description="Signs sessions and tokens; default: generated once into DATA_DIR."
    )
    admin_email: str = "admin@carecentre.local"
    admin_password: SecretStr | None = None
    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: SecretStr = SecretStr("")
    twilio_sms_from: str = ""
    twilio_voice_number: str = ""
    twilio_api_url: AnyHttpUrl = AnyHttpUrl("https://api.twilio.com")
    hours_file: Path | None = Field(
        None,
        description="TOML business-hours calendar (carecentre.hours.config); default: "
        "Monday-Friday 08:30-16:30 America/Toronto, closed on Ontario's public holidays.",
    )
    voice_menu_file: Path | None = Field(
        None, description="TOML phone menu; default: the demo menu shipped with the voice channel."
    )
    voice_transfer_number: str = Field(
        "", description="E.164 number of the Customer Care line the phone menu connects callers to."
    )
    voice_callback_within: float | None = Field(
        None,
        gt=0,
        description="Business hours within which a requested callback is due; default: by the "
        "end of the next business day.",
    )
    smtp_relay_url: str | None = None
    mail_from: str = "customercare@city.example"
    mail_domains: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["city.example"])
    # The email channel: the SMTP receiver's limits, STARTTLS and AUTH, and IMAP polling.
    smtp_max_bytes: int = Field(
        25 << 20, ge=1024, description="Largest mail the SMTP receiver accepts (552 above)."
    )
    smtp_tls_cert: Path | None = Field(
        None, description="PEM certificate the SMTP receiver offers with STARTTLS."
    )
    smtp_tls_key: Path | None = Field(
        None, validate_default=True, description="PEM private key of SMTP_TLS_CERT."
    )
    smtp_auth_user: str = Field(
        "", description="When set, the SMTP receiver accepts mail only after AUTH (over TLS)."
    )
    smtp_auth_password: SecretStr | None = Field(None, validate_default=True)
    imap_host: str = Field("", description="IMAP server of a shared mailbox to poll; empty: off.")
    imap_port: int = Field(993, ge=1, le=65535)
    imap_tls: bool = Field(True, description="Implicit TLS; false only for a server on this host.")
    imap_user: str = Field("", validate_default=True)
    imap_password: SecretStr = SecretStr("")
    imap_folder: str = Field("INBOX", min_length=1)
    imap_move_to: str = Field(
        "", description="Folder taken mail is moved to; empty: flagged \\Seen and $CareCentre."
    )
    imap_poll_interval: float = Field(60.0, gt=0, description="Seconds between IMAP polls.")
    chat_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    chat_max_frame_bytes: int = Field(
        8192, ge=1024, le=1 << 20, description="Largest chat frame; larger ones are refused."
    )
    chat_token_ttl: float = Field(
        86400.0, gt=0, description="Seconds a chat's resume token lives after its last use."
    )
    chat_reconnect_grace: float = Field(
        60.0, ge=0, description="Seconds a resident may be away before replies go by email/SMS."
    )
    chat_presence_ttl: float = Field(
        300.0, gt=0, description="Seconds an agent's 'available' counts without a refresh."
    )
    chat_messages_per_minute: int = Field(
        30, ge=1, description="Chat messages one connection may send per minute (burst 10)."
    )
    chat_address_per_minute: int = Field(
        120, ge=1, description="New chats plus messages per minute from one client address."
    )
    city_name: str = Field("City", description="How messages to residents name the City.")
    city_phone: str = Field("311", description="The Customer Care phone number residents call.")
    city_website: str = Field("https://www.city.example", description="The City's website.")
    templates_dir: Path | None = Field(
        None, description="Folder whose templates replace the built-in messages to residents."
    )
    media_max_bytes: int = Field(
        10 << 20, ge=1024, description="Largest MMS picture or recording fetched."
    )
    default_region: str = Field("CA", min_length=2, max_length=2)
    default_queue: str = Field("general", description="Queue slug for unrouted tickets.")
    language: str = Field("en", pattern="^(en|fr)$")
    max_body_bytes: int = Field(1 << 20, ge=1024, description="Largest accepted HTTP body.")
    outbox_give_up_after: float = Field(
        172800.0, gt=0, description="Seconds of failed retries before a reply is marked failed."
    )
    outbox_base_delay: float = Field(2.0, gt=0, description="Seconds before the first retry.")
    outbox_max_delay: float = Field(3600.0, gt=0)
    outbox_poll_interval: float = Field(1.0, gt=0)
    events_poll_interval: float = Field(1.0, gt=0)
    ingest_quiet: float = Field(
        0.02,
        ge=0,
        le=5,
        description="Seconds without a new text before texts answered in a burst are filed.",
    )
    ingest_max_delay: float = Field(
        1.0,
        ge=0,
        le=60,
        description="Most seconds a text waits to be filed while a burst goes on.",
    )
    run_dispatcher: bool = Field(True, description="Run the outbox dispatcher inside serve.")
    run_supervision: bool = Field(
        True, description="Run the SLA watcher and the auto-assigner inside serve and worker."
    )
    sla_check_interval: float = Field(
        15.0, gt=0, description="Most seconds between two looks of the SLA watcher."
    )
    assign_interval: float = Field(
        5.0, gt=0, description="Most seconds between two auto-assignment passes."
    )
    default_agent_capacity: int = Field(
        5, ge=1, le=1000, description="Open tickets auto-assignment gives an agent, unless set."
    )
    log_level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    session_idle_timeout: float = Field(
        4 * 3600.0, gt=0, description="Seconds without a request before a sign-in ends."
    )
    session_max_age: float = Field(
        12 * 3600.0, gt=0, description="Seconds after which a sign-in ends however busy."
    )
    login_max_failures_per_account: int = Field(5, ge=1)
    login_max_failures_per_address: int = Field(20, ge=1)
    login_failure_window: float = Field(
        900.0, gt=0, description="Seconds over which failed sign-ins are counted."
    )

    @field_validator("mail_domains", "chat_origins", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("mail_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        return [domain.casefold() for domain in value]

    @field_validator("chat_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        origins = []
        for origin in value:
            parts = urlsplit(origin.rstrip("/"))
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.path:
                raise ValueError(f"{origin!r} is not an origin like https://www.city.example")
            origins.append(f"{parts.scheme}://{parts.netloc.casefold()}")
        return origins

    @field_validator("hours_file")
    @classmethod
    def _hours_file(cls, value: Path | None) -> Path | None:
        # Read now, so a mistake stops start-up with the field at fault, not the first call.
        if value is not None:
            try:
                load_calendar(value)
            except OSError as error:
                raise ValueError(f"cannot read {value}: {error.strerror}") from None
        return value

    @field_validator("voice_menu_file")
    @classmethod
    def _voice_menu_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a file")
        return value

    @field_validator("voice_transfer_number")
    @classmethod
    def _transfer_number(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"\+[1-9]\d{6,14}", value):
            raise ValueError("use E.164, e.g. +16135550100")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = urlsplit(value).scheme
        if scheme not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
            raise ValueError(
                "use sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db "
                f"(got scheme {scheme!r})"
            )
        return value

    @field_validator("smtp_relay_url")
    @classmethod
    def _relay(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("use smtp://user:pass@host:587?starttls=true or smtps://host:465")
        return value

    @field_validator("smtp_relay_url")
    @classmethod
    def _relay_options(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for name, option in parse_qsl(urlsplit(value).query, keep_blank_values=True):
            if name == "starttls" and option not in ("true", "false"):
                raise ValueError("starttls must be true or false")
            if name == "timeout" and not re.fullmatch(r"\d+(\.\d+)?", option):
                raise ValueError("timeout must be a number of seconds")
            if name == "ca_file" and not Path(option).is_file():
                raise ValueError(f"ca_file {option} is not a file")
            if name not in ("starttls", "timeout", "ca_file"):
                raise ValueError(f"unknown option {name!r} (starttls, timeout, ca_file)")
        return value

    @field_validator("smtp_tls_key")
    @classmethod
    def _smtp_tls(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        cert = info.data.get("smtp_tls_cert")
        if (cert is None) != (value is None):
            raise ValueError("set both SMTP_TLS_CERT and SMTP_TLS_KEY, or neither")
        for path in (cert, value):
            if path is not None and not path.is_file():
                raise ValueError(f"{path} is not a file")
        return value

    @field_validator("smtp_auth_password")
    @classmethod
    def _smtp_auth(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if not info.data.get("smtp_auth_user"):
            return value
        if value is None or not value.get_secret_value():
            raise ValueError("SMTP_AUTH_USER is set: set its password too")
        if info.data.get("smtp_tls_key") is None:
            # Passwords never cross the network in clear text.
            raise ValueError("AUTH needs STARTTLS: set SMTP_TLS_CERT and SMTP_TLS_KEY")
        return value

    @field_validator("imap_user")
    @classmethod
    def _imap(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("imap_host") and not value:
            raise ValueError("IMAP_HOST is set: set IMAP_USER and IMAP_PASSWORD too")
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'carecentre.sqlite3').resolve()}"

    @property
    def public_base(self) -> str:
        """The public URL without a trailing slash, for building absolute URLs."""
        return str(self.public_url).rstrip("/")

    def secret(self) -> str:
        """The secret key; generated once into the data folder when not set."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48))
        return path.read_text().strip()


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "settings"
    value = first.get("input")
    hidden = ("secret", "password", "token")
    if isinstance(value, str) and "@" in value and "://" in value:
        # URLs may carry credentials (smtp://user:pass@relay): show them without.
        scheme, _, rest = value.partition("://")
        value = f"{scheme}://…@{rest.rpartition('@')[2]}"
    shown = (
        ""
        if isinstance(value, dict) or any(word in field for word in hidden)
        else f" (got {value!r})"
    )
    return f"{ENV_PREFIX}{field.upper()}: {first['msg']}{shown}"


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from the environment (or ``environ`` when given, e.g. in tests).

    Raises :class:`SettingsError` with one line naming the setting and what is wrong.
    """
    try:
        if environ is None:
            return Settings(**overrides)
        values: dict[str, Any] = {
            key[len(ENV_PREFIX) :].lower(): value
            for key, value in environ.items()
            if key.startswith(ENV_PREFIX)
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None
