"""What arrives with a voice webhook: Twilio's form fields, and our own state in the URL.

The menu keeps no session: each TwiML answer carries the caller's state (language, where they are
in the menu, how many tries they have had) in the query strings of the URLs it gives Twilio.
Twilio signs the URL it calls, query included, so that state comes back as we wrote it; it is
still parsed strictly, since a deploy may change the menu under a call in progress.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from carecentre.contract import ParseError
from carecentre.twilio.form import FormFields, decode_form

_CALL_SID = re.compile(r"^CA[0-9A-Za-z]{8,62}$")
_PATH = re.compile(r"^[1-9](?:\.[1-9]){0,3}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CODE = re.compile(r"^[a-z]{2}$")
MAX_DIGITS = 32


@dataclass(frozen=True, slots=True)
class CallRequest:
    """A voice webhook's form: the call it is about, and what the caller keyed."""

    call_sid: str
    caller: str  # From, as Twilio sent it (may be a withheld marker)
    digits: str  # "" when nothing was keyed (the menu's silence)
    form: FormFields

    def text(self, name: str) -> str:
        return (self.form.get(name) or "").strip()

    def number(self, name: str) -> int | None:
        """A whole-number field (a duration), or ``None`` when absent or not a number."""
        value = self.text(name)
        return int(value) if value.isascii() and value.isdigit() else None


def parse_call_request(raw: bytes) -> CallRequest:
    """Parse a voice webhook; :class:`ParseError` when it names no call."""
    form = decode_form(raw)
    call_sid = (form.get("CallSid") or "").strip()
    if not _CALL_SID.match(call_sid):
        raise ParseError("CallSid is missing or is not a Twilio call SID")
    digits = (form.get("Digits") or "").strip()[:MAX_DIGITS]
    return CallRequest(call_sid, (form.get("From") or "").strip(), digits, form)


@dataclass(frozen=True, slots=True)
class StepState:
    """Our state in a step URL's query. Every field has a safe value when absent or garbled."""

    lang: str | None = None
    menu: str = ""  # path of the menu the caller is in ("" is the main menu)
    option: str = ""  # path of the option being acted on
    tries: int = 0  # wrong or missing answers so far at this prompt
    number: str = ""  # E.164: the resident's number (callback, voicemail sender)
    then: str = ""  # where a keyed number leads: "callback" or "voicemail"
    queue: str = ""
    topic: str = ""
    call: int | None = None  # click-to-call: the call's row

    @classmethod
    def parse(cls, query: str) -> StepState:
        values = dict(parse_qsl(query, keep_blank_values=True, max_num_fields=20))
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> StepState:
        def match(name: str, pattern: re.Pattern[str]) -> str:
            value = values.get(name, "")
            return value if pattern.match(value) else ""

        tries = values.get("n", "0")
        call = values.get("c", "")
        return cls(
            lang=match("lang", _CODE) or None,
            menu=match("m", _PATH),
            option=match("o", _PATH),
            tries=min(int(tries), 9) if tries.isascii() and tries.isdigit() else 0,
            number=match("num", _E164),
            then=values.get("then", "") if values.get("then") in ("callback", "voicemail") else "",
            queue=match("q", _SLUG),
            topic=values.get("t", "")[:200],
            call=int(call) if call.isascii() and call.isdigit() and len(call) < 18 else None,
        )

    def query(self) -> str:
        """The query string that carries this state (empty fields left out)."""
        pairs = {
            "lang": self.lang or "",
            "m": self.menu,
            "o": self.option,
            "n": str(self.tries) if self.tries else "",
            "num": self.number,
            "then": self.then,
            "q": self.queue,
            "t": self.topic,
            "c": "" if self.call is None else str(self.call),
        }
        return urlencode({name: value for name, value in pairs.items() if value})
