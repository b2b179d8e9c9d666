"""Twilio's SMS webhooks: incoming messages and delivery status callbacks.

Every request is verified against ``X-Twilio-Signature`` over CARECENTRE_PUBLIC_URL + path + the
raw query and the form as received; one that fails is refused with 403 and nothing is stored. A
verified message is parsed (a malformed one is kept as failed and refused with 400); control
words (STOP, START, HELP, STATUS) are handled here; any other text is stored and Twilio gets an
empty TwiML ``<Response/>`` at once (or one ``<Message>`` answering HELP and STATUS), whatever
the load: the backlog files the text on its ticket right after (carecentre.backlog).
"""

from __future__ import annotations

import logging

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from twilio.twiml.messaging_response import MessagingResponse

from carecentre.contract import Channel, IdentityKind, InboundMessage, ParseError
from carecentre.identities import InvalidAddress
from carecentre.services import Services, services
from carecentre.states import DeliveryStatus
from carecentre.templates import render
from carecentre.twilio.form import FormFields, decode_form
from carecentre.twilio.media_urls import is_allowed_media_url
from carecentre.twilio.signature import verify_form_bytes_signature, verify_signature
from channels.sms.keywords import Keyword
from channels.sms.ordering import ArrivalOrder
from channels.sms.parse import parse_sms_fields, parse_sms_form
from channels.sms.status import SmsStatus, parse_status_fields, parse_status_form

log = logging.getLogger(__name__)

OPTED_OUT_CODE = "21610"

# Twilio's statuses → ours. Early ones say nothing new once the API has accepted the message.
DELIVERY = {
    SmsStatus.SENT: DeliveryStatus.SENT,
    SmsStatus.DELIVERED: DeliveryStatus.DELIVERED,
    SmsStatus.PARTIALLY_DELIVERED: DeliveryStatus.DELIVERED,
    SmsStatus.READ: DeliveryStatus.READ,
    SmsStatus.UNDELIVERED: DeliveryStatus.UNDELIVERED,
    SmsStatus.FAILED: DeliveryStatus.FAILED,
    SmsStatus.CANCELED: DeliveryStatus.FAILED,
}


# The answer to almost every webhook, rendered once.
EMPTY_TWIML = str(MessagingResponse()).encode()


def twiml(response: MessagingResponse | None = None, status: int = 200) -> Response:
    body = EMPTY_TWIML if response is None else str(response)
    return Response(body, status_code=status, media_type="application/xml")


async def _verified_form(
    request: Request, svc: Services
) -> tuple[bytes, FormFields | None] | Response:
    """The raw body and its fields (``None``: not UTF-8), once the signature is verified; or
    the 403 to answer."""
    raw = await request.body()
    fields: FormFields | None = None
    token = svc.settings.twilio_auth_token.get_secret_value()
    public_url, path, query = svc.settings.public_base, request.url.path, request.url.query
    signature = request.headers.get("x-twilio-signature")
    try:
        fields = decode_form(raw)
    except ParseError:
        # Not UTF-8: malformed, but if Twilio signed it, it is kept (as failed) by the caller's
        # parse, like any other malformed payload.
        ok = verify_form_bytes_signature(
            auth_token=token,
            public_url=public_url,
            path=path,
            query=query,
            body=raw,
            signature=signature,
        )
    else:
        ok = verify_signature(
            auth_token=token,
            public_url=public_url,
            path=path,
            query=query,
            form=fields,
            signature=signature,
        )
    if not ok:
        # One line, without the body: it may be a resident's message sent to the wrong place.
        log.warning(
            "sms webhook %s refused: %s X-Twilio-Signature from %s",
            request.url.path,
            "invalid" if request.headers.get("x-twilio-signature") else "missing",
            request.client.host if request.client else "?",
        )
        return PlainTextResponse("signature check failed", status_code=403)
    return raw, fields


def _media_problem(message: InboundMessage, svc: Services) -> str | None:
    for attachment in message.attachments:
        if attachment.url and not is_allowed_media_url(
            attachment.url, api_base_url=str(svc.settings.twilio_api_url)
        ):
            return f"media URL on a host we never fetch from: {attachment.url[:200]}"
    return None


