"""Click-to-call: an agent calls a resident back from a ticket.

``POST /api/v1/tickets/{reference}/calls`` (bearer token, or the agent's session) rings the
agent's own phone (their ``phone`` on file; 409 without one) from the City's number. When the
agent answers, Twilio fetches ``/webhooks/twilio/voice/bridge``: the agent hears which request
it is and presses a key (so an answering machine never calls a resident), then the resident is
dialled with the City's number as caller ID. The call is logged on the ticket at once; its
outcome and duration are written in when Twilio reports the call over (``status``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.twiml.voice_response import VoiceResponse

from carecentre.api.auth import require_principal
from carecentre.api.errors import ApiError
from carecentre.api.openapi import operation, path_parameter
from carecentre.call_log import CallView
from carecentre.services import services
from carecentre.states import DeliveryStatus
from channels.voice.dialer import DialFailed
from channels.voice.hooks import Hook
from channels.voice.params import StepState
from channels.voice.service import VoiceChannel, voice_channel
from channels.voice.speech import spoken_reference, written_duration, written_number
from channels.voice.twiml import ask, say, twiml


class PlacedCall(BaseModel):
    sid: str
    status: Literal["ringing_agent"]
    agent_phone: str
    to: str
    message_id: int


class CallPlaced(BaseModel):
    call: PlacedCall


ANSWERED = frozenset({"completed", "answered"})
OUTCOMES = {
    "busy": "the line was busy",
    "no-answer": "no answer",
    "failed": "the call failed",
    "canceled": "cancelled",
}


async def place_call(request: Request) -> Response:
    principal = await require_principal(request)
    svc = services(request)
    voice = voice_channel(svc)
    city_number = svc.settings.twilio_voice_number
    if voice.dialer is None or not city_number:
        raise ApiError(
            503,
            "click-to-call needs CARECENTRE_TWILIO_AUTH_TOKEN and CARECENTRE_TWILIO_VOICE_NUMBER",
            code="not_configured",
        )
    plan = await voice.agent_calls.prepare(principal, request.path_params["reference"])
    urls = voice.ivr.urls
    try:
        sid = await voice.dialer.call(
            to=plan.agent_phone,
            from_=city_number,
            url=urls.step("bridge", StepState(call=plan.call_id)),
            status_callback=urls.step("status"),
            ring_seconds=voice.menu.ring_seconds,
        )
    except DialFailed as error:
        await voice.agent_calls.failed(plan.call_id, str(error))
        raise ApiError(502, str(error), code="provider_error") from None
    body = (
        f"Call to {written_number(plan.resident_phone)} placed by {plan.agent_name}: "
        "ringing the agent's phone first."
    )
    message_id = await voice.agent_calls.started(plan, sid, body, principal.agent_id)
    out = PlacedCall(
        sid=sid,
        status="ringing_agent",
        agent_phone=plan.agent_phone,
        to=plan.resident_phone,
        message_id=message_id,
    )
    return JSONResponse(CallPlaced(call=out).model_dump(), status_code=202)


async def bridge(hook: Hook) -> Response:
    """The agent answered: confirm with a key, then dial the resident."""
    voice, state = hook.voice, hook.state
    language = voice.menu.language(voice.settings.language)
    target = await voice.agent_calls.bridge_target(state.call) if state.call else None
    response = VoiceResponse()
    if target is None:
        say(response, language, "This call can no longer be connected. Goodbye.")
        response.hangup()
        return twiml(response)
    urls = voice.ivr.urls
    if not hook.call.digits:
        if state.tries:
            say(response, language, "No key was pressed; the resident was not called. Goodbye.")
            response.hangup()
            return twiml(response)
        gather = ask(response, urls.step("bridge", replace(state, tries=1)), timeout=10)
        reference = spoken_reference(target.reference)
        say(gather, language, f"CareCentre call for request {reference}.")
        say(gather, language, "Press any key to call the resident.")
        return twiml(response)
    say(response, language, "Calling the resident.")
    dial = response.dial(
        action=urls.step("bridged", replace(state, tries=0)),
        method="POST",
        caller_id=hook.svc.settings.twilio_voice_number,
        timeout=voice.menu.ring_seconds,
    )
    dial.number(target.resident_phone)
    return twiml(response)


async def bridged(hook: Hook) -> Response:
    """How the resident's leg ended."""
    voice, state = hook.voice, hook.state
    result = hook.call.text("DialCallStatus") or "unknown"
    if state.call is not None:
        await voice.agent_calls.dial_result(
            state.call, result, hook.call.number("DialCallDuration")
        )
    response = VoiceResponse()
    if result not in ANSWERED:
        language = voice.menu.language(voice.settings.language)
        say(
            response,
            language,
            f"The resident could not be reached: {OUTCOMES.get(result, result)}.",
        )
    response.hangup()
    return twiml(response)


def outcome(view: CallView) -> tuple[str, DeliveryStatus, bool]:
    """The log line of a finished click-to-call, its delivery status, whether they spoke."""
    resident = written_number(view.number)
    if view.outcome in ANSWERED:
        spoke = written_duration(view.outcome_duration)
        return f"Call with the resident at {resident}: {spoke}.", DeliveryStatus.DELIVERED, True
    if view.outcome:
        said = OUTCOMES.get(view.outcome, view.outcome)
        return f"Called the resident at {resident}: {said}.", DeliveryStatus.UNDELIVERED, False
    if view.status == "completed":
        reason = "the agent ended the call before connecting it"
    else:
        reason = f"the agent's phone gave {OUTCOMES.get(view.status or '', view.status)}"
    return f"Call to the resident at {resident} not placed: {reason}.", DeliveryStatus.FAILED, False


async def log_outcome(voice: VoiceChannel, view: CallView) -> None:
    assert view.call_sid is not None
    body, status, answered = outcome(view)
    await voice.agent_calls.log_outcome(view.call_sid, body, status, answered=answered)


routes = [Route("/api/v1/tickets/{reference}/calls", place_call, methods=["POST"])]
api_paths = {
    "/tickets/{reference}/calls": {
        "post": operation(
            "Call the resident: ring the agent's phone, then bridge it to the resident's",
            202,
            CallPlaced,
            params=[path_parameter("reference")],
            errors=(401, 404, 409, 502, 503),
        )
    }
}
