"""The composition root: the one place in the core that names the channels and the agent UI."""

from __future__ import annotations

from starlette.applications import Starlette

from carecentre.app import create_app
from carecentre.plugins import Plugin
from carecentre.settings import Settings


def plugins(settings: Settings) -> list[Plugin]:
    """Every channel and the agent UI, as plugins of the core app."""
    del settings
    from channels.sms.plugin import plugin as sms

    return [sms]


def build_app(settings: Settings, *, migrate: bool = True) -> Starlette:
    return create_app(settings, plugins=plugins(settings), migrate=migrate)
