"""The phone menu as data: languages with their voices and prompts, and options mapped to queues.

Built from a TOML file by :mod:`channels.voice.menu_config`, which checks every field; once
built, a :class:`Menu` is a tree of immutable values the menu steps walk. An option is found by
its path of keys, ``"1"`` for the first level, ``"1.2"`` for option 2 under option 1, which is
what travels in the menu's URLs between Twilio's requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    """What choosing an option does."""

    INFO = "info"  # read information, then offer the same menu again
    VOICEMAIL = "voicemail"  # take a message (recorded, transcribed where possible)
    CALLBACK = "callback"  # take a request to be called back
    STATUS = "status"  # read the status of a request whose reference the caller keys in
    CONNECT = "connect"  # put the caller through to Customer Care (voicemail when closed)
    MENU = "menu"  # a menu of further options


class ConnectMode(StrEnum):
    DIAL = "dial"  # <Dial> CARECENTRE_VOICE_TRANSFER_NUMBER
    ENQUEUE = "enqueue"  # <Enqueue> into a Twilio queue the Customer Care agents answer


# Every prompt each language must have, with the placeholders it may use.
PROMPTS: Mapping[str, frozenset[str]] = {
    "welcome": frozenset({"city"}),
    "emergency": frozenset(),
    "choose_language": frozenset({"key"}),
    "repeat": frozenset(),
    "back": frozenset(),
    "operator_open": frozenset(),
    "operator_closed": frozenset(),
    "invalid": frozenset(),
    "no_input": frozenset(),
    "after_hours": frozenset(),
    "weekend": frozenset(),
    "holiday": frozenset({"holiday"}),
    "closure": frozenset({"label"}),
    "voicemail": frozenset(),
    "voicemail_offer": frozenset(),
    "voicemail_saved": frozenset({"reference"}),
    "voicemail_empty": frozenset(),
    "number_withheld": frozenset(),
    "number_enter": frozenset(),
    "number_invalid": frozenset(),
    "callback_confirm": frozenset({"number"}),
    "callback_saved": frozenset({"number", "reference"}),
    "reference_enter": frozenset(),
    "reference_status": frozenset({"reference", "status"}),
    "reference_unknown": frozenset(),
    "connecting": frozenset(),
    "connect_failed": frozenset(),
    "error": frozenset(),
    "goodbye": frozenset(),
}


@dataclass(frozen=True, slots=True)
class Language:
    """A language of the menu: the key that chooses it and how it is spoken."""

    code: str  # "en", "fr": the ticket's language
    key: str
    voice: str  # <Say voice>, e.g. "Polly.Joanna", "Polly.Chantal"
    locale: str  # <Say language>, e.g. "en-US", "fr-CA"
    transcribe: bool  # Twilio transcribes voicemail in English only
    prompts: Mapping[str, str]
    statuses: Mapping[str, str]  # ticket status -> the words read to a caller

    def prompt(self, name: str, **values: str) -> str:
        return self.prompts[name].format(**values)


@dataclass(frozen=True, slots=True)
class Option:
    key: str
    path: str
    label: str  # what agents read: the call log, the ticket's subject
    action: Action
    queue: str
    say: Mapping[str, str]  # language -> how the option is offered; "{key}" is its key
    text: Mapping[str, str]  # language -> information read (info) or voicemail prompt
    options: tuple[Option, ...] = ()


@dataclass(frozen=True, slots=True)
class Menu:
    languages: tuple[Language, ...]
    default_language: str
    queue: str  # for what is chosen outside any option (0, or voicemail after no choice)
    options: tuple[Option, ...]
    input_timeout: int = 8
    retries: int = 2
    voicemail_seconds: int = 120
    ring_seconds: int = 30
    connect: ConnectMode = ConnectMode.DIAL
    connect_queue: str = "customer-care"

    def language(self, code: str | None) -> Language:
        """The language ``code`` names, or the default one."""
        by_code = {language.code: language for language in self.languages}
        return by_code.get(code or "") or by_code.get(self.default_language) or self.languages[0]

    def language_by_key(self, key: str) -> Language | None:
        return next((language for language in self.languages if language.key == key), None)

    def find(self, path: str) -> Option | None:
        """The option at ``path`` ("1.2"), or ``None`` (the menu may have changed mid-call)."""
        found: Option | None = None
        options = self.options
        for key in path.split("."):
            found = next((option for option in options if option.key == key), None)
            if found is None:
                return None
            options = found.options
        return found

    def options_at(self, path: str) -> tuple[Option, ...] | None:
        """The options offered at ``path`` ("" is the main menu); ``None`` if not a menu."""
        if not path:
            return self.options
        option = self.find(path)
        return option.options if option and option.action is Action.MENU else None

    def queue_at(self, path: str) -> str:
        option = self.find(path) if path else None
        return option.queue if option else self.queue

    def topic_at(self, path: str) -> str | None:
        option = self.find(path) if path else None
        return option.label if option else None
