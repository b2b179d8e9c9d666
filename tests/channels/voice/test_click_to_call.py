"""Click-to-call: the agent's phone rings first (Twilio's Calls API, the fake records it), then the
resident is dialled with the City's number; the call is logged on the ticket with its outcome."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest

from carecentre.calls import Call
from carecentre.contract import Channel, InboundMessage
from carecentre.models import Message
from carecentre.seed import add_agent
from carecentre.services import Services
from carecentre.states import Role
from carecentre.tokens import create_token
from tests.channels.voice.conftest import (
    CITY_NUMBER,
    RESIDENT,
    STATUS,
    VoiceApp,
    agent_phone,
)
from tests.fakes.twilio_api import Reply
from tests.support.api import OpenApiValidator

AGENT_PHONE = "+16135550177"
MakeApp = Callable[..., AbstractContextManager[VoiceApp]]


def _ticket(app: VoiceApp, queue: str = "roads") -> str:
    async def go(svc: Services) -> str:
        message = InboundMessage(
            channel=Channel.SMS,
            external_id="SM" + "3" * 32,
            sender=RESIDENT,
            body_text="The pothole on Main Street is back.",
            queue_hint=queue,
        )
        return (await svc.pipeline.ingest(message)).reference

    return app.run(go)


def _agent_leg(app: VoiceApp, sid: str, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": app.twilio.account_sid,
        "ApiVersion": "2010-04-01",
        "CallSid": sid,
        "CallStatus": "in-progress",
        "Direction": "outbound-api",
        "From": CITY_NUMBER,
        "To": AGENT_PHONE,
        **extra,
    }


def _place(app: VoiceApp, reference: str) -> dict[str, Any]:
    response = app.api("POST", f"/tickets/{reference}/calls")
    assert response.status_code == 202, response.text
    OpenApiValidator(app.client.get("/api/v1/openapi.json").json()).check(response)
    call: dict[str, Any] = response.json()["call"]
    return call


def test_the_agent_is_rung_first_then_the_resident(voice: VoiceApp) -> None:
    reference = _ticket(voice)
    placed = _place(voice, reference)
    assert placed["to"] == RESIDENT
    assert placed["agent_phone"] == AGENT_PHONE
    (request,) = voice.twilio.calls
    assert request.authorized
    assert request.value("To") == AGENT_PHONE
    assert request.value("From") == CITY_NUMBER
    bridge_url = request.value("Url") or ""
    assert bridge_url.startswith("https://carecentre.test/webhooks/twilio/voice/bridge?c=")
    assert request.value("StatusCallback") == f"https://carecentre.test{STATUS}"

    logged = voice.ticket(reference)["messages"][-1]
    assert logged["direction"] == "outbound"
    assert logged["channel"] == "voice"
    assert logged["delivery_status"] == "sent"
    assert logged["body"].startswith("Call to (613) 555-0123 placed by Admin")

    sid = placed["sid"]
    confirm = voice.twiml(bridge_url, _agent_leg(voice, sid))
    assert "Press any key to call the resident." in confirm.text
    assert not confirm.has("Dial")  # an answering machine never reaches the resident
    gather = confirm.element("Gather")
    dialling = voice.twiml(gather.attrib["action"], _agent_leg(voice, sid, Digits="1"))
    dial = dialling.element("Dial")
    assert dial.attrib["callerId"] == CITY_NUMBER
    assert [number.text for number in dial.iter("Number")] == [RESIDENT]
    done = voice.twiml(
        dial.attrib["action"],
        _agent_leg(voice, sid, DialCallStatus="completed", DialCallDuration="185"),
    )
    assert done.verbs == ["Hangup"]
    for _twice in range(2):
        status = voice.post(
            STATUS, _agent_leg(voice, sid, CallStatus="completed", CallDuration="200")
        )
        assert status.status_code == 200

    shown = voice.ticket(reference)
    logged = shown["messages"][-1]
    assert logged["body"] == "Call with the resident at (613) 555-0123: 3 min 5 s."
    assert logged["delivery_status"] == "delivered"
    assert shown["first_response_at"] is not None
    assert len(shown["messages"]) == 2  # the SMS, and one call log: no ticket for the agent leg
    (row,) = voice.rows(Call)
    assert (row.status, row.duration, row.outcome, row.outcome_duration) == (
        "completed",
        200,
        "completed",
        185,
    )


def test_a_resident_who_does_not_answer_is_logged_so(sqlite_voice: VoiceApp) -> None:
    reference = _ticket(sqlite_voice)
    sid = _place(sqlite_voice, reference)["sid"]
    url = sqlite_voice.twilio.calls[0].value("Url") or ""
    gather = sqlite_voice.twiml(url, _agent_leg(sqlite_voice, sid)).element("Gather")
    dial = sqlite_voice.twiml(gather.attrib["action"], _agent_leg(sqlite_voice, sid, Digits="5"))
    done = sqlite_voice.twiml(
        dial.element("Dial").attrib["action"],
        _agent_leg(sqlite_voice, sid, DialCallStatus="no-answer", DialCallDuration="0"),
    )
    assert "The resident could not be reached: no answer." in done.text
    sqlite_voice.post(
        STATUS, _agent_leg(sqlite_voice, sid, CallStatus="completed", CallDuration="40")
    )
    logged = sqlite_voice.ticket(reference)["messages"][-1]
    assert logged["body"] == "Called the resident at (613) 555-0123: no answer."
    assert logged["delivery_status"] == "undelivered"
    assert sqlite_voice.ticket(reference)["first_response_at"] is None


def test_an_agent_who_does_not_answer_rings_nobody(sqlite_voice: VoiceApp) -> None:
    reference = _ticket(sqlite_voice)
    sid = _place(sqlite_voice, reference)["sid"]
    sqlite_voice.post(
        STATUS, _agent_leg(sqlite_voice, sid, CallStatus="no-answer", CallDuration="0")
    )
    logged = sqlite_voice.ticket(reference)["messages"][-1]
    assert logged["body"] == (
        "Call to the resident at (613) 555-0123 not placed: the agent's phone gave no answer."
    )
    assert logged["delivery_status"] == "failed"


def test_no_key_pressed_means_the_resident_is_not_called(sqlite_voice: VoiceApp) -> None:
    reference = _ticket(sqlite_voice)
    sid = _place(sqlite_voice, reference)["sid"]
    url = sqlite_voice.twilio.calls[0].value("Url") or ""
    first = sqlite_voice.twiml(url, _agent_leg(sqlite_voice, sid))
    redirect = first.element("Redirect").text or ""
    silent = sqlite_voice.twiml(redirect, _agent_leg(sqlite_voice, sid))
    assert "the resident was not called" in silent.text
    assert not silent.has("Dial")


def test_an_agent_without_a_phone_gets_409_and_nothing_rings(sqlite_voice: VoiceApp) -> None:
    reference = _ticket(sqlite_voice)
    agent_phone(sqlite_voice, None)
    response = sqlite_voice.api("POST", f"/tickets/{reference}/calls")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_agent_phone"
    assert sqlite_voice.twilio.calls == []
    assert sqlite_voice.rows(Call) == []


def test_a_ticket_the_agent_may_not_see_does_not_exist(sqlite_voice: VoiceApp) -> None:
    reference = _ticket(sqlite_voice, queue="taxes")

    async def limited(svc: Services) -> str:
        async with svc.db.write() as session:
            agent = await add_agent(
                session,
                email="roads@city.example",
                name="Roads Agent",
                role=Role.AGENT,
                password=None,
                queues=["roads"],
            )
            agent.phone = "+16135550166"
            assert agent.id is not None
            return await create_token(session, agent_id=agent.id, name="roads")

    token = sqlite_voice.run(limited)
    response = sqlite_voice.client.post(
        f"/api/v1/tickets/{reference}/calls", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 404
    assert sqlite_voice.twilio.calls == []
    assert sqlite_voice.client.post(f"/api/v1/tickets/{reference}/calls").status_code == 401


def test_twilio_refusing_the_call_is_502_and_logs_nothing(sqlite_voice: VoiceApp) -> None:
    reference = _ticket(sqlite_voice)
    sqlite_voice.twilio.script(Reply.error(400, 21215, "Geographic permission not enabled"))
    response = sqlite_voice.api("POST", f"/tickets/{reference}/calls")
    assert response.status_code == 502
    assert "21215" in response.json()["error"]["message"]
    assert len(sqlite_voice.messages(Message.kind == "call")) == 0
    (row,) = sqlite_voice.rows(Call)
    assert row.status == "failed"
    assert row.call_sid is None


def test_an_unknown_outbound_call_is_not_logged(sqlite_voice: VoiceApp) -> None:
    response = sqlite_voice.post(
        STATUS, _agent_leg(sqlite_voice, "CA" + "9" * 32, CallStatus="completed", CallDuration="5")
    )
    assert response.status_code == 200
    assert sqlite_voice.tickets() == []
    assert sqlite_voice.rows(Call) == []


@pytest.mark.parametrize("override", [{"twilio_voice_number": ""}, {"twilio_auth_token": ""}])
def test_without_twilio_click_to_call_is_unavailable(
    make_voice_app: MakeApp, override: dict[str, str]
) -> None:
    with make_voice_app(**override) as app:
        reference = _ticket(app)
        response = app.api("POST", f"/tickets/{reference}/calls")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "not_configured"


def test_bridge_for_a_finished_call_hangs_up(sqlite_voice: VoiceApp) -> None:
    answer = sqlite_voice.twiml(
        "/webhooks/twilio/voice/bridge?c=424242", _agent_leg(sqlite_voice, "CA" + "8" * 32)
    )
    assert answer.verbs == ["Say", "Hangup"]


def test_a_resident_without_a_phone_gets_409(sqlite_voice: VoiceApp) -> None:
    async def by_email(svc: Services) -> str:
        message = InboundMessage(
            channel=Channel.EMAIL,
            external_id="<no-phone@resident.example>",
            sender="resident@example.org",
            subject="Tree down",
            body_text="A tree is down on Oak Street.",
        )
        return (await svc.pipeline.ingest(message)).reference

    reference = sqlite_voice.run(by_email)
    response = sqlite_voice.api("POST", f"/tickets/{reference}/calls")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_phone"
    assert sqlite_voice.twilio.calls == []
