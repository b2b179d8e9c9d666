"""An allow-list of TwiML, from Twilio's Voice TwiML reference: verbs, their attributes and the
values each takes, and which element may nest in which. Every answer the voice tests get is
checked against it (see ``conftest.VoiceApp``), so TwiML Twilio would refuse or misread fails a
test instead of a resident's call.

Sources: twilio.com/docs/voice/twiml (``<Say>``, ``<Gather>``, ``<Record>``, ``<Dial>``,
``<Number>``, ``<Enqueue>``, ``<Redirect>``, ``<Hangup>``, ``<Pause>``, ``<Play>``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

Check = Callable[[str], bool]


def _url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _int(low: int, high: int | None = None) -> Check:
    def check(value: str) -> bool:
        return value.isdigit() and int(value) >= low and (high is None or int(value) <= high)

    return check


def _one_of(*choices: str) -> Check:
    return lambda value: value in choices


def _keys(allow_empty: bool) -> Check:
    return lambda value: (allow_empty or value != "") and all(c in "0123456789#*" for c in value)


def _events(*choices: str) -> Check:
    return lambda value: bool(value.split()) and all(part in choices for part in value.split())


_BOOL = _one_of("true", "false")
_METHOD = _one_of("GET", "POST")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")
_VOICE = re.compile(
    r"^(man|woman|alice|Polly\.[A-Z][A-Za-z]+(-Neural|-Generative)?|Google\.[\w-]+)$"
)


@dataclass(frozen=True)
class Rule:
    attributes: Mapping[str, Check] = field(default_factory=dict)
    children: frozenset[str] = frozenset()
    text: str = "none"  # "none", "optional" or "required"
    text_check: Check | None = None


_RECORDING_CALLBACKS: dict[str, Check] = {
    "recordingStatusCallback": _url,
    "recordingStatusCallbackMethod": _METHOD,
    "recordingStatusCallbackEvent": _events("in-progress", "completed", "absent"),
}

RULES: Mapping[str, Rule] = {
    "Response": Rule(
        children=frozenset(
            {"Say", "Play", "Pause", "Gather", "Record", "Dial", "Enqueue", "Hangup", "Redirect"}
        )
    ),
    "Say": Rule(
        {
            "voice": lambda v: bool(_VOICE.match(v)),
            "language": lambda v: bool(_LOCALE.match(v)),
            "loop": _int(0),
        },
        text="required",
        text_check=lambda t: 0 < len(t) <= 4096,
    ),
    "Play": Rule({"loop": _int(0), "digits": _keys(False)}, text="optional"),
    "Pause": Rule({"length": _int(1)}),
    "Gather": Rule(
        {
            "action": _url,
            "method": _METHOD,
            "timeout": _int(1),
            "finishOnKey": _keys(True),
            "numDigits": _int(1),
            "input": _one_of("dtmf", "speech", "dtmf speech"),
            "language": lambda v: bool(_LOCALE.match(v)),
            "hints": lambda v: True,
            "speechTimeout": lambda v: v == "auto" or v.isdigit(),
            "speechModel": lambda v: bool(v),
            "profanityFilter": _BOOL,
            "partialResultCallback": _url,
            "partialResultCallbackMethod": _METHOD,
            "actionOnEmptyResult": _BOOL,
            "enhanced": _BOOL,
        },
        children=frozenset({"Say", "Play", "Pause"}),
    ),
    "Record": Rule(
        {
            "action": _url,
            "method": _METHOD,
            "timeout": _int(0),
            "finishOnKey": _keys(False),
            "maxLength": _int(2, 14400),
            "playBeep": _BOOL,
            "trim": _one_of("trim-silence", "do-not-trim"),
            "transcribe": _BOOL,
            "transcribeCallback": _url,
            **_RECORDING_CALLBACKS,
        }
    ),
    "Dial": Rule(
        {
            "action": _url,
            "method": _METHOD,
            "timeout": _int(1, 600),
            "hangupOnStar": _BOOL,
            "timeLimit": _int(1),
            "callerId": lambda v: bool(_E164.match(v)),
            "record": _one_of(
                "do-not-record",
                "record-from-answer",
                "record-from-ringing",
                "record-from-answer-dual",
                "record-from-ringing-dual",
                "true",
                "false",
            ),
            "trim": _one_of("trim-silence", "do-not-trim"),
            "answerOnBridge": _BOOL,
            "ringTone": lambda v: bool(re.match(r"^[a-z]{2}(-[a-z]+)?$", v)),
            **_RECORDING_CALLBACKS,
        },
        children=frozenset({"Number", "Client", "Conference", "Queue", "Sip", "Sim"}),
        text="optional",
    ),
    "Number": Rule(
        {
            "sendDigits": lambda v: all(c in "0123456789#*wW" for c in v),
            "url": _url,
            "method": _METHOD,
            "statusCallback": _url,
            "statusCallbackMethod": _METHOD,
            "statusCallbackEvent": _events("initiated", "ringing", "answered", "completed"),
        },
        text="required",
        text_check=lambda t: bool(_E164.match(t)),
    ),
    "Enqueue": Rule(
        {
            "action": _url,
            "method": _METHOD,
            "waitUrl": _url,
            "waitUrlMethod": _METHOD,
            "maxQueueSize": _int(1, 5000),
        },
        text="required",
        text_check=lambda t: 0 < len(t) <= 64,
    ),
    "Hangup": Rule(),
    "Redirect": Rule({"method": _METHOD}, text="required", text_check=_url),
}


class TwimlError(AssertionError):
    pass


def check_twiml(document: str | bytes) -> ET.Element:
    """Parse ``document`` and check it against :data:`RULES`; returns the ``<Response>``."""
    try:
        root = ET.fromstring(document)
    except ET.ParseError as error:
        raise TwimlError(f"not well-formed XML: {error}") from None
    if root.tag != "Response":
        raise TwimlError(f"the root is <{root.tag}>, not <Response>")
    _check(root, "Response")
    return root


def _check(element: ET.Element, where: str) -> None:
    rule = RULES.get(element.tag)
    if rule is None:
        raise TwimlError(f"{where}: <{element.tag}> is not a TwiML verb we allow")
    for name, value in element.attrib.items():
        check = rule.attributes.get(name)
        if check is None:
            raise TwimlError(f"{where}: <{element.tag}> has no attribute {name!r}")
        if not check(value):
            raise TwimlError(f"{where}: <{element.tag} {name}={value!r}> is not a valid value")
    for child in element:
        if child.tag not in RULES:
            raise TwimlError(f"{where}: <{child.tag}> is not a TwiML verb we allow")
        if child.tag not in rule.children:
            raise TwimlError(f"{where}: <{child.tag}> may not be nested in <{element.tag}>")
    text = (element.text or "").strip()
    has_children = len(element) > 0
    if rule.text == "none" and text:
        raise TwimlError(f"{where}: <{element.tag}> takes no text, got {text[:60]!r}")
    if rule.text == "required" and not text:
        raise TwimlError(f"{where}: <{element.tag}> needs text")
    if element.tag == "Dial" and not (text or has_children):
        raise TwimlError(f"{where}: <Dial> needs a number or a noun to dial")
    if text and rule.text_check is not None and not rule.text_check(text):
        raise TwimlError(f"{where}: <{element.tag}> text {text[:60]!r} is not valid")
    for index, child in enumerate(element):
        if (child.tail or "").strip():
            raise TwimlError(f"{where}: stray text after <{child.tag}>")
        _check(child, f"{where}/{child.tag}[{index}]")
