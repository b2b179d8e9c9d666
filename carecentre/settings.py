"""Settings, read once from ``CARECENTRE_*`` environment variables and a ``.env`` file.

Built once at start-up and passed in; nothing reads the environment later. A bad value stops
start-up with one line naming the setting and what is wrong (:func:`load_settings`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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
    smtp_relay_url: str | None = None
    mail_from: str = "customercare@city.example"
    mail_domains: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["city.example"])
    chat_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
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
    run_dispatcher: bool = Field(True, description="Run the outbox dispatcher inside serve.")
    log_level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")

    @field_validator("mail_domains", "chat_origins", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("mail_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        return [domain.casefold() for domain in value]

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
    shown = (
        ""
        if isinstance(value, dict) or "secret" in field or "password" in field
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
