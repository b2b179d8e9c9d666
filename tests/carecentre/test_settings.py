from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from carecentre.settings import SettingsError, load_settings


def test_defaults_need_nothing_set(tmp_path: Path) -> None:
    settings = load_settings({}, data_dir=tmp_path)
    assert settings.http_port == 8000
    assert settings.smtp_port == 2525
    assert settings.resolved_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.resolved_database_url.endswith("carecentre.sqlite3")


def test_lists_from_comma_separated_values() -> None:
    settings = load_settings(
        {
            "CARECENTRE_MAIL_DOMAINS": "City.Example, ville.example ,",
            "CARECENTRE_CHAT_ORIGINS": "https://www.city.example",
        }
    )
    assert settings.mail_domains == ["city.example", "ville.example"]
    assert settings.chat_origins == ["https://www.city.example"]


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("CARECENTRE_HTTP_PORT", "eighty", "CARECENTRE_HTTP_PORT"),
        ("CARECENTRE_HTTP_PORT", "70000", "less than or equal to 65535"),
        ("CARECENTRE_DATABASE_URL", "mysql://x/y", "postgresql+asyncpg"),
        ("CARECENTRE_PUBLIC_URL", "not a url", "CARECENTRE_PUBLIC_URL"),
        ("CARECENTRE_SMTP_RELAY_URL", "http://relay", "smtp://"),
        ("CARECENTRE_LANGUAGE", "de", "CARECENTRE_LANGUAGE"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_setting(name: str, value: str, words: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({name: value})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(name)
    assert words in message


def test_secrets_are_not_echoed() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"CARECENTRE_ADMIN_PASSWORD": ["x"]})  # type: ignore[dict-item]
    assert "['x']" not in str(caught.value)


def test_secret_key_is_generated_once_and_private(tmp_path: Path) -> None:
    settings = load_settings({}, data_dir=tmp_path)
    first = settings.secret()
    assert first == load_settings({}, data_dir=tmp_path).secret()
    assert len(first) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_the_command_stops_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "CARECENTRE_HTTP_PORT": "eighty", "CARECENTRE_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "carecentre", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "CARECENTRE_HTTP_PORT" in lines[0]
