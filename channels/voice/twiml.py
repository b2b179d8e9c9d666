"""TwiML building blocks: the menu's URLs, speech in a language's voice, prompts for keys.

Every answer is a :class:`twilio.twiml.voice_response.VoiceResponse`; these helpers only keep the
menu's choices in one place (keys are collected with ``finishOnKey=""`` so ``#`` and ``*`` arrive
as keys, and a silent caller is sent on by a ``<Redirect>`` to the same action URL, which then
sees no ``Digits``).
"""

from __future__ import annotations

from starlette.responses import Response
from twilio.twiml.voice_response import Gather, VoiceResponse

from channels.voice.menu import Language
from channels.voice.params import StepState

PREFIX = "/webhooks/twilio/voice"


class Urls:
    """Absolute URLs of the menu's steps, built on CARECENTRE_PUBLIC_URL (Twilio signs them)."""

    def __init__(self, public_base: str) -> None:
        self.base = public_base.rstrip("/") + PREFIX

    def step(self, name: str, state: StepState | None = None) -> str:
        query = state.query() if state is not None else ""
        return f"{self.base}/{name}" + (f"?{query}" if query else "")


def say(parent: VoiceResponse | Gather, language: Language, text: str) -> None:
    parent.say(text, voice=language.voice, language=language.locale)


def ask(
    response: VoiceResponse,
    action: str,
    *,
    timeout: int,
    digits: int = 1,
    finish_on_key: str = "",
) -> Gather:
    """A ``<Gather>`` for keys; what to say goes inside it, so a caller can key at any time.

    When nothing is keyed, the ``<Redirect>`` after it asks ``action`` again without ``Digits``.
    """
    gather = response.gather(
        input="dtmf",
        action=action,
        method="POST",
        timeout=timeout,
        num_digits=digits,
        finish_on_key=finish_on_key,
    )
    response.redirect(action, method="POST")
    return gather


def twiml(response: VoiceResponse, status: int = 200) -> Response:
    return Response(str(response), status_code=status, media_type="application/xml")
