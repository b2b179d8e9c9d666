"""What a call leaves on its ticket, as messages: pure builders, and the voicemail's body as its
pieces arrive."""

from __future__ import annotations

import pytest

from carecentre.call_log import CallView
from carecentre.calls import CallDirection
from carecentre.contract import ParseError
from carecentre.twilio.form import FormFields
from channels.voice.call_messages import (
    call_log_message,
    callback_message,
    voicemail_body,
    voicemail_message,
)
from channels.voice.params import StepState

CALL = "CA" + "c" * 32
RECORDING = "RE" + "d" * 32
API = "https://api.twilio.com"
STATE = StepState(lang="en", queue="roads", topic="Report a road problem", number="+16135550123")


def _form(**fields: str) -> FormFields:
    return FormFields(list(fields.items()))


def _recording(**changes: str) -> FormFields:
    fields = {
        "CallSid": CALL,
        "RecordingSid": RECORDING,
        "RecordingUrl": f"{API}/2010-04-01/Accounts/AC1/Recordings/{RECORDING}",
        "RecordingDuration": "61",
    }
    return _form(**(fields | changes))


def test_a_voicemail_is_threaded_by_its_call_and_known_by_its_recording() -> None:
    message = voicemail_message(_recording(), STATE, api_base_url=API, transcribed=True)
    assert message.external_id == RECORDING
    assert message.thread_keys == message.register_keys == (f"call:{CALL}",)
    assert (message.sender, message.queue_hint, message.language) == (
        "+16135550123",
        "roads",
        "en",
    )
    assert message.subject == "Voicemail: Report a road problem"
    assert message.body_text == "Voicemail, 1 min 1 s.\nTranscript to follow."
    (attachment,) = message.attachments
    assert attachment.url == f"{API}/2010-04-01/Accounts/AC1/Recordings/{RECORDING}.mp3"
    assert attachment.data is None
    assert attachment.content_type == "audio/mpeg"


def test_the_body_follows_the_pieces() -> None:
    assert voicemail_body({}) == "Voicemail.\nTranscript to follow."
    assert voicemail_body({"transcript_status": "completed", "transcript": ""}).endswith(
        "(no words recognized)"
    )
    assert "for English only" in voicemail_body({"transcribed": "no"})


@pytest.mark.parametrize(
    ("form", "state", "words"),
    [
        (_recording(RecordingUrl="https://evil.example/RE1"), STATE, "host we never fetch from"),
        (_recording(RecordingUrl="http://api.twilio.com/RE1"), STATE, "host we never fetch from"),
        (_form(CallSid=CALL, RecordingSid=RECORDING), STATE, "RecordingUrl"),
        (_form(CallSid=CALL, RecordingUrl=f"{API}/x"), STATE, "RecordingSid"),
        (_recording(RecordingSid="RE1"), STATE, "not a Twilio SID"),
        (_recording(), StepState(lang="en"), "withheld"),
    ],
)
def test_a_voicemail_that_cannot_be_filed(form: FormFields, state: StepState, words: str) -> None:
    with pytest.raises(ParseError, match=words):
        voicemail_message(form, state, api_base_url=API, transcribed=True)


def test_a_callback_request_and_its_number() -> None:
    message = callback_message(
        _form(CallSid=CALL, From="+16135550123"),
        StepState(lang="fr", number="+16135550188", queue="taxes"),
        region="CA",
    )
    assert message.external_id == f"{CALL}:callback"
    assert message.sender == "+16135550123"
    assert message.metadata["callback_number"] == "+16135550188"
    with pytest.raises(ParseError):
        callback_message(_form(CallSid=CALL), StepState(), region="CA")


def test_the_call_log() -> None:
    view = CallView(
        id=1,
        call_sid=CALL,
        direction=CallDirection.INBOUND,
        number="+16135550123",
        language="fr",
        queue="taxes",
        topic="Question about a bill",
        reference="CC-482-193-075",
        path=("call answered", "French"),
        status="completed",
        duration=61,
        outcome=None,
        outcome_duration=None,
        ticket_id=None,
        agent_id=None,
        message_id=None,
    )
    message = call_log_message(view, _form(CallSid=CALL), sender="+16135550123")
    assert message.external_id == CALL
    assert message.reference_hint == "CC-482-193-075"
    assert message.subject == "Phone call: Question about a bill"
    assert message.body_text == (
        "Phone call from (613) 555-0123: completed, 1 min 1 s.\n"
        "Language: French.\n"
        "Path: call answered → French"
    )
