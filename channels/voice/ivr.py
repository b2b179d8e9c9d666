"""The phone menu's answers to what a caller keys. No I/O.

The rules that keep nobody stuck, at every prompt: a wrong or missing key re-prompts at most
``retries`` times, then a voicemail is taken; ``0`` reaches a person while Customer Care is open
and takes a voicemail while it is closed; ``*`` repeats the prompt; ``#`` goes back from a
sub-menu. What needs the database (saving a callback request, looking up a reference, filing a
voicemail) is done by the webhooks, which then ask for the turn that follows.

Every handler takes the caller's :class:`StepState`, whose ``number`` the webhook fills in (the
number carried in the URL, else the caller's own; ``""`` when withheld).
"""

from __future__ import annotations

from dataclasses import replace

from twilio.twiml.voice_response import VoiceResponse

from carecentre.residents import StatusView
from channels.voice.menu import Action, Language, Option
from channels.voice.params import StepState
from channels.voice.speech import keyed_number, spoken_number, spoken_reference, written_number
from channels.voice.turns import Turn, Turns, closed_step, missed
from channels.voice.twiml import ask, say

LANGUAGE_NAMES = {"en": "English", "fr": "French"}


class Ivr(Turns):
    """The menu's answers, one method per step; each returns a :class:`Turn`."""

    # -- arriving, choosing a language -----------------------------------------------------

    def incoming(self) -> Turn:
        response = VoiceResponse()
        for language in self.menu.languages:
            say(response, language, language.prompt("welcome", city=self.city))
            say(response, language, language.prompt("emergency"))
        if len(self.menu.languages) == 1:
            return self._chosen(response, self.menu.languages[0], ("call answered",))
        self._choose_language(response, 0)
        return Turn(response, ("call answered",))

    def language(self, state: StepState, digits: str) -> Turn:
        chosen = self.menu.language_by_key(digits)
        if chosen is not None:
            return self._chosen(VoiceResponse(), chosen, ())
        default = self.menu.language(None)
        if digits == "0":
            return self.operator(default, state, "")
        response = VoiceResponse()
        if digits == "*":
            self._choose_language(response, state.tries)
            return Turn(response, ("asked to repeat",))
        # No language is chosen yet: the apology is said in each.
        for language in self.menu.languages:
            say(response, language, language.prompt("invalid" if digits else "no_input"))
        if state.tries >= self.menu.retries:
            return self.offer_voicemail(response, default, state, "", missed(digits))
        self._choose_language(response, state.tries + 1)
        return Turn(response, (missed(digits),))

    def _choose_language(self, response: VoiceResponse, tries: int) -> None:
        action = self.urls.step("language", StepState(tries=tries))
        gather = ask(response, action, timeout=self.menu.input_timeout)
        for language in self.menu.languages:
            say(gather, language, language.prompt("choose_language", key=language.key))

    def _chosen(self, response: VoiceResponse, language: Language, steps: tuple[str, ...]) -> Turn:
        steps = (*steps, LANGUAGE_NAMES.get(language.code, language.code))
        closed = self.closure()
        if closed is not None:
            say(response, language, self.closed_text(language, closed))
            steps = (*steps, closed_step(closed))
        self.menu_prompt(response, language, "", 0)
        return Turn(response, steps, {"language": language.code})

    # -- menus -----------------------------------------------------------------------------

    def menu_choice(self, language: Language, state: StepState, digits: str) -> Turn:
        path = state.menu
        options = self.menu.options_at(path)
        if options is None:
            return self.apology(language)
        response = VoiceResponse()
        if digits == "*":
            self.menu_prompt(response, language, path, state.tries)
            return Turn(response, ("asked to repeat",))
        if digits == "#" and path:
            self.menu_prompt(response, language, path.rpartition(".")[0], 0)
            return Turn(response, ("went back",))
        if digits == "0":
            return self.operator(language, state, path)
        option = next((option for option in options if option.key == digits), None)
        if option is not None:
            return self._choose(language, option, state)
        say(response, language, language.prompt("invalid" if digits else "no_input"))
        if state.tries >= self.menu.retries:
            return self.offer_voicemail(response, language, state, path, missed(digits))
        self.menu_prompt(response, language, path, state.tries + 1)
        return Turn(response, (missed(digits),))

    def _choose(self, language: Language, option: Option, state: StepState) -> Turn:
        response = VoiceResponse()
        steps: tuple[str, ...] = (f"{option.key}: {option.label}",)
        changes = {"queue": option.queue, "topic": option.label}
        target = StepState(
            lang=language.code,
            option=option.path,
            queue=option.queue,
            topic=option.label,
            number=state.number,
        )
        if option.action is Action.INFO:
            say(response, language, option.text[language.code].format(city=self.city))
            self.menu_prompt(response, language, option.path.rpartition(".")[0], 0)
            return Turn(response, (*steps, "information read"), changes)
        if option.action is Action.MENU:
            self.menu_prompt(response, language, option.path, 0)
            return Turn(response, steps, changes)
        if option.action is Action.STATUS:
            self.reference_prompt(response, language, target)
            return Turn(response, steps, changes)
        if option.action is Action.CONNECT:
            return self.connect(response, language, target, steps, changes)
        if option.action is Action.CALLBACK:
            self.callback_prompt(response, language, target)
            return Turn(response, (*steps, "callback"), changes)
        intro = option.text.get(language.code)
        intro = intro.format(city=self.city) if intro else None
        return Turn(response, (*steps, *self.voicemail(response, language, target, intro)), changes)

    # -- what the caller keys: a callback's number, a phone number, a reference ------------

    def callback_choice(self, language: Language, state: StepState, digits: str) -> Turn:
        """Answers to "press 1 to confirm, 2 for another number". The webhook saves the
        request on ``1`` before asking for :meth:`callback_saved`."""
        response = VoiceResponse()
        if digits == "2":
            self.number_prompt(response, language, replace(state, then="callback", tries=0))
            return Turn(response, ("chose to key another number",))
        if digits == "0":
            return self.operator(language, state, state.option)
        if digits == "*":
            self.callback_prompt(response, language, state)
            return Turn(response, ("asked to repeat",))
        say(response, language, language.prompt("invalid" if digits else "no_input"))
        if state.tries >= self.menu.retries:
            return self.offer_voicemail(response, language, state, state.option, missed(digits))
        self.callback_prompt(response, language, replace(state, tries=state.tries + 1))
        return Turn(response, (missed(digits),))

    def callback_saved(self, language: Language, number: str, reference: str) -> Turn:
        response = VoiceResponse()
        text = language.prompt(
            "callback_saved",
            number=spoken_number(number),
            reference=spoken_reference(reference),
        )
        say(response, language, text)
        response.hangup()
        return Turn(response, (f"callback requested at {written_number(number)}",))

    def number_entry(self, language: Language, state: StepState, digits: str) -> Turn:
        """A phone number keyed for a callback or, by a caller whose number is withheld, to
        leave with a voicemail."""
        response = VoiceResponse()
        if digits == "0":
            return self.operator(language, state, state.option)
        if digits == "*":
            self.number_prompt(response, language, state)
            return Turn(response, ("asked to repeat",))
        number = keyed_number(digits, self.region)
        if number is None:
            say(response, language, language.prompt("number_invalid" if digits else "no_input"))
            if state.tries >= self.menu.retries:
                return self.offer_voicemail(response, language, state, state.option, missed(digits))
            self.number_prompt(response, language, replace(state, tries=state.tries + 1))
            return Turn(response, (missed(digits),))
        # A caller with no number of their own is known by the one they keyed.
        changes = {} if state.number else {"number": number}
        keyed = replace(state, number=number, tries=0)
        steps: tuple[str, ...] = (f"keyed {written_number(number)}",)
        if state.then == "voicemail":
            return Turn(
                response, (*steps, *self.voicemail(response, language, keyed, None)), changes
            )
        self.callback_prompt(response, language, keyed)
        return Turn(response, steps, changes)

    def reference_answer(
        self, language: Language, state: StepState, digits: str, found: StatusView | None
    ) -> Turn:
        """Read the status of the request keyed in: the status word only, nothing else."""
        response = VoiceResponse()
        if digits == "0":
            return self.operator(language, state, state.option)
        if digits == "*":
            self.reference_prompt(response, language, state)
            return Turn(response, ("asked to repeat",))
        if found is not None:
            status = language.statuses[found.status.value]
            spoken = spoken_reference(found.reference)
            say(
                response,
                language,
                language.prompt("reference_status", reference=spoken, status=status),
            )
            self.menu_prompt(response, language, "", 0)
            step = f"status of {found.reference} read ({found.status.value})"
            return Turn(response, (step,), {"reference": found.reference})
        say(response, language, language.prompt("reference_unknown" if digits else "no_input"))
        why = f"reference not found ({digits})" if digits else "no key pressed"
        if state.tries >= self.menu.retries:
            return self.offer_voicemail(response, language, state, state.option, why)
        self.reference_prompt(response, language, replace(state, tries=state.tries + 1))
        return Turn(response, (why,))
