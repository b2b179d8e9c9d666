"""The menu's rules, on a fixed clock: nobody stuck (two re-prompts, then voicemail), ``0``
reaches a person while open and voicemail while closed, ``*`` repeats, ``#`` goes back, the
after-hours and holiday messages, and status by phone (the status word only)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime

import pytest

from carecentre.calls import Call
from carecentre.contract import Channel, InboundMessage
from carecentre.references import reference_digits
from carecentre.services import Services
from tests.channels.voice.conftest import (
    AFTER_HOURS,
    CANADA_DAY,
    CUSTOMER_CARE_LINE,
    GOOD_FRIDAY,
    RESIDENT,
    SATURDAY,
    VoiceApp,
)

MakeApp = Callable[..., AbstractContextManager[VoiceApp]]


def _path(app: VoiceApp) -> list[str]:
    (row,) = app.rows(Call)
    return list(row.path)


def test_the_welcome_has_the_emergency_notice_in_both_languages(sqlite_voice: VoiceApp) -> None:
    answer = sqlite_voice.call().start()
    assert answer.verbs == ["Say", "Say", "Say", "Say", "Gather", "Redirect"]
    assert "If this is an emergency, hang up and dial 9 1 1." in answer.says
    assert "En cas d'urgence, raccrochez et composez le 9 1 1." in answer.says
    voices = [(say.get("voice"), say.get("language")) for say in answer.root.iter("Say")]
    assert ("Polly.Joanna", "en-US") in voices
    assert ("Polly.Chantal", "fr-CA") in voices
    gather = answer.element("Gather")
    assert gather.attrib["numDigits"] == "1"
    assert gather.attrib["timeout"] == "8"


@pytest.mark.parametrize(
    ("now", "heard", "step"),
    [
        (CANADA_DAY, "closed today for Canada Day", "closed (holiday: Canada Day)"),
        (GOOD_FRIDAY, "closed today for Good Friday", "closed (holiday: Good Friday)"),
        (AFTER_HOURS, "Customer Care is closed now.", "closed (after hours)"),
        (SATURDAY, "closed for the weekend", "closed (weekend)"),
    ],
)
def test_when_closed_the_caller_hears_why_and_0_takes_a_message(
    make_voice_app: MakeApp, now: datetime, heard: str, step: str
) -> None:
    with make_voice_app(now=now) as app:
        call = app.call()
        call.start()
        menu = call.press("1")
        assert heard in menu.text
        assert "To leave a message for Customer Care, press 0." in menu.text
        message = call.press("0")
        assert message.has("Record")
        assert not message.has("Dial")
        assert _path(app)[:4] == ["call answered", "English", step, "0: asked for a person"]
        # An option that connects to Customer Care takes a message too.
        other = app.call()
        other.start()
        other.press("1")
        assert other.press("8").has("Record")


def test_the_holiday_message_in_french_does_not_need_the_name(make_voice_app: MakeApp) -> None:
    with make_voice_app(now=CANADA_DAY) as app:
        call = app.call()
        call.start()
        menu = call.press("2")
        assert "fermé aujourd'hui en raison d'un jour férié" in menu.text


def test_0_reaches_a_person_while_open(sqlite_voice: VoiceApp) -> None:
    call = sqlite_voice.call()
    call.start()
    call.press("1")
    connecting = call.press("0")
    assert "Please hold while we connect you" in connecting.text
    dial = connecting.element("Dial")
    assert dial.attrib["timeout"] == "30"
    assert [number.text for number in dial.iter("Number")] == [CUSTOMER_CARE_LINE]
    assert call.dial_ended("completed", 240).verbs == ["Hangup"]
    assert _path(sqlite_voice)[-2:] == [
        "put through to Customer Care",
        "spoke with Customer Care (4 min 0 s)",
    ]


def test_0_at_the_language_prompt_reaches_a_person_too(sqlite_voice: VoiceApp) -> None:
    call = sqlite_voice.call()
    call.start()
    assert call.press("0").has("Dial")


def test_nobody_answering_turns_into_a_voicemail(sqlite_voice: VoiceApp) -> None:
    call = sqlite_voice.call()
    call.start()
    call.press("1")
    call.press("2")  # roads
    call.press("3")  # road hazard: connect
    missed = call.dial_ended("no-answer")
    assert "no one is available" in missed.text
    assert missed.has("Record")
    assert "Customer Care did not answer (no-answer)" in _path(sqlite_voice)


def test_without_a_transfer_number_a_person_becomes_a_message(make_voice_app: MakeApp) -> None:
    with make_voice_app(voice_transfer_number="") as app:
        call = app.call()
        call.start()
        call.press("1")
        answer = call.press("0")
        assert answer.has("Record")
        assert not answer.has("Dial")


def test_wrong_and_missing_keys_reprompt_twice_then_take_a_message(sqlite_voice: VoiceApp) -> None:
    call = sqlite_voice.call()
    call.start()
    call.press("1")
    first = call.press("9")
    assert first.says[0] == "Sorry, that is not one of the choices."
    assert first.has("Gather")
    second = call.silence()
    assert second.says[0] == "Sorry, we did not hear a choice."
    assert second.has("Gather")
    third = call.press("#")  # "#" means nothing in the main menu
    assert third.says[:2] == [
        "Sorry, that is not one of the choices.",
        "Let us take a message for Customer Care instead.",
    ]
    assert third.has("Record")
    assert not third.has("Gather")
    assert _path(sqlite_voice)[2:] == [
        "wrong key 9",
        "no key pressed",
        "wrong key #",
        "voicemail offered",
        "voicemail",
    ]


def test_silence_at_the_language_prompt_ends_in_a_voicemail(sqlite_voice: VoiceApp) -> None:
    call = sqlite_voice.call()
    call.start()
    assert call.silence().has("Gather")
    assert call.silence().has("Gather")
    last = call.silence()
    assert last.has("Record")
    # Said in both languages, since none was chosen.
    assert "Désolé, nous n'avons pas entendu votre choix." in last.says


def test_a_voicemail_after_wrong_keys_in_a_sub_menu_goes_to_its_queue(
    sqlite_voice: VoiceApp,
) -> None:
    call = sqlite_voice.call()
    call.start()
    call.press("1")
    call.press("6")  # recreation
    call.press("7")
    call.press("7")
    record = call.press("7").element("Record")
    assert "q=recreation" in record.attrib["action"]


def test_star_repeats_and_pound_goes_back(sqlite_voice: VoiceApp) -> None:
    call = sqlite_voice.call()
    call.start()
    main = call.press("1")
    sub = call.press("3")  # parking
    assert call.press("*").says == sub.says
    back = call.press("#")
    assert back.says == main.says
    assert _path(sqlite_voice)[-2:] == ["asked to repeat", "went back"]


def test_information_is_read_then_the_same_menu_is_offered(sqlite_voice: VoiceApp) -> None:
    call = sqlite_voice.call()
    call.start()
    call.press("1")
    sub = call.press("5")  # taxes
    info = call.press("1")
    assert info.says[0].startswith("Property tax is due in two instalments")
    assert info.says[1:] == sub.says


def _ticket_of_someone_else(app: VoiceApp) -> str:
    async def go(svc: Services) -> str:
        message = InboundMessage(
            channel=Channel.SMS,
            external_id="SM" + "1" * 32,
            sender="+16135550999",
            sender_name="Someone Else",
            body_text="The streetlight at 12 Elm Street is out.",
        )
        return (await svc.pipeline.ingest(message)).reference

    return app.run(go)


def test_status_by_phone_reads_the_status_word_only(voice: VoiceApp) -> None:
    reference = _ticket_of_someone_else(voice)
    call = voice.call()
    call.start()
    call.press("1")
    prompt = call.press("7")
    gather = prompt.element("Gather")
    assert gather.attrib["numDigits"] == "9"
    assert gather.attrib["finishOnKey"] == "#"
    answer = call.press(reference_digits(reference))
    digits = reference_digits(reference)
    spoken = f"C C, {' '.join(digits[0:3])}, {' '.join(digits[3:6])}, {' '.join(digits[6:9])}"
    assert answer.says[0] == f"Request {spoken} is received, and waiting to be reviewed."
    assert "Someone" not in answer.text
    assert "Elm" not in answer.text
    assert answer.has("Gather")  # back to the main menu
    call.hang_up()
    # Not the caller's ticket: the call gets its own, in the general queue.
    tickets = voice.tickets()
    assert len(tickets) == 2
    assert f"status of {reference} read (new)" in _path(voice)


def test_status_of_ones_own_request_logs_the_call_on_it(voice: VoiceApp) -> None:
    async def own(svc: Services) -> str:
        message = InboundMessage(
            channel=Channel.SMS, external_id="SM" + "2" * 32, sender=RESIDENT, body_text="Pothole"
        )
        return (await svc.pipeline.ingest(message)).reference

    reference = voice.run(own)
    call = voice.call()
    call.start()
    call.press("1")
    call.press("7")
    call.press(reference_digits(reference))
    call.hang_up()
    (ticket,) = voice.tickets()
    assert [m["channel"] for m in voice.ticket(reference)["messages"]] == ["sms", "voice"]
    assert ticket.reference == reference


@pytest.mark.parametrize("keyed", ["12345", "1234567890", "000000000"])
def test_a_wrong_reference_is_not_found_then_voicemail(sqlite_voice: VoiceApp, keyed: str) -> None:
    reference = _ticket_of_someone_else(sqlite_voice)
    wrong = reference_digits(reference)[:8] + str((int(reference_digits(reference)[8]) + 1) % 10)
    call = sqlite_voice.call()
    call.start()
    call.press("1")
    call.press("7")
    first = call.press(keyed)
    assert first.says[0] == "Sorry, we could not find a request with that number."
    assert first.element("Gather").attrib["numDigits"] == "9"
    second = call.press(wrong)  # one digit off: the check digit catches it
    assert second.says[0] == "Sorry, we could not find a request with that number."
    third = call.silence()
    assert third.has("Record")
    assert f"reference not found ({keyed[:32]})" in _path(sqlite_voice)