async def inbound(request: Request) -> Response:
    svc = services(request)
    verified = await _verified_form(request, svc)
    if isinstance(verified, Response):
        return verified
    raw, fields = verified
    arrival = svc.extras["sms.arrival"]
    assert isinstance(arrival, ArrivalOrder)
    sender = fields.getlist("From")[0].strip() if fields and fields.getlist("From") else ""
    async with arrival.turn(sender):
        return await _receive(svc, request, raw, fields)


async def _receive(
    svc: Services, request: Request, raw: bytes, fields: FormFields | None
) -> Response:
    content_type = request.headers.get("content-type", "")
    try:
        # The fields decoded for the signature check; a body that is not UTF-8 fails here.
        message = parse_sms_form(raw) if fields is None else parse_sms_fields(fields)
        problem = _media_problem(message, svc)
        if problem:
            raise ParseError(problem)
    except ParseError as error:
        await svc.pipeline.keep_unparsed(Channel.SMS, raw, str(error), content_type=content_type)
        return PlainTextResponse(f"malformed message: {error}", status_code=400)
    keyword = message.metadata.get("keyword")
    if keyword:
        raw_id = await svc.pipeline.store_raw(Channel.SMS, raw, content_type=content_type)
        try:
            return await _control(svc, raw_id, message, Keyword(keyword))
        except InvalidAddress as error:
            await svc.pipeline.settle(raw_id, "failed", str(error))
            return PlainTextResponse(f"malformed message: {error}", status_code=400)
    # Stored, then answered; filed on its ticket right after, in arrival order (the backlog).
    outcome = await svc.backlog.accept(Channel.SMS, raw, message, content_type=content_type)
    if outcome.error is not None:
        status = 500 if outcome.error.startswith("internal error") else 400
        return PlainTextResponse(f"message kept, not filed: {outcome.error}", status_code=status)
    return twiml()


def _env(svc: Services) -> Environment:
    env = svc.extras["sms.templates"]
    assert isinstance(env, Environment)
    return env


async def _control(
    svc: Services, raw_id: int, message: InboundMessage, keyword: Keyword
) -> Response:
    settings = svc.settings
    values = {
        "city": settings.city_name,
        "phone": settings.city_phone,
        "website": settings.city_website,
    }
    reply = MessagingResponse()
    if keyword in (Keyword.OPT_OUT, Keyword.OPT_IN):
        # Twilio confirms STOP and START itself; we only record them.
        await svc.residents.set_opt_out(
            IdentityKind.PHONE, message.sender, keyword is Keyword.OPT_OUT
        )
    elif keyword is Keyword.HELP:
        reply.message(render(_env(svc), "help.txt", settings.language, **values))
    else:
        # The resident's texts before this one are filed first: their ticket counts.
        await svc.backlog.settled()
        reference = message.reference_hint
        view = await svc.residents.status(IdentityKind.PHONE, message.sender, reference)
        reply.message(
            render(
                _env(svc),
                "status.txt",
                settings.language,
                found=view is not None,
                reference=view.reference if view else reference,
                status=view.status.value if view else None,
                **values,
            )
        )
    await svc.pipeline.settle(raw_id, f"control:{keyword.value}")
    return twiml(reply)


async def status_callback(request: Request) -> Response:
    svc = services(request)
    verified = await _verified_form(request, svc)
    if isinstance(verified, Response):
        return verified
    raw, fields = verified
    try:
        report = parse_status_form(raw) if fields is None else parse_status_fields(fields)
    except ParseError as error:
        log.warning("sms status callback refused: %s", error)
        return PlainTextResponse(f"malformed status callback: {error}", status_code=400)
    status = DELIVERY.get(report.status)
    if status is None:
        return twiml()
    reason = None
    if status in (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED):
        reason = report.error_message or (
            f"Twilio reported {report.status.value}"
            + (f" (error {report.error_code})" if report.error_code else "")
        )
    outcome = await svc.delivery.report(
        channel=Channel.SMS,
        provider_id=report.message_sid,
        status=status,
        error=reason,
        code=report.error_code,
        opted_out=report.error_code == OPTED_OUT_CODE,
    )
    if not outcome.found:
        log.info("sms status callback for unknown message %s", report.message_sid)
    return twiml()


routes = [
    Route("/webhooks/twilio/sms", inbound, methods=["POST"]),
    Route("/webhooks/twilio/sms/status", status_callback, methods=["POST"]),
]
