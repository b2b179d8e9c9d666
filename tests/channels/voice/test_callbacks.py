"""What a call leaves on its ticket: a voicemail (recording and transcript, whichever callback
arrives first, each perhaps twice), a callback request, and the call log."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlmodel import col

from carecentre.calls import Call
from carecentre.models import Attachment, Message, Ticket
from tests.channels.voice.conftest import (
    CITY_NUMBER,
    RESIDENT,
    TORONTO,
    PhoneCall,
    Recording,
    VoiceApp,
)

TRANSCRIPT = "Hi, my green bin was not picked up on Elm Street this morning."


def _voicemail_in_waste(voice: VoiceApp) -> tuple[PhoneCall, Recording, dict[str, str]]:
    """Call, choose English, Waste, Missed collection, leave a message."""
    call = voice.call()
    call.start()
    call.press("1")  # English
    call.press("1")  # Garbage, recycling and green bin
    prompt = call.press("2")  # Missed collection: voicemail
    record = prompt.element("Record")
    assert record.attrib["transcribe"] == "true"
    assert "which bin was missed" in prompt.text
    recording = call.leave_message(seconds=42)
    assert "Your reference number is C C," in call.heard.text
    assert call.heard.has("Hangup")
    urls = {
        "recording": record.attrib["recordingStatusCallback"],
        "transcription": record.attrib["transcribeCallback"],
    }
    return call, recording, urls


@pytest.mark.parametrize("order", [("recording", "transcription"), ("transcription", "recording")])
def test_a_voicemail_walk_files_one_ticket_in_the_chosen_queue(
    voice: VoiceApp, order: tuple[str, str]
) -> None:
    call, recording, urls = _voicemail_in_waste(voice)
    for callback in order:
        for _twice in range(2):
            if callback == "recording":
                response = call.recording_done(recording, urls["recording"])
            else:
                response = call.transcribed(recording, urls["transcription"], TRANSCRIPT)
            assert response.status_code == 200, response.text
    assert call.hang_up(seconds=95).status_code == 200
    assert call.hang_up(seconds=95).status_code == 200  # the status callback, twice

    (ticket,) = voice.tickets()
    assert ticket.channel.value == "voice"
    assert ticket.language == "en"
    shown = voice.ticket(ticket.reference)
    assert shown["queue"] == "waste"
    assert shown["subject"] == "Voicemail: Missed collection"
    voicemail, call_log = shown["messages"]
    assert voicemail["body"] == f"Voicemail, 42 s.\nTranscript: {TRANSCRIPT}"
    assert call_log["body"].startswith("Phone call from (613) 555-0123: completed, 1 min 35 s.")
    assert (
        "Path: call answered → English → 1: Garbage, recycling and green bin → " in call_log["body"]
    )
    assert call_log["body"].endswith("voicemail → message recorded (42 s)")

    # The recording is fetched in the background with the account's credentials, then served
    # to agents by CareCentre; neither Twilio's URL nor its credentials ever show.
    attachment = voice.wait_for_attachment()
    assert attachment.sha256
    assert attachment.filename == f"voicemail-{recording.sid}.mp3"
    (fetch,) = [r for r in voice.twilio.requests if r.method == "GET"]
    assert fetch.authorized
    assert fetch.path == f"/media/{recording.sid}.mp3"
    shown = voice.ticket(ticket.reference)
    (audio,) = shown["messages"][0]["attachments"]
    assert audio["url"] == f"https://carecentre.test/api/v1/attachments/{attachment.id}"
    text = str(shown)
    assert voice.twilio.base_url not in text
    assert voice.twilio.auth_token not in text
    download = voice.api("GET", f"/attachments/{attachment.id}")
    assert download.status_code == 200
    assert download.content == b"ID3 voicemail"

    statuses = sorted((raw.kind, raw.status) for raw in voice.raws())
    assert statuses == sorted(
        [("voicemail", "ingested")]
        + [("voicemail", "duplicate")] * 4
        + [("call", "ingested"), ("call", "duplicate")]
    )


def test_a_french_voicemail_keeps_its_recording_without_a_transcript(voice: VoiceApp) -> None:
    call = voice.call()
    call.start()
    call.press("2")  # français
    call.press("3")  # stationnement
    prompt = call.press("3")  # voicemail
    assert "Veuillez laisser votre nom" in prompt.text
    record = prompt.element("Record")
    assert record.attrib["transcribe"] == "false"
    assert "transcribeCallback" not in record.attrib
    assert {say.get("voice") for say in prompt.root.iter("Say")} == {"Polly.Chantal"}
    recording = call.leave_message(seconds=7)
    assert "Votre numéro de référence" in call.heard.text
    call.recording_done(recording, record.attrib["recordingStatusCallback"])
    (ticket,) = voice.tickets()
    assert ticket.language == "fr"
    (message,) = voice.messages()
    assert message.body_text == (
        "Voicemail, 7 s.\nNo transcript: automatic transcription is for English only."
    )
    assert voice.ticket(ticket.reference)["queue"] == "parking"


def test_a_failed_transcription_says_so_and_a_late_success_replaces_it(voice: VoiceApp) -> None:
    call, recording, urls = _voicemail_in_waste(voice)
    call.transcribed(recording, urls["transcription"], "", status="failed")
    (message,) = voice.messages()
    assert "No transcript: Twilio could not transcribe it" in message.body_text
    call.transcribed(recording, urls["transcription"], TRANSCRIPT)
    (message,) = voice.messages()
    assert message.body_text.endswith(f"Transcript: {TRANSCRIPT}")


def test_an_absent_recording_files_nothing_and_says_so_in_the_path(voice: VoiceApp) -> None:
    call = voice.call()
    call.start()
    call.press("1")
    call.press("1")
    record = call.press("2").element("Record")
    recording = call.recording(seconds=0)
    response = call.recording_done(
        recording, record.attrib["recordingStatusCallback"], RecordingStatus="absent"
    )
    assert response.status_code == 200
    assert voice.messages() == []
    (row,) = voice.rows(Call)
    assert row.path[-1] == "recording absent"
    assert [(raw.kind, raw.status) for raw in voice.raws()] == [("voicemail", "ignored:absent")]


def test_a_callback_request_is_due_by_the_end_of_the_next_business_day(voice: VoiceApp) -> None:
    call = voice.call()
    call.start()
    call.press("1")  # English
    call.press("1")  # waste
    confirm = call.press("3")  # large item pick-up: callback
    assert "We can call you back at 6 1 3, 5 5 5, 0 1 2 3." in confirm.text
    saved = call.press("1")
    assert "by the end of the next business day" in saved.text
    assert "Your reference number is C C," in saved.text
    assert saved.has("Hangup")
    call.hang_up(seconds=60)

    (ticket,) = voice.tickets()
    # Called Tuesday 24 November 2026 at 10:00: due Wednesday at closing time.
    assert ticket.due_at == datetime(2026, 11, 25, 16, 30, tzinfo=TORONTO)
    request, log = voice.messages(col(Message.ticket_id) == ticket.id)
    assert request.kind == "callback_request"
    assert request.meta["callback_number"] == RESIDENT
    assert request.body_text == "Callback requested: please call (613) 555-0123."
    assert voice.ticket(ticket.reference)["queue"] == "waste"
    assert "callback requested at (613) 555-0123" in log.body_text


def test_a_callback_to_another_number_keeps_the_caller_as_the_contact(voice: VoiceApp) -> None:
    call = voice.call()
    call.start()
    call.press("1")
    call.press("5")  # taxes
    call.press("2")  # question about a bill: callback
    entry = call.press("2")  # another number
    assert "enter your 10-digit phone number" in entry.text
    assert entry.element("Gather").attrib["finishOnKey"] == "#"
    again = call.press("6135550188")
    assert "6 1 3, 5 5 5, 0 1 8 8" in again.text
    call.press("1")
    (request,) = voice.messages()
    assert request.meta["callback_number"] == "+16135550188"
    assert request.address == RESIDENT
    assert request.body_text.endswith("(The caller phoned from (613) 555-0123.)")


def test_a_caller_with_a_withheld_number_is_asked_for_one(voice: VoiceApp) -> None:
    call = voice.call(caller="+266696687")  # how Twilio shows "anonymous"
    call.start()
    call.press("1")
    call.press("4")  # by-law
    asked = call.press("3")  # officer callback
    assert "Your phone number is hidden from us" in asked.text
    assert "6 1 3, 5 5 5, 0 1 4 4" in call.press("6135550144").text
    call.press("1")
    assert call.hang_up().status_code == 200
    (ticket,) = voice.tickets()
    request, log = voice.messages()
    assert request.address == log.address == "+16135550144"
    assert "Phone call from (613) 555-0144" in log.body_text
    assert voice.ticket(ticket.reference)["queue"] == "bylaw"


def test_a_withheld_caller_who_leaves_no_number_is_kept_not_lost(voice: VoiceApp) -> None:
    call = voice.call(caller="anonymous")
    call.start()
    call.press("1")
    call.press("7")  # status: nothing filed during the call
    assert call.hang_up(seconds=30).status_code == 200
    assert voice.tickets() == []
    (raw,) = voice.raws()
    assert raw.kind == "call"
    assert raw.status == "failed"
    assert "withheld" in (raw.error or "")
    (row,) = voice.rows(Call)
    assert row.status == "completed"
    assert row.number == ""
    assert row.path[:2] == [
        "call answered",
        "English",
    ]


def test_a_call_that_chose_nothing_still_leaves_a_trace(voice: VoiceApp) -> None:
    call = voice.call()
    call.start()
    assert call.hang_up(status="completed", seconds=4).status_code == 200
    (ticket,) = voice.tickets()
    shown = voice.ticket(ticket.reference)
    assert shown["queue"] == "general"
    assert shown["subject"] == "Phone call"
    (log,) = shown["messages"]
    assert log["body"] == (
        "Phone call from (613) 555-0123: completed, 4 s.\n"
        "Language: not chosen.\n"
        "Path: call answered"
    )


def test_progress_callbacks_are_acknowledged_and_ignored(voice: VoiceApp) -> None:
    call = voice.call()
    call.start()
    assert call.hang_up(status="in-progress").status_code == 200
    assert voice.tickets() == []
    assert [raw.status for raw in voice.raws()] == ["ignored"]


def test_a_recording_on_another_host_is_refused_and_kept(voice: VoiceApp) -> None:
    call, recording, urls = _voicemail_in_waste(voice)
    before = (voice.count(Ticket), voice.count(Message), voice.count(Attachment))
    evil = Recording(recording.sid + "0", "https://attacker.example/media/RE1", 5)
    response = call.recording_done(evil, urls["recording"])
    assert response.status_code == 400
    assert "host we never fetch from" in response.text
    assert (voice.count(Ticket), voice.count(Message), voice.count(Attachment)) == before
    failed = [raw for raw in voice.raws() if raw.status == "failed"]
    assert len(failed) == 1
    assert b"attacker.example" in failed[0].payload
    assert all(message.address != CITY_NUMBER for message in voice.messages())
