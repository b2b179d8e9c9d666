"""What every voice webhook shares: the signature check, the request in hand, the answer.

A request is verified against ``X-Twilio-Signature`` over CARECENTRE_PUBLIC_URL + path + raw
query + the form as received, before anything is parsed or stored; one that fails gets 403 and
leaves no trace but a log line. A verified request becomes a :class:`Hook` for its step.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from twilio.twiml.voice_response import VoiceResponse

from carecentre.contract import Channel, ParseError
from carecentre.services import Services
from carecentre.twilio.form import decode_form
from carecentre.twilio.signature import verify_form_bytes_signature, verify_signature
from channels.voice.menu import Language
from channels.voice.params import CallRequest, StepState
from channels.voice.service import VoiceChannel
from channels.voice.turns import Turn
from channels.voice.twiml import twiml

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Hook:
    """One verified voice webhook: the call, what was keyed, and our state from the URL.

    ``state.number`` is the resident's number: the one carried in the URL, else the caller's
    own (``""`` when withheld).
    """

    name: str
    svc: Services
    voice: VoiceChannel
    call: CallRequest
    state: StepState
    raw: bytes
    query: str
    content_type: str

    @property
    def language(self) -> Language:
        return self.voice.menu.language(self.state.lang)

    async def store(self, kind: str) -> int:
        """Keep the payload as received (with our URL state, for replay) before handling it."""
        meta: dict[str, Any] = {"step": self.name, "query": self.query}
        return await self.svc.pipeline.store_raw(
            Channel.VOICE, self.raw, content_type=self.content_type, kind=kind, meta=meta
        )

    async def answer(self, turn: Turn) -> Response:
        """Add the turn to the call's path, then give Twilio its TwiML."""
        try:
            await self.voice.calls.steps(
                self.call.call_sid, number=self.state.number, steps=turn.steps, changes=turn.changes
            )
        except Exception:
            # The caller on the line comes first: a step missing from the path is the lesser
            # loss than a call cut off by "an application error has occurred".
            log.exception("voice %s: call %s: step not recorded", self.name, self.call.call_sid)
        return twiml(turn.twiml)


Handler = Callable[[Hook], Awaitable[Response]]


def empty() -> Response:
    """The answer to a callback: Twilio only needs a 2xx."""
    return twiml(VoiceResponse())


def malformed(error: Exception) -> Response:
    return PlainTextResponse(f"malformed voice webhook: {error}", status_code=400)


async def verified_body(request: Request, svc: Services) -> bytes | Response:
    """The raw body once Twilio's signature checks out, else the 403 to answer."""
    raw = await request.body()
    settings = svc.settings
    token = settings.twilio_auth_token.get_secret_value()
    signature = request.headers.get("x-twilio-signature")
    where = {
        "public_url": settings.public_base,
        "path": request.url.path,
        "query": request.url.query,
    }
    try:
        form = decode_form(raw)
    except ParseError:
        # Not UTF-8: malformed; if Twilio signed it anyway it is kept (as failed) downstream.
        ok = verify_form_bytes_signature(auth_token=token, body=raw, signature=signature, **where)
    else:
        ok = verify_signature(auth_token=token, form=form, signature=signature, **where)
    if not ok:
        log.warning(
            "voice webhook %s refused: %s X-Twilio-Signature from %s",
            request.url.path,
            "invalid" if signature else "missing",
            request.client.host if request.client else "?",
        )
        return PlainTextResponse("signature check failed", status_code=403)
    return raw
