"""The phone menu from a TOML file, checked field by field at start-up.

The schema (see ``channels/voice/menu.toml`` for a complete example, and README "Phone menu")::

    default_language = "en"      # spoken before the caller chooses; must be in [languages]
    queue = "general"            # queue of what is chosen outside any option (0, no choice)
    input_timeout = 8            # seconds the menu waits for a key (3-30)
    retries = 2                  # re-prompts after a wrong or missing key, then voicemail (0-5)
    voicemail_seconds = 120      # longest message (10-600; at most 120 where transcribed)
    ring_seconds = 30            # how long Customer Care's line rings (5-120)
    connect = "dial"             # "dial" CARECENTRE_VOICE_TRANSFER_NUMBER, or "enqueue"
    connect_queue = "customer-care"   # the Twilio queue, when connect = "enqueue"

    [languages.en]               # one table per language ("en", "fr"), one key each
    key = "1"
    voice = "Polly.Joanna"       # <Say voice>
    locale = "en-US"             # <Say language>
    transcribe = true            # Twilio transcribes English only
    [languages.en.prompts]       # every prompt of channels.voice.menu.PROMPTS, e.g.
    holiday = "We are closed today for {holiday}."   # only that prompt's placeholders
    [languages.en.statuses]      # new, open, pending, resolved, closed: words read to callers

    [[options]]                  # 1 to 9 options; nested ones under [[options.options]]
    key = "1"                    # 1-9 (0 reaches a person, * repeats, # goes back)
    label = "Waste and recycling"    # for agents: call log, ticket subject
    action = "menu"              # info, voicemail, callback, status, connect, menu
    queue = "waste"              # default: the enclosing option's queue, else `queue`
    say.en = "For garbage and recycling, press {key}."   # per language, must say {key}
    text.en = "..."              # info: required; voicemail: replaces the voicemail prompt

Every error is a :class:`MenuError` whose message starts with the field's path, e.g.
``options[2].say.fr: missing``.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from carecentre.states import TicketStatus
from channels.voice.menu import PROMPTS, Action, ConnectMode, Language, Menu, Option

_TOP = (
    "default_language",
    "queue",
    "input_timeout",
    "retries",
    "voicemail_seconds",
    "ring_seconds",
    "connect",
    "connect_queue",
    "languages",
    "options",
)
_LANGUAGE = ("key", "voice", "locale", "transcribe", "prompts", "statuses")
_OPTION = ("key", "label", "action", "queue", "say", "text", "options")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CODE = re.compile(r"^[a-z]{2}$")
MAX_DEPTH = 3
TRANSCRIBE_LIMIT = 120  # seconds Twilio transcribes


class MenuError(ValueError):
    """The menu file is wrong; the message starts with the field's path."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


def load_menu(path: str | Path) -> Menu:
    """Read and check a menu file."""
    try:
        with Path(path).open("rb") as file:
            data = tomllib.load(file)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise MenuError(str(path), f"is not valid TOML ({error})") from None
    except OSError as error:
        raise MenuError(str(path), f"cannot be read ({error.strerror})") from None
    return menu_from_mapping(data)


def menu_from_mapping(data: Mapping[str, Any]) -> Menu:
    """Build a :class:`Menu` from the mapping described in this module's docstring."""
    _known(data, _TOP, "")
    languages = _languages(data.get("languages"))
    codes = tuple(language.code for language in languages)
    default = _text(data.get("default_language", codes[0]), "default_language")
    if default not in codes:
        raise MenuError("default_language", f"'{default}' is not one of the languages {codes}")
    queue = _slug(data.get("queue", "general"), "queue")
    voicemail_seconds = _int(data.get("voicemail_seconds", 120), "voicemail_seconds", 10, 600)
    if voicemail_seconds > TRANSCRIBE_LIMIT and any(lang.transcribe for lang in languages):
        raise MenuError(
            "voicemail_seconds",
            f"Twilio transcribes messages of up to {TRANSCRIBE_LIMIT} s; lower it or turn "
            "transcribe off",
        )
    connect = _text(data.get("connect", "dial"), "connect")
    if connect not in {mode.value for mode in ConnectMode}:
        raise MenuError("connect", f"'{connect}' is not one of dial, enqueue")
    return Menu(
        languages=languages,
        default_language=default,
        queue=queue,
        options=_options(data.get("options"), "options", codes, queue, "", 1),
        input_timeout=_int(data.get("input_timeout", 8), "input_timeout", 3, 30),
        retries=_int(data.get("retries", 2), "retries", 0, 5),
        voicemail_seconds=voicemail_seconds,
        ring_seconds=_int(data.get("ring_seconds", 30), "ring_seconds", 5, 120),
        connect=ConnectMode(connect),
        connect_queue=_text(data.get("connect_queue", "customer-care"), "connect_queue")[:64],
    )


