"""The composition root: the one place in the core that names the channels and the agent UI."""

from __future__ import annotations

from starlette.applications import Starlette

from carecentre.app import create_app
from carecentre.plugins import Plugin
from carecentre.settings import Settings


def plugins(settings: Settings) -> list[Plugin]:
    """Every channel and the agent UI, as plugins of the core app."""
    del settings
    from agent_ui.plugin import plugin as agent_ui
    from channels.email.plugin import plugin as email
    from channels.sms.plugin import plugin as sms
    from channels.voice.plugin import plugin as voice
    from channels.webchat.plugin import plugin as webchat

    return [email, sms, voice, webchat, agent_ui]


def build_app(settings: Settings, *, migrate: bool = True) -> Starlette:
    # The mail receivers listen only in `serve`, never in a worker or a replay.
    from channels.email.plugin import receivers as email_receivers

    return create_app(settings, plugins=[*plugins(settings), email_receivers], migrate=migrate)
