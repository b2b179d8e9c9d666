"""What a call leaves on its ticket, as :class:`InboundMessage` values. Pure functions.

A call leaves one message per thing that happened, each idempotent on its own provider id and
threaded by the key ``call:<CallSid>``, so whichever arrives first opens (or joins) the ticket:

- the call log (external id: the CallSid), when Twilio reports the call over: who called, the
  path taken through the menu, the duration and the final status;
- a voicemail (the RecordingSid): the recording as an attachment known by URL until it is
  fetched, and its transcript once Twilio sends it (the record action, the recording callback
  and the transcription callback all carry the recording, in any order, perhaps twice);
- a callback request (``<CallSid>:callback``): the number to call back.

What the menu knew (language, queue, topic, the resident's number) comes back in the signed URL
of each callback (:class:`StepState`), so a stored payload parses the same way when replayed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from carecentre.call_log import CallView
from carecentre.contract import Channel, InboundAttachment, InboundMessage, ParseError
from carecentre.twilio.form import FormFields
from carecentre.twilio.media_urls import is_allowed_media_url
from channels.voice.params import StepState
from channels.voice.speech import caller_number, written_duration, written_number

_CALL_SID = re.compile(r"^CA[0-9A-Za-z]{8,62}$")
_RECORDING_SID = re.compile(r"^RE[0-9A-Za-z]{8,62}$")
LANGUAGES = {"en": "English", "fr": "French"}


def call_key(call_sid: str) -> str:
    return f"call:{call_sid}"


def _sid(form: FormFields, name: str, pattern: re.Pattern[str]) -> str:
    value = form.require(name).strip()
    if not pattern.match(value):
        raise ParseError(f"{name} is not a Twilio SID: {value[:80]!r}")
    return value


def voicemail_meta(form: FormFields) -> dict[str, str]:
    """What one of the voicemail's webhooks says about it (merged as they arrive)."""
    meta = {
        "call_sid": _sid(form, "CallSid", _CALL_SID),
        "recording_sid": _sid(form, "RecordingSid", _RECORDING_SID),
    }
    duration = (form.get("RecordingDuration") or "").strip()
    if duration.isascii() and duration.isdigit():
        meta["recording_duration"] = duration
    status = (form.get("TranscriptionStatus") or "").strip()
    if status in ("completed", "failed"):
        meta["transcript_status"] = status
        if status == "completed":
            meta["transcript"] = (form.get("TranscriptionText") or "").strip()
    return meta


def voicemail_body(meta: Mapping[str, Any]) -> str:
    """What agents read; rendered again as each piece arrives."""
    duration = meta.get("recording_duration")
    head = f"Voicemail, {written_duration(int(duration))}." if duration else "Voicemail."
    status = meta.get("transcript_status")
    if status == "completed":
        text = meta.get("transcript") or "(no words recognized)"
        return f"{head}\nTranscript: {text}"
    if status == "failed":
        return f"{head}\nNo transcript: Twilio could not transcribe it. Listen to the recording."
    if meta.get("transcribed") == "no":
        return f"{head}\nNo transcript: automatic transcription is for English only."
    return f"{head}\nTranscript to follow."


def voicemail_message(
    form: FormFields, state: StepState, *, api_base_url: str, transcribed: bool
) -> InboundMessage:
    """The voicemail, from the record action, the recording callback or the transcription."""
    meta = voicemail_meta(form)
    url = form.require("RecordingUrl").strip()
    # The URL names the recording; its MP3 is what agents play.
    media = url if url.endswith((".mp3", ".wav")) else f"{url}.mp3"
    if not is_allowed_media_url(media, api_base_url=api_base_url):
        raise ParseError(f"recording URL on a host we never fetch from: {url[:200]}")
    if not state.number:
        raise ParseError(
            "the caller's number is withheld and none was keyed: nobody to file it for"
        )
    if not transcribed:
        meta["transcribed"] = "no"
    key = call_key(meta["call_sid"])
    return InboundMessage(
        channel=Channel.VOICE,
        external_id=meta["recording_sid"],
        sender=state.number,
        subject=f"Voicemail: {state.topic}" if state.topic else "Voicemail",
        body_text=voicemail_body(meta),
        attachments=(
            InboundAttachment(
                filename=f"voicemail-{meta['recording_sid']}.mp3",
                content_type="audio/mpeg",
                url=media,
            ),
        ),
        thread_keys=(key,),
        register_keys=(key,),
        queue_hint=state.queue or None,
        language=state.lang,
        metadata=meta,
    )


def callback_message(form: FormFields, state: StepState, *, region: str) -> InboundMessage:
    """A request to be called back at ``state.number``, confirmed by the caller."""
    call_sid = _sid(form, "CallSid", _CALL_SID)
    if not state.number:
        raise ParseError("a callback request without a number to call")
    own = caller_number(form.get("From"), region)
    body = f"Callback requested: please call {written_number(state.number)}."
    if own and own != state.number:
        body += f" (The caller phoned from {written_number(own)}.)"
    key = call_key(call_sid)
    return InboundMessage(
        channel=Channel.VOICE,
        external_id=f"{call_sid}:callback",
        # The caller is known by their own number; the one to call back is in the message.
        sender=own or state.number,
        subject=f"Callback request: {state.topic}" if state.topic else "Callback request",
        body_text=body,
        thread_keys=(key,),
        register_keys=(key,),
        queue_hint=state.queue or None,
        language=state.lang,
        metadata={"call_sid": call_sid, "callback_number": state.number},
    )


def call_log_message(view: CallView, form: FormFields, *, sender: str) -> InboundMessage:
    """The call log: the caller, the path through the menu, the duration, the final status."""
    assert view.call_sid is not None
    status = view.status or (form.get("CallStatus") or "").strip() or "unknown"
    language = LANGUAGES.get(view.language or "", view.language or "not chosen")
    path = " → ".join(view.path) if view.path else "(no step recorded)"
    body = (
        f"Phone call from {written_number(sender)}: {status}, {written_duration(view.duration)}.\n"
        f"Language: {language}.\n"
        f"Path: {path}"
    )
    key = call_key(view.call_sid)
    return InboundMessage(
        channel=Channel.VOICE,
        external_id=view.call_sid,
        sender=sender,
        subject=f"Phone call: {view.topic}" if view.topic else "Phone call",
        body_text=body,
        thread_keys=(key,),
        register_keys=(key,),
        # A reference the caller keyed to hear its status: theirs, their ticket gets the log.
        reference_hint=view.reference,
        queue_hint=view.queue,
        language=view.language,
        metadata={
            "call_sid": view.call_sid,
            "call_status": status,
            "call_duration": "" if view.duration is None else str(view.duration),
            "path": path,
        },
    )
