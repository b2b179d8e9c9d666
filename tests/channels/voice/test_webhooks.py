"""The webhooks' edge: Twilio's signature on every step (403 otherwise, nothing stored), a
signed request that names no call (400, kept), a step we do not know (an apology and the main
menu), and only POST."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from carecentre.calls import Call
from carecentre.models import Message, RawInbound, Ticket
from tests.channels.voice.conftest import STATUS, VOICE, VoiceApp

STEPS = [
    VOICE,
    f"{VOICE}/language",
    f"{VOICE}/menu?lang=en",
    f"{VOICE}/reference?lang=en",
    f"{VOICE}/callback?lang=en&num=%2B16135550123",
    f"{VOICE}/recorded?lang=en&q=waste&num=%2B16135550123",
    f"{VOICE}/recording?lang=en&q=waste&num=%2B16135550123",
    f"{VOICE}/transcription?lang=en&q=waste&num=%2B16135550123",
    STATUS,
    f"{VOICE}/bridge?c=1",
    f"{VOICE}/no-such-step",
]


def _stored(app: VoiceApp) -> tuple[int, int, int, int]:
    return (app.count(RawInbound), app.count(Call), app.count(Ticket), app.count(Message))


@pytest.mark.parametrize("url", STEPS)
def test_unsigned_or_badly_signed_requests_get_403_and_leave_nothing(
    sqlite_voice: VoiceApp, url: str
) -> None:
    call = sqlite_voice.call()
    fields = call.fields(Digits="1", RecordingSid="RE" + "0" * 32, CallStatus="completed")
    assert sqlite_voice.post(url, fields, signature=None).status_code == 403
    assert sqlite_voice.post(url, fields, signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    # Signed for another URL (a replay against another step) fails too.
    other = sqlite_voice.post(url, fields, signature="")
    assert other.status_code != 403
    moved = url.replace("lang=en", "lang=fr") if "lang=en" in url else url + "?lang=fr"
    forged = sqlite_voice.client.post(
        moved,
        content=other.request.content,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": other.request.headers["X-Twilio-Signature"],
        },
    )
    assert forged.status_code == 403


def test_nothing_is_stored_for_a_refused_request(sqlite_voice: VoiceApp) -> None:
    call = sqlite_voice.call()
    before = _stored(sqlite_voice)
    for url in STEPS:
        sqlite_voice.post(url, call.fields(CallStatus="completed"), signature=None)
    assert _stored(sqlite_voice) == before == (0, 0, 0, 0)


@pytest.mark.parametrize("url", [VOICE, f"{VOICE}/menu?lang=en", STATUS, f"{VOICE}/recording"])
def test_a_signed_request_without_a_call_sid_is_kept_and_refused(voice: VoiceApp, url: str) -> None:
    fields = voice.call().fields()
    del fields["CallSid"]
    response = voice.post(url, fields)
    assert response.status_code == 400
    assert "CallSid" in response.text
    (raw,) = voice.raws()
    assert raw.kind == "invalid"
    assert raw.status == "failed"
    assert (voice.count(Call), voice.count(Ticket)) == (0, 0)


def test_a_signed_body_that_is_not_utf8_is_kept_and_refused(sqlite_voice: VoiceApp) -> None:
    body = b"CallSid=CA" + b"1" * 32 + b"&Digits=%FF"
    # Twilio's algorithm over the decoded bytes: URL, then each name and value, sorted.
    signed = f"{sqlite_voice.settings.public_base}{VOICE}/menu".encode()
    signed += b"CallSidCA" + b"1" * 32 + b"Digits\xff"
    key = sqlite_voice.twilio.auth_token.encode()
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha1).digest()).decode()
    response = sqlite_voice.client.post(
        f"{VOICE}/menu",
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )
    assert response.status_code == 400
    (raw,) = sqlite_voice.raws()
    assert raw.payload == body
    assert raw.status == "failed"


def test_an_unknown_step_apologizes_and_restarts_the_menu(sqlite_voice: VoiceApp) -> None:
    call = sqlite_voice.call()
    call.start()
    call.press("1")
    answer = sqlite_voice.twiml(f"{VOICE}/retired-step?lang=en", call.fields(Digits="4"))
    assert answer.says[0] == "Sorry, something went wrong on our side. Let us start again."
    assert answer.has("Gather")
    (row,) = sqlite_voice.rows(Call)
    assert row.path[-1] == "menu restarted after an error"


def test_a_menu_path_that_no_longer_exists_restarts_the_menu(sqlite_voice: VoiceApp) -> None:
    call = sqlite_voice.call()
    call.start()
    answer = sqlite_voice.twiml(f"{VOICE}/menu?lang=en&m=9.9", call.fields(Digits="1"))
    assert "Let us start again" in answer.says[0]


def test_garbled_state_in_the_url_is_read_safely(sqlite_voice: VoiceApp) -> None:
    call = sqlite_voice.call()
    call.start()
    answer = sqlite_voice.twiml(
        f"{VOICE}/menu?lang=xx1&m=1.1.1.1.1&n=999999999999999999&num=12", call.fields(Digits="*")
    )
    # Unknown language: the default; unknown path: the main menu; tries: clamped.
    assert answer.has("Gather")
    assert answer.root.find("Gather/Say").get("language") == "en-US"


@pytest.mark.parametrize("url", [VOICE, f"{VOICE}/menu", STATUS])
def test_only_post(sqlite_voice: VoiceApp, url: str) -> None:
    assert sqlite_voice.client.get(url).status_code == 405
