"""The prompts the menu's branches end in: a menu, a person, a message, a number to key.

:class:`Turns` holds what every turn needs (the menu, the calendar, the clock, the URLs) and
builds the TwiML that asks for something; :class:`channels.voice.ivr.Ivr` adds the answers to
what the caller keyed. No I/O: the clock is a ``now`` callable, so tests fix it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from twilio.twiml.voice_response import VoiceResponse

from carecentre.hours import BusinessCalendar, Closed, ClosureReason
from channels.voice.menu import ConnectMode, Language, Menu
from channels.voice.params import StepState
from channels.voice.speech import spoken_number, spoken_reference, written_duration
from channels.voice.twiml import Urls, ask, say

# Twilio's DialCallStatus and QueueResult values that mean the caller reached someone.
ANSWERED = frozenset({"completed", "answered", "bridged", "hangup"})


@dataclass(frozen=True, slots=True)
class Turn:
    """One answer: the TwiML, the steps it adds to the call's path, what the call row learns."""

    twiml: VoiceResponse
    steps: tuple[str, ...] = ()
    changes: Mapping[str, str | None] = field(default_factory=dict)


class Turns:
    """What every turn needs, and the prompts that ask the caller for something."""

    def __init__(
        self,
        menu: Menu,
        calendar: BusinessCalendar,
        urls: Urls,
        *,
        now: Callable[[], datetime],
        city: str,
        transfer_number: str,
        region: str = "CA",
    ) -> None:
        self.menu = menu
        self.calendar = calendar
        self.urls = urls
        self.now = now
        self.city = city
        self.transfer_number = transfer_number
        self.region = region

    # -- menus -------------------------------------------------------------------------------

    def menu_prompt(
        self, response: VoiceResponse, language: Language, path: str, tries: int
    ) -> None:
        options = self.menu.options_at(path) or self.menu.options
        state = StepState(lang=language.code, menu=path, tries=tries)
        gather = ask(response, self.urls.step("menu", state), timeout=self.menu.input_timeout)
        for option in options:
            say(gather, language, option.say[language.code].format(key=option.key))
        open_now = self.closure() is None
        say(gather, language, language.prompt("operator_open" if open_now else "operator_closed"))
        if path:
            say(gather, language, language.prompt("back"))
        say(gather, language, language.prompt("repeat"))

    def apology(self, language: Language) -> Turn:
        """A step we do not know (the menu changed mid-call): apologize, start the menu again."""
        response = VoiceResponse()
        say(response, language, language.prompt("error"))
        self.menu_prompt(response, language, "", 0)
        return Turn(response, ("menu restarted after an error",))

    # -- a person --------------------------------------------------------------------------

    def operator(self, language: Language, state: StepState, path: str) -> Turn:
        """``0``: a person while Customer Care is open, a voicemail while it is closed."""
        target = replace(
            state,
            option=path,
            queue=self.menu.queue_at(path),
            topic=(self.menu.topic_at(path) or "")[:200],
            tries=0,
        )
        return self.connect(VoiceResponse(), language, target, ("0: asked for a person",), {})

    def connect(
        self,
        response: VoiceResponse,
        language: Language,
        state: StepState,
        steps: tuple[str, ...],
        changes: Mapping[str, str | None],
    ) -> Turn:
        closed = self.closure()
        if closed is not None:
            say(response, language, self.closed_text(language, closed))
            steps = (*steps, closed_step(closed), *self.voicemail(response, language, state, None))
            return Turn(response, steps, changes)
        if self.menu.connect is ConnectMode.DIAL and not self.transfer_number:
            say(response, language, language.prompt("connect_failed"))
            steps = (*steps, "no Customer Care line configured")
            return Turn(
                response, (*steps, *self.voicemail(response, language, state, None)), changes
            )
        say(response, language, language.prompt("connecting"))
        action = self.urls.step("dialed", replace(state, tries=0))
        if self.menu.connect is ConnectMode.DIAL:
            dial = response.dial(action=action, method="POST", timeout=self.menu.ring_seconds)
            dial.number(self.transfer_number)
        else:
            response.enqueue(self.menu.connect_queue, action=action, method="POST")
        return Turn(response, (*steps, "put through to Customer Care"), changes)

    def dialed(
        self, language: Language, state: StepState, result: str, seconds: int | None
    ) -> Turn:
        """How putting the caller through ended (DialCallStatus, or QueueResult)."""
        response = VoiceResponse()
        if result in ANSWERED:
            response.hangup()
            return Turn(response, (f"spoke with Customer Care ({written_duration(seconds)})",))
        say(response, language, language.prompt("connect_failed"))
        steps = (f"Customer Care did not answer ({result or 'unknown'})",)
        return Turn(response, (*steps, *self.voicemail(response, language, state, None)))

    # -- a message -------------------------------------------------------------------------

    def voicemail(
        self, response: VoiceResponse, language: Language, state: StepState, intro: str | None
    ) -> tuple[str, ...]:
        """Record a message (a caller whose number is withheld is asked for one first);
        returns the steps to log."""
        if not state.number:
            say(response, language, language.prompt("number_withheld"))
            self.number_prompt(response, language, replace(state, then="voicemail", tries=0))
            return ("number withheld: asked for one",)
        say(response, language, intro or language.prompt("voicemail"))
        callbacks = StepState(
            lang=language.code, queue=state.queue, topic=state.topic, number=state.number
        )
        transcription = self.urls.step("transcription", callbacks) if language.transcribe else None
        response.record(
            action=self.urls.step("recorded", callbacks),
            method="POST",
            timeout=8,
            finish_on_key="#",
            max_length=self.menu.voicemail_seconds,
            play_beep=True,
            trim="trim-silence",
            recording_status_callback=self.urls.step("recording", callbacks),
            recording_status_callback_method="POST",
            transcribe=language.transcribe,
            transcribe_callback=transcription,
        )
        # Reached only when the recording was empty: Twilio then skips the action URL.
        say(response, language, language.prompt("voicemail_empty"))
        response.hangup()
        return ("voicemail",)

    def offer_voicemail(
        self, response: VoiceResponse, language: Language, state: StepState, path: str, why: str
    ) -> Turn:
        """Too many wrong or missing keys: take a message rather than keep anyone in the menu."""
        say(response, language, language.prompt("voicemail_offer"))
        target = replace(
            state, queue=self.menu.queue_at(path), topic=(self.menu.topic_at(path) or "")[:200]
        )
        steps = self.voicemail(response, language, target, None)
        return Turn(response, (why, "voicemail offered", *steps))

    def voicemail_saved(self, language: Language, reference: str, seconds: int | None) -> Turn:
        response = VoiceResponse()
        text = language.prompt("voicemail_saved", reference=spoken_reference(reference))
        say(response, language, text)
        response.hangup()
        return Turn(response, (f"message recorded ({written_duration(seconds)})",))

    # -- numbers to key --------------------------------------------------------------------

    def callback_prompt(
        self, response: VoiceResponse, language: Language, state: StepState
    ) -> None:
        """Confirm the number to call back, or ask for one when the caller's is withheld."""
        if not state.number:
            say(response, language, language.prompt("number_withheld"))
            self.number_prompt(response, language, replace(state, then="callback", tries=0))
            return
        gather = ask(response, self.urls.step("callback", state), timeout=self.menu.input_timeout)
        number = spoken_number(state.number)
        say(gather, language, language.prompt("callback_confirm", number=number))

    def number_prompt(self, response: VoiceResponse, language: Language, state: StepState) -> None:
        # Up to 11 keys (1, area code, number); # ends early, as the prompt says.
        action = self.urls.step("number", replace(state, number=""))
        timeout = self.menu.input_timeout + 4
        gather = ask(response, action, timeout=timeout, digits=11, finish_on_key="#")
        say(gather, language, language.prompt("number_enter"))

    def reference_prompt(
        self, response: VoiceResponse, language: Language, state: StepState
    ) -> None:
        action = self.urls.step("reference", replace(state, number=""))
        timeout = self.menu.input_timeout + 4
        gather = ask(response, action, timeout=timeout, digits=9, finish_on_key="#")
        say(gather, language, language.prompt("reference_enter"))

    # -- when Customer Care is closed ------------------------------------------------------

    def closure(self) -> Closed | None:
        return self.calendar.closure_reason(self.now())

    def closed_text(self, language: Language, closed: Closed) -> str:
        label = closed.label or ""
        if closed.reason is ClosureReason.HOLIDAY:
            return language.prompt("holiday", holiday=label)
        if closed.reason is ClosureReason.CLOSURE:
            return language.prompt("closure", label=label)
        if closed.reason is ClosureReason.WEEKEND:
            return language.prompt("weekend")
        return language.prompt("after_hours")


def closed_step(closed: Closed) -> str:
    reason = closed.reason.value.replace("_", " ")
    return f"closed ({reason}: {closed.label})" if closed.label else f"closed ({reason})"


def missed(digits: str) -> str:
    return f"wrong key {digits}" if digits else "no key pressed"
