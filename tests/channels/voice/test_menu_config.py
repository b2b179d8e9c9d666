"""The menu file: the demo menu is a complete bilingual City line on the City's queues, and every
mistake in a menu file is refused with the path of the field at fault."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from carecentre.seed import DEMO_QUEUES
from channels.voice.menu import PROMPTS, Action, Menu, Option
from channels.voice.menu_config import MenuError, load_menu, menu_from_mapping
from channels.voice.plugin import DEFAULT_MENU

Data = dict[str, Any]


def _demo() -> Data:
    with DEFAULT_MENU.open("rb") as file:
        return tomllib.load(file)


def _all(options: tuple[Option, ...]) -> list[Option]:
    return [found for option in options for found in (option, *_all(option.options))]


def test_the_demo_menu_covers_the_citys_queues_in_both_languages() -> None:
    menu = load_menu(DEFAULT_MENU)
    assert [language.code for language in menu.languages] == ["en", "fr"]
    english, french = menu.languages
    assert (english.voice, english.locale, english.transcribe) == ("Polly.Joanna", "en-US", True)
    assert (french.voice, french.locale, french.transcribe) == ("Polly.Chantal", "fr-CA", False)
    for language in menu.languages:
        assert set(language.prompts) == set(PROMPTS)
        assert "9 1 1" in language.prompts["emergency"]
    options = _all(menu.options)
    slugs = {slug for slug, _name, _description in DEMO_QUEUES}
    assert {option.queue for option in options} == slugs
    assert {option.action for option in options} == set(Action)
    assert all(set(option.say) == {"en", "fr"} for option in options)
    info = [option for option in options if option.action is Action.INFO]
    assert all(set(option.text) == {"en", "fr"} for option in info)


def test_options_are_found_by_their_path() -> None:
    menu = load_menu(DEFAULT_MENU)
    option = menu.find("1.2")
    assert option is not None
    assert option.label == "Missed collection"
    assert option.queue == "waste"  # inherited from "Garbage, recycling and green bin"
    assert menu.find("1.9") is None
    assert menu.find("9") is None
    assert menu.options_at("1.2") is None  # not a menu
    assert menu.queue_at("") == "general"
    assert menu.topic_at("") is None


def _set(path: str, value: Any) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        *parents, last = path.split("/")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is _DELETE:
            del target[int(last) if last.isdigit() else last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


_DELETE = object()


def _many(data: Data) -> None:
    option = data["options"][-1]
    data["options"] = [dict(option, key=str(i % 9 + 1)) for i in range(10)]


def _too_deep(data: Data) -> None:
    leaf = {"key": "1", "label": "Leaf", "action": "status", "say": {"en": "{key}", "fr": "{key}"}}
    level = leaf
    for _ in range(3):
        level = {
            "key": "1",
            "label": "Menu",
            "action": "menu",
            "say": {"en": "{key}", "fr": "{key}"},
            "options": [level],
        }
    data["options"] = [level]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (_set("languages/fr/prompts/holiday", _DELETE), "languages.fr.prompts.holiday", "missing"),
        (
            _set("languages/en/prompts/holiday", "Closed for {name}."),
            "languages.en.prompts.holiday",
            "unknown placeholder {name}",
        ),
        (
            _set("languages/en/prompts/welcome", "Welcome to {city"),
            "languages.en.prompts.welcome",
            "stray brace",
        ),
        (_set("languages/en/prompts/greting", "Hi"), "languages.en.prompts.greting", "unknown key"),
        (
            _set("languages/fr/statuses/pending", _DELETE),
            "languages.fr.statuses.pending",
            "missing",
        ),
        (_set("languages/fr/key", "1"), "languages.fr.key", "already chooses another language"),
        (_set("languages/fr/transcribe", "yes"), "languages.fr.transcribe", "true or false"),
        (_set("languages/english", {}), "languages.english", "two-letter code"),
        (_set("default_language", "de"), "default_language", "not one of the languages"),
        (_set("greting", "Hello"), "greting", "unknown key"),
        (_set("options/0/say/fr", "Appuyez sur le 1."), "options[0].say.fr", "{key}"),
        (_set("options/1/key", "1"), "options[1].key", "already another option's key"),
        (_set("options/0/key", "0"), "options[0].key", "from 1 to 9"),
        (_set("options/0/key", True), "options[0].key", "from 1 to 9"),
        (_set("options/0/action", "fax"), "options[0].action", "'fax' is not one of"),
        (_set("options/0/queue", "Waste Queue"), "options[0].queue", "not a queue slug"),
        (_set("options/0/label", " "), "options[0].label", "expected some text"),
        (_set("options/0/options/0/text", _DELETE), "options[0].options[0].text", "missing"),
        (
            _set("options/0/options/2/text", {"en": "x", "fr": "y"}),
            "options[0].options[2].text",
            "only info and voicemail",
        ),
        (_set("options/6/options", []), "options[6].options", 'action = "menu"'),
        (_set("options/0/options", []), "options[0].options", "1 to 9 options"),
        (_many, "options", "at most 9"),
        (_too_deep, "options[0].options[0].options[0]", "nest at most 3"),
        (_set("voicemail_seconds", 300), "voicemail_seconds", "transcribes"),
        (_set("input_timeout", 0), "input_timeout", "from 3 to 30"),
        (_set("connect", "transfer"), "connect", "dial, enqueue"),
        (_set("languages", {}), "languages", "at least one"),
    ],
)
def test_a_mistake_names_its_field(change: Callable[[Data], None], field: str, words: str) -> None:
    data = copy.deepcopy(_demo())
    change(data)
    with pytest.raises(MenuError) as raised:
        menu_from_mapping(data)
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")
    assert words in str(raised.value)


def test_a_file_that_is_not_toml_or_not_there_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "menu.toml"
    broken.write_text("[languages.en\nkey = 1\n")
    with pytest.raises(MenuError, match=r"menu.toml: is not valid TOML"):
        load_menu(broken)
    with pytest.raises(MenuError, match=r"cannot be read"):
        load_menu(tmp_path / "nowhere.toml")


def test_one_language_and_defaults(tmp_path: Path) -> None:
    data = _demo()
    del data["languages"]["fr"]
    for key in ("input_timeout", "retries", "voicemail_seconds", "ring_seconds", "connect"):
        data.pop(key)

    def english_only(options: list[Data]) -> None:
        for option in options:
            for table in ("say", "text"):
                option.get(table, {}).pop("fr", None)
            english_only(option.get("options", []))

    english_only(data["options"])
    menu = menu_from_mapping(data)
    assert isinstance(menu, Menu)
    assert (menu.input_timeout, menu.retries, menu.voicemail_seconds) == (8, 2, 120)
    assert menu.language("fr").code == "en"  # unknown languages fall back to the default
