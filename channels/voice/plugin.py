"""The phone channel as a plugin of the core app: webhooks, click-to-call, recordings.

The menu is read and checked at start-up (CARECENTRE_VOICE_MENU_FILE, default the demo menu
beside this module); a mistake stops start-up with one line naming the file and the field.
``make_plugin(now=...)`` takes the clock the menu reads business hours with, for tests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from carecentre.agent_calls import AgentCalls
from carecentre.call_log import CallLog
from carecentre.coltypes import utcnow
from carecentre.contract import Channel, InboundMessage
from carecentre.plugins import Plugin
from carecentre.services import Services
from carecentre.settings import Settings, SettingsError
from carecentre.twilio.form import decode_form
from carecentre.twilio.media_fetch import MediaFetcher, stop
from channels.voice import click_to_call, webhooks
from channels.voice.call_messages import callback_message
from channels.voice.dialer import Dialer
from channels.voice.ivr import Ivr
from channels.voice.menu import Action, ConnectMode, Menu, Option
from channels.voice.menu_config import MenuError, load_menu
from channels.voice.params import StepState
from channels.voice.service import EXTRAS_KEY, VoiceChannel
from channels.voice.twiml import Urls

log = logging.getLogger(__name__)

DEFAULT_MENU = Path(__file__).with_name("menu.toml")


def load_configured_menu(settings: Settings) -> Menu:
    path = settings.voice_menu_file or DEFAULT_MENU
    try:
        return load_menu(path)
    except MenuError as error:
        raise SettingsError(f"CARECENTRE_VOICE_MENU_FILE ({path}): {error}") from None


def _connects(options: tuple[Option, ...]) -> bool:
    return any(o.action is Action.CONNECT or _connects(o.options) for o in options)


def _parsers(channel: VoiceChannel) -> dict[str, Callable[[bytes, Mapping[str, Any]], Any]]:
    """Parsers of what can be replayed: the stored payload plus the URL state kept with it."""

    def voicemail(payload: bytes, meta: Mapping[str, Any]) -> InboundMessage:
        return channel.voicemail(decode_form(payload), StepState.parse(str(meta.get("query", ""))))

    def callback(payload: bytes, meta: Mapping[str, Any]) -> InboundMessage:
        state = StepState.parse(str(meta.get("query", "")))
        return callback_message(decode_form(payload), state, region=channel.region)

    return {"voicemail": voicemail, "callback": callback}


def make_plugin(*, now: Callable[[], datetime] = utcnow) -> Plugin:
    """The voice plugin; ``now`` is the clock for business hours and callback due times."""

    @asynccontextmanager
    async def lifespan(svc: Services) -> AsyncIterator[None]:
        settings = svc.settings
        menu = load_configured_menu(settings)
        dial = menu.connect is ConnectMode.DIAL
        if dial and not settings.voice_transfer_number and _connects(menu.options):
            log.warning(
                "voice: CARECENTRE_VOICE_TRANSFER_NUMBER is not set; callers who ask for "
                "a person are offered voicemail"
            )
        ivr = Ivr(
            menu,
            svc.calendar,
            Urls(settings.public_base),
            now=now,
            city=settings.city_name,
            transfer_number=settings.voice_transfer_number,
            region=settings.default_region,
        )
        channel = VoiceChannel(
            settings,
            menu,
            ivr,
            CallLog(svc.db, svc.bus),
            AgentCalls(svc.db, svc.bus, region=settings.default_region),
            now,
        )
        svc.extras[EXTRAS_KEY] = channel
        for kind, parser in _parsers(channel).items():
            svc.pipeline.register_parser(Channel.VOICE, parser, kind=kind)
        token = settings.twilio_auth_token.get_secret_value()
        if not token:
            # Without credentials nothing can be fetched or dialled; recordings keep their URL.
            yield
            return
        api_base_url = str(settings.twilio_api_url).rstrip("/")
        fetcher = MediaFetcher(
            svc.fetches,
            channel=Channel.VOICE,
            account_sid=settings.twilio_account_sid,
            auth_token=token,
            api_base_url=api_base_url,
            max_bytes=settings.media_max_bytes,
        )
        dialer = Dialer(
            account_sid=settings.twilio_account_sid, auth_token=token, api_base_url=api_base_url
        )
        channel.fetcher, channel.dialer = fetcher, dialer
        task = asyncio.create_task(fetcher.run_forever(), name="voice-recordings")
        try:
            yield
        finally:
            await stop(task)
            await dialer.aclose()

    return Plugin(
        name="voice",
        routes=[*click_to_call.routes, *webhooks.routes],
        lifespan=lifespan,
        api_paths=click_to_call.api_paths,
        api_outputs=[click_to_call.CallPlaced],
    )


plugin = make_plugin()
