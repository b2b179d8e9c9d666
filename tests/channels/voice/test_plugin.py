"""Start-up and configuration: the menu file (checked at start-up, one line naming the field),
the shared business-hours calendar (CARECENTRE_HOURS_FILE), the way callers are put through,
and the callback target."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from carecentre.app import create_app
from carecentre.settings import SettingsError, load_settings
from channels.voice.plugin import DEFAULT_MENU, make_plugin
from tests.channels.voice.conftest import SATURDAY, TORONTO, VoiceApp
from tests.conftest import make_settings

MakeApp = Callable[..., AbstractContextManager[VoiceApp]]


def _menu_file(tmp_path: Path, edit: Callable[[str], str]) -> Path:
    path = tmp_path / "menu.toml"
    path.write_text(edit(DEFAULT_MENU.read_text(encoding="utf-8")), encoding="utf-8")
    return path


def test_a_broken_menu_stops_start_up_naming_the_file_and_field(
    tmp_path: Path, sqlite_url: str
) -> None:
    path = _menu_file(tmp_path, lambda text: text.replace('queue = "roads"', 'queue = "Roads"'))
    settings = make_settings(tmp_path, sqlite_url, voice_menu_file=str(path))
    app = create_app(settings, plugins=[make_plugin()], migrate=False)
    with pytest.raises(SettingsError) as raised, TestClient(app):
        pass
    assert str(raised.value) == (
        f"CARECENTRE_VOICE_MENU_FILE ({path}): options[1].queue: "
        "'Roads' is not a queue slug (lower-case letters, digits, -)"
    )


def test_a_menu_file_that_does_not_exist_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match=r"CARECENTRE_VOICE_MENU_FILE: .*is not a file"):
        load_settings({"CARECENTRE_VOICE_MENU_FILE": "/nowhere/menu.toml"})


def test_a_one_language_menu_skips_the_language_choice(
    make_voice_app: MakeApp, tmp_path: Path
) -> None:
    with DEFAULT_MENU.open("rb") as file:
        assert "fr" in tomllib.load(file)["languages"]
    english_only = tmp_path / "english.toml"
    lines = DEFAULT_MENU.read_text(encoding="utf-8").splitlines()
    keep: list[str] = []
    skipping = False
    for line in lines:
        if line.startswith("[languages.fr"):
            skipping = True
        elif line.startswith("[") or line.strip().startswith("[["):
            skipping = False
        if skipping or line.strip().startswith(("say.fr", "text.fr")):
            continue
        keep.append(line)
    english_only.write_text("\n".join(keep), encoding="utf-8")
    with make_voice_app(voice_menu_file=str(english_only)) as app:
        answer = app.call().start()
        assert "For garbage, recycling, green bin" in answer.text
        assert "Pour le service en français" not in answer.text


def test_customer_care_can_be_a_twilio_queue(make_voice_app: MakeApp, tmp_path: Path) -> None:
    path = _menu_file(
        tmp_path,
        lambda text: text.replace('connect = "dial"', 'connect = "enqueue"\nconnect_queue = "cc"'),
    )
    with make_voice_app(voice_menu_file=str(path)) as app:
        call = app.call()
        call.start()
        call.press("1")
        enqueue = call.press("0").element("Enqueue")
        assert enqueue.text == "cc"
        assert call.last is not None
        bridged = app.twiml(enqueue.attrib["action"], call.fields(QueueResult="bridged"))
        assert bridged.verbs == ["Hangup"]
        full = app.twiml(enqueue.attrib["action"], call.fields(QueueResult="queue-full"))
        assert full.has("Record")


def test_the_hours_file_is_the_calendar_every_part_shares(
    make_voice_app: MakeApp, tmp_path: Path
) -> None:
    hours = tmp_path / "hours.toml"
    hours.write_text('[hours]\nsaturday = ["09:00-12:00"]\n', encoding="utf-8")
    with make_voice_app(now=SATURDAY, hours_file=str(hours)) as app:
        assert app.services.calendar.is_open(SATURDAY)
        call = app.call()
        call.start()
        menu = call.press("1")
        assert "closed" not in menu.text
        assert "To speak with a Customer Care representative, press 0." in menu.text


def test_a_broken_hours_file_stops_start_up_naming_the_field(tmp_path: Path) -> None:
    hours = tmp_path / "hours.toml"
    hours.write_text('[hours]\nmonday = ["16:30-08:30"]\n', encoding="utf-8")
    with pytest.raises(SettingsError) as raised:
        load_settings({"CARECENTRE_HOURS_FILE": str(hours)})
    assert str(raised.value).startswith("CARECENTRE_HOURS_FILE: ")
    assert "hours.monday[0]" in str(raised.value)


def test_the_callback_target_can_be_set_in_business_hours(make_voice_app: MakeApp) -> None:
    friday_afternoon = datetime(2026, 11, 27, 15, 30, tzinfo=TORONTO)
    with make_voice_app(now=friday_afternoon, voice_callback_within=4) as app:
        call = app.call()
        call.start()
        call.press("1")
        call.press("5")
        call.press("2")
        call.press("1")
        (ticket,) = app.tickets()
        # One hour on Friday, three on Monday from 08:30.
        assert ticket.due_at == datetime(2026, 11, 30, 11, 30, tzinfo=TORONTO)
