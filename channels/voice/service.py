"""The phone channel's parts, built once in the plugin's lifespan and reached from requests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from carecentre.agent_calls import AgentCalls
from carecentre.call_log import CallLog
from carecentre.contract import InboundMessage
from carecentre.services import Services
from carecentre.settings import Settings
from carecentre.twilio.form import FormFields
from carecentre.twilio.media_fetch import MediaFetcher
from channels.voice.call_messages import voicemail_message
from channels.voice.dialer import Dialer
from channels.voice.ivr import Ivr
from channels.voice.menu import Menu
from channels.voice.params import StepState

EXTRAS_KEY = "voice"


@dataclass
class VoiceChannel:
    """The menu, its turns, the core services it writes to, and the Twilio clients (``None``
    without credentials)."""

    settings: Settings
    menu: Menu
    ivr: Ivr
    calls: CallLog
    agent_calls: AgentCalls
    now: Callable[[], datetime]
    fetcher: MediaFetcher | None = None
    dialer: Dialer | None = None

    @property
    def region(self) -> str:
        return self.settings.default_region

    def callback_due(self) -> datetime:
        """When a callback requested now is due: within CARECENTRE_VOICE_CALLBACK_WITHIN
        business hours, or by the end of the next business day."""
        calendar, now = self.ivr.calendar, self.now()
        within = self.settings.voice_callback_within
        if within is not None:
            return calendar.add_business_time(now, timedelta(hours=within))
        return calendar.end_of_next_business_day(now)

    def voicemail(self, form: FormFields, state: StepState) -> InboundMessage:
        transcribed = self.menu.language(state.lang).transcribe
        return voicemail_message(
            form,
            state,
            api_base_url=str(self.settings.twilio_api_url),
            transcribed=transcribed,
        )


def voice_channel(svc: Services) -> VoiceChannel:
    channel = svc.extras[EXTRAS_KEY]
    assert isinstance(channel, VoiceChannel)
    return channel
