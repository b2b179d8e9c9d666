"""What a call leaves behind: a callback request, a voicemail and its transcript, the call log.

Each is stored raw first (with our URL state, so it parses the same way on replay), then
ingested, idempotent on its provider id (see :mod:`channels.voice.call_messages`). Pieces of one
voicemail may arrive in any order and twice: the first files the message, the others complete
it. A payload that cannot be filed stays stored, marked failed with the reason, and the answer
is 400, except the call status of a caller whose number is withheld: Twilio did nothing wrong,
so it hears 200 while the payload waits, marked, in the failed list.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.responses import Response

from carecentre.calls import CallDirection
from carecentre.contract import InboundMessage, ParseError
from carecentre.identities import InvalidAddress
from carecentre.ingest import IngestResult
from channels.voice.call_messages import (
    call_log_message,
    callback_message,
    voicemail_body,
)
from channels.voice.click_to_call import log_outcome
from channels.voice.hooks import Hook, empty, malformed
from channels.voice.speech import caller_number

log = logging.getLogger(__name__)

FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


async def _file(
    hook: Hook, kind: str, build: Callable[[], InboundMessage]
) -> tuple[InboundMessage, IngestResult] | Response:
    """Store, parse, ingest; the 400 to answer when it cannot be filed (nothing is lost)."""
    return await _ingest(hook, await hook.store(kind), build)


async def _ingest(
    hook: Hook, raw_id: int, build: Callable[[], InboundMessage]
) -> tuple[InboundMessage, IngestResult] | Response:
    pipeline = hook.svc.pipeline
    try:
        message = build()
        return message, await pipeline.ingest(message, raw_id=raw_id)
    except (ParseError, InvalidAddress) as error:
        await pipeline.settle(raw_id, "failed", str(error))
        log.warning("voice %s: payload #%d kept unfiled: %s", hook.name, raw_id, error)
        return malformed(error)
    except Exception as error:
        # Kept, marked and replayable; Twilio hears of the failure.
        log.exception("voice %s: payload #%d kept after an internal error", hook.name, raw_id)
        await pipeline.settle(raw_id, "failed", f"internal error: {type(error).__name__}: {error}")
        raise


async def file_voicemail(hook: Hook) -> IngestResult | Response:
    """One piece of a voicemail (record action, recording callback, transcription)."""
    filed = await _file(hook, "voicemail", lambda: hook.voice.voicemail(hook.call.form, hook.state))
    if isinstance(filed, Response):
        return filed
    message, result = filed
    if result.duplicate:
        # Filed by an earlier piece: add what this one knows (a transcript, a duration).
        await hook.voice.calls.amend(result.message_id, dict(message.metadata), voicemail_body)
    elif hook.voice.fetcher is not None:
        hook.voice.fetcher.wake()
    return result


async def recorded(hook: Hook) -> Response:
    """The ``<Record>`` action: the caller is still on the line to hear their reference."""
    result = await file_voicemail(hook)
    if isinstance(result, Response):
        return result
    seconds = hook.call.number("RecordingDuration")
    turn = hook.voice.ivr.voicemail_saved(hook.language, result.reference, seconds)
    return await hook.answer(turn)


async def recording(hook: Hook) -> Response:
    status = hook.call.text("RecordingStatus") or "completed"
    if status != "completed":
        # "absent" (silence) or "failed": nothing to file; the call's path says so.
        raw_id = await hook.store("voicemail")
        await hook.svc.pipeline.settle(raw_id, f"ignored:{status}"[:16])
        await hook.voice.calls.steps(
            hook.call.call_sid, number=hook.state.number, steps=(f"recording {status}",)
        )
        return empty()
    result = await file_voicemail(hook)
    return result if isinstance(result, Response) else empty()


async def transcription(hook: Hook) -> Response:
    result = await file_voicemail(hook)
    return result if isinstance(result, Response) else empty()


async def save_callback(hook: Hook) -> Response:
    """The caller confirmed the number to call back: file the request, give the reference."""
    region = hook.voice.region
    filed = await _file(
        hook, "callback", lambda: callback_message(hook.call.form, hook.state, region=region)
    )
    if isinstance(filed, Response):
        return filed
    _message, result = filed
    await hook.voice.calls.mark_callback(
        result.message_id,
        number=hook.state.number,
        due=hook.voice.callback_due(),
        created=result.created,
    )
    turn = hook.voice.ivr.callback_saved(hook.language, hook.state.number, result.reference)
    return await hook.answer(turn)


async def status(hook: Hook) -> Response:
    """Twilio's call status callback: the call is over; log it on its ticket."""
    call_status = hook.call.text("CallStatus")
    raw_id = await hook.store("call")
    if call_status not in FINAL_STATUSES:
        await hook.svc.pipeline.settle(raw_id, "ignored")
        return empty()
    outbound = hook.call.text("Direction").startswith("outbound")
    if outbound and await hook.voice.calls.find(hook.call.call_sid) is None:
        # A call placed from this account that we did not place: nothing of ours to log.
        await hook.svc.pipeline.settle(raw_id, "ignored")
        return empty()
    own = caller_number(hook.call.caller, hook.voice.region)
    view = await hook.voice.calls.finish(
        hook.call.call_sid,
        number=own,
        status=call_status,
        duration=hook.call.number("CallDuration"),
    )
    if view.direction is CallDirection.CLICK_TO_CALL:
        await log_outcome(hook.voice, view)
        await hook.svc.pipeline.settle(raw_id, "handled")
        return empty()
    sender = view.number or own
    if not sender:
        reason = "the caller's number is withheld and none was keyed: see the call's row"
        await hook.svc.pipeline.settle(raw_id, "failed", reason)
        return empty()
    filed = await _ingest(
        hook, raw_id, lambda: call_log_message(view, hook.call.form, sender=sender)
    )
    return filed if isinstance(filed, Response) else empty()
