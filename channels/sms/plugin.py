"""The SMS channel as a plugin of the core app: routes, parser, acknowledgements, sender, media."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from carecentre.contract import AckContent, AckRequest, Channel, InboundMessage
from carecentre.ingest import IngestResult
from carecentre.plugins import Plugin
from carecentre.services import Services
from carecentre.templates import environment, render
from carecentre.twilio.media_fetch import MediaFetcher, stop
from channels.sms import segments_api, webhooks
from channels.sms.ordering import ArrivalOrder
from channels.sms.parse import parse_sms_form
from channels.sms.sender import TwilioSmsSender


def _parser(payload: bytes, _meta: Mapping[str, Any]) -> InboundMessage:
    return parse_sms_form(payload)


@asynccontextmanager
async def lifespan(svc: Services) -> AsyncIterator[None]:
    settings = svc.settings
    env = environment("channels.sms", settings.templates_dir)
    svc.extras["sms.templates"] = env
    svc.extras["sms.arrival"] = ArrivalOrder()

    def acknowledge(request: AckRequest) -> AckContent:
        body = render(
            env, "ack.txt", request.language, city=settings.city_name, reference=request.reference
        )
        return AckContent(body=body)

    svc.pipeline.register_parser(Channel.SMS, _parser)
    svc.pipeline.register_acknowledger(Channel.SMS, acknowledge)
    token = settings.twilio_auth_token.get_secret_value()
    if not token or not settings.twilio_sms_from:
        # Without credentials nothing can be sent or fetched; replies wait in the outbox.
        yield
        return
    sender = TwilioSmsSender(
        account_sid=settings.twilio_account_sid,
        auth_token=token,
        from_number=settings.twilio_sms_from,
        status_callback_url=f"{settings.public_base}/webhooks/twilio/sms/status",
        api_base_url=str(settings.twilio_api_url).rstrip("/"),
    )
    svc.senders.register(sender)
    fetcher = MediaFetcher(
        svc.fetches,
        channel=Channel.SMS,
        account_sid=settings.twilio_account_sid,
        auth_token=token,
        api_base_url=str(settings.twilio_api_url).rstrip("/"),
        max_bytes=settings.media_max_bytes,
    )
    svc.extras["sms.media"] = fetcher

    def fetch_media(message: InboundMessage, _result: IngestResult) -> None:
        if any(attachment.url and not attachment.data for attachment in message.attachments):
            fetcher.wake()

    svc.pipeline.register_followup(Channel.SMS, fetch_media)
    task = asyncio.create_task(fetcher.run_forever(), name="sms-media")
    try:
        yield
    finally:
        await stop(task)
        await sender.aclose()


plugin = Plugin(
    name="sms",
    routes=[*webhooks.routes, *segments_api.routes],
    lifespan=lifespan,
    api_paths=segments_api.api_paths,
    api_inputs=[segments_api.SegmentsIn],
    api_outputs=[segments_api.SegmentsOut],
)