def _languages(value: object) -> tuple[Language, ...]:
    table = _table(value, "languages")
    if not table:
        raise MenuError("languages", "at least one language is needed")
    found: list[Language] = []
    for code, entry in table.items():
        where = f"languages.{code}"
        if not _CODE.match(code):
            raise MenuError(where, "a language is named by its two-letter code, e.g. en, fr")
        entry = _table(entry, where)
        _known(entry, _LANGUAGE, f"{where}.")
        key = _key(entry.get("key"), f"{where}.key")
        if any(other.key == key for other in found):
            raise MenuError(f"{where}.key", f"'{key}' already chooses another language")
        transcribe = entry.get("transcribe", code == "en")
        if not isinstance(transcribe, bool):
            raise MenuError(f"{where}.transcribe", "expected true or false")
        found.append(
            Language(
                code=code,
                key=key,
                voice=_text(entry.get("voice"), f"{where}.voice"),
                locale=_text(entry.get("locale"), f"{where}.locale"),
                transcribe=transcribe,
                prompts=_prompts(entry.get("prompts"), f"{where}.prompts"),
                statuses=_statuses(entry.get("statuses"), f"{where}.statuses"),
            )
        )
    return tuple(sorted(found, key=lambda language: language.key))


def _prompts(value: object, where: str) -> dict[str, str]:
    table = _table(value, where)
    _known(table, tuple(PROMPTS), f"{where}.")
    prompts = {}
    for name, allowed in PROMPTS.items():
        prompts[name] = _template(table.get(name), f"{where}.{name}", allowed)
    return prompts


def _statuses(value: object, where: str) -> dict[str, str]:
    table = _table(value, where)
    names = tuple(status.value for status in TicketStatus)
    _known(table, names, f"{where}.")
    return {name: _text(table.get(name), f"{where}.{name}") for name in names}


def _options(
    value: object, where: str, codes: tuple[str, ...], queue: str, parent: str, depth: int
) -> tuple[Option, ...]:
    if not isinstance(value, list) or not value:
        raise MenuError(where, "expected a list of 1 to 9 options ([[options]] tables)")
    if len(value) > 9:
        raise MenuError(where, f"at most 9 options (keys 1-9), not {len(value)}")
    options: list[Option] = []
    for index, entry in enumerate(value):
        at = f"{where}[{index}]"
        table = _table(entry, at)
        _known(table, _OPTION, f"{at}.")
        key = _key(table.get("key"), f"{at}.key")
        if any(option.key == key for option in options):
            raise MenuError(f"{at}.key", f"'{key}' is already another option's key")
        action_name = _text(table.get("action"), f"{at}.action")
        if action_name not in {action.value for action in Action}:
            choices = ", ".join(action.value for action in Action)
            raise MenuError(f"{at}.action", f"'{action_name}' is not one of {choices}")
        action = Action(action_name)
        own_queue = _slug(table["queue"], f"{at}.queue") if "queue" in table else queue
        path = f"{parent}.{key}" if parent else key
        say = _per_language(table.get("say"), f"{at}.say", codes, frozenset({"key"}))
        for code, offer in say.items():
            if "{key}" not in offer:
                raise MenuError(f"{at}.say.{code}", "must say the option's key: put {key} in it")
        text = {}
        if action is Action.INFO or "text" in table:
            if action not in (Action.INFO, Action.VOICEMAIL):
                raise MenuError(f"{at}.text", "only info and voicemail options have text")
            text = _per_language(table.get("text"), f"{at}.text", codes, frozenset({"city"}))
        children: tuple[Option, ...] = ()
        if action is Action.MENU:
            if depth >= MAX_DEPTH:
                raise MenuError(at, f"menus nest at most {MAX_DEPTH} deep")
            children = _options(
                table.get("options"), f"{at}.options", codes, own_queue, path, depth + 1
            )
        elif "options" in table:
            raise MenuError(f"{at}.options", 'only an option with action = "menu" has options')
        label = _text(table.get("label"), f"{at}.label")
        options.append(Option(key, path, label[:200], action, own_queue, say, text, children))
    return tuple(options)


def _per_language(
    value: object, where: str, codes: tuple[str, ...], allowed: frozenset[str]
) -> dict[str, str]:
    table = _table(value, where)
    _known(table, codes, f"{where}.")
    return {code: _template(table.get(code), f"{where}.{code}", allowed) for code in codes}


def _template(value: object, where: str, allowed: frozenset[str]) -> str:
    text = _text(value, where)
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as error:
        raise MenuError(where, f"has a stray brace ({error}); write {{{{ or }}}} for one") from None
    unknown = sorted(names - allowed)
    if unknown:
        usable = ", ".join("{" + name + "}" for name in sorted(allowed)) or "none"
        raise MenuError(where, f"unknown placeholder {{{unknown[0]}}} (usable here: {usable})")
    return text


def _key(value: object, where: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or value not in tuple("123456789"):
        raise MenuError(where, f"expected one key from 1 to 9, got {value!r}")
    return value


def _slug(value: object, where: str) -> str:
    text = _text(value, where)
    if not _SLUG.match(text):
        raise MenuError(where, f"'{text}' is not a queue slug (lower-case letters, digits, -)")
    return text


def _int(value: object, where: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise MenuError(where, f"expected a whole number from {low} to {high}, got {value!r}")
    return value


def _text(value: object, where: str) -> str:
    if value is None:
        raise MenuError(where, "missing")
    if not isinstance(value, str) or not value.strip():
        raise MenuError(where, f"expected some text, got {value!r}")
    return value.strip()


def _table(value: object, where: str) -> Mapping[str, Any]:
    if value is None:
        raise MenuError(where, "missing")
    if not isinstance(value, Mapping):
        raise MenuError(where, f"expected a table, got {type(value).__name__}")
    return value


def _known(table: Mapping[str, Any], known: tuple[str, ...], prefix: str) -> None:
    for key in table:
        if key not in known:
            raise MenuError(f"{prefix}{key}", f"unknown key (expected one of {', '.join(known)})")
