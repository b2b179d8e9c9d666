"""Twilio's voice webhooks: ``POST /webhooks/twilio/voice`` and its steps, answered with TwiML.

Every request must carry a valid Twilio signature (403 otherwise) and name a call (``CallSid``;
a signed request without one is kept as a failed payload and answered 400). A step we do not
know, which a deploy can cause in the middle of a call, is answered with an apology and the main
menu rather than an error the caller would hear as "an application error has occurred".

Steps: ``language``, ``menu``, ``reference``, ``callback``, ``number``, ``dialed`` (the caller's
turns, :mod:`channels.voice.ivr`), ``recorded``, ``recording``, ``transcription``, ``status``
(:mod:`channels.voice.callbacks`), ``bridge``, ``bridged`` (:mod:`channels.voice.click_to_call`).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from carecentre.contract import Channel, ParseError
from carecentre.services import services
from channels.voice import callbacks, click_to_call
from channels.voice.hooks import Handler, Hook, malformed, verified_body
from channels.voice.params import StepState, parse_call_request
from channels.voice.service import voice_channel
from channels.voice.speech import caller_number

log = logging.getLogger(__name__)


async def incoming(hook: Hook) -> Response:
    return await hook.answer(hook.voice.ivr.incoming())


async def language(hook: Hook) -> Response:
    return await hook.answer(hook.voice.ivr.language(hook.state, hook.call.digits))


async def menu(hook: Hook) -> Response:
    turn = hook.voice.ivr.menu_choice(hook.language, hook.state, hook.call.digits)
    return await hook.answer(turn)


async def reference(hook: Hook) -> Response:
    digits = hook.call.digits
    # Only nine keyed digits can be a reference; anything else is answered without a lookup.
    found = await hook.voice.calls.status_of(digits) if len(digits) == 9 else None
    turn = hook.voice.ivr.reference_answer(hook.language, hook.state, digits, found)
    return await hook.answer(turn)


async def callback(hook: Hook) -> Response:
    if hook.call.digits == "1" and hook.state.number:
        return await callbacks.save_callback(hook)
    turn = hook.voice.ivr.callback_choice(hook.language, hook.state, hook.call.digits)
    return await hook.answer(turn)


async def number(hook: Hook) -> Response:
    turn = hook.voice.ivr.number_entry(hook.language, hook.state, hook.call.digits)
    return await hook.answer(turn)


async def dialed(hook: Hook) -> Response:
    # <Dial> reports DialCallStatus; <Enqueue> reports QueueResult.
    result = hook.call.text("DialCallStatus") or hook.call.text("QueueResult")
    seconds = hook.call.number("DialCallDuration") or hook.call.number("QueueTime")
    turn = hook.voice.ivr.dialed(hook.language, hook.state, result, seconds)
    return await hook.answer(turn)


STEPS: dict[str, Handler] = {
    "": incoming,
    "language": language,
    "menu": menu,
    "reference": reference,
    "callback": callback,
    "number": number,
    "dialed": dialed,
    "recorded": callbacks.recorded,
    "recording": callbacks.recording,
    "transcription": callbacks.transcription,
    "status": callbacks.status,
    "bridge": click_to_call.bridge,
    "bridged": click_to_call.bridged,
}


async def webhook(request: Request) -> Response:
    """Any step: verify, parse, dispatch."""
    svc = services(request)
    verified = await verified_body(request, svc)
    if isinstance(verified, Response):
        return verified
    name = request.path_params.get("step", "")
    voice = voice_channel(svc)
    content_type = request.headers.get("content-type", "")
    query = request.url.query
    try:
        call = parse_call_request(verified)
    except ParseError as error:
        # Signed, so it came from Twilio (or someone holding our token): kept, for a look.
        raw_id = await svc.pipeline.store_raw(
            Channel.VOICE,
            verified,
            content_type=content_type,
            kind="invalid",
            meta={"step": name, "query": query},
        )
        await svc.pipeline.settle(raw_id, "failed", str(error))
        log.warning("voice webhook %s: payload #%d kept: %s", request.url.path, raw_id, error)
        return malformed(error)
    state = StepState.parse(query)
    state = replace(state, number=state.number or caller_number(call.caller, voice.region))
    hook = Hook(name, svc, voice, call, state, verified, query, content_type)
    handler = STEPS.get(name)
    if handler is None:
        log.warning(
            "voice webhook: unknown step %r for call %s; menu restarted", name, call.call_sid
        )
        return await hook.answer(voice.ivr.apology(hook.language))
    return await handler(hook)


routes = [
    Route("/webhooks/twilio/voice", webhook, methods=["POST"]),
    Route("/webhooks/twilio/voice/{step}", webhook, methods=["POST"]),
]
