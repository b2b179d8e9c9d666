"""Recognize the control words a resident can text: opt-out, opt-in, help and status.

Carriers require STOP/START/HELP handling, and Twilio blocks further messages itself after an
opt-out; we must still know, so the contact is marked and no reply is queued in vain. A keyword
counts only when it is the whole message ("stop sending me the wrong bill" is a complaint, not an
opt-out), ignoring case, surrounding spaces and trailing punctuation. When Twilio's Advanced
Opt-Out has already classified the message (``OptOutType``), its verdict wins: it knows the
custom and other-language keywords configured in the Twilio console.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from channels.sms.references import find_reference, normalize_reference

__all__ = ["Keyword", "KeywordMatch", "classify", "find_reference"]


class Keyword(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    STATUS = "status"


OPT_OUT_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
)
OPT_IN_WORDS = frozenset({"start", "yes", "unstop"})
HELP_WORDS = frozenset({"help", "info"})

# Twilio's OptOutType values.
_OPT_OUT_TYPES = {"STOP": Keyword.OPT_OUT, "START": Keyword.OPT_IN, "HELP": Keyword.HELP}

_TRAILING_PUNCTUATION = ".!?,;:"
_STATUS = re.compile(r"status\b[\s:]*(?P<rest>.*)", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    """A recognized control message. ``reference`` is set for ``STATUS <reference>``."""

    keyword: Keyword
    reference: str | None = None


def _clean(body: str) -> str:
    return body.strip().rstrip(_TRAILING_PUNCTUATION).strip()


def classify(body: str, *, opt_out_type: str | None = None) -> KeywordMatch | None:
    """The control keyword ``body`` is, or ``None`` for an ordinary message.

    ``opt_out_type`` is Twilio's ``OptOutType`` field when the webhook carried one.
    """
    if opt_out_type and opt_out_type.strip().upper() in _OPT_OUT_TYPES:
        return KeywordMatch(_OPT_OUT_TYPES[opt_out_type.strip().upper()])
    text = _clean(body)
    word = text.casefold()
    if word in OPT_OUT_WORDS:
        return KeywordMatch(Keyword.OPT_OUT)
    if word in OPT_IN_WORDS:
        return KeywordMatch(Keyword.OPT_IN)
    if word in HELP_WORDS:
        return KeywordMatch(Keyword.HELP)
    status = _STATUS.fullmatch(text)
    if status is not None:
        rest = status.group("rest")
        if not rest:
            return KeywordMatch(Keyword.STATUS)
        reference = normalize_reference(rest)
        # "STATUS of my pothole request" is a question for an agent, not the command.
        if reference is not None:
            return KeywordMatch(Keyword.STATUS, reference)
    return None
