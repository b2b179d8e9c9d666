"""How channels and the agent UI plug into the app without the core importing them.

A plugin brings routes, and optionally a lifespan that runs with the app's services: there it
registers its parser and sender, and starts what it runs in the background (an SMTP receiver, an
IMAP poller). Only the composition root (``carecentre.composition``) names the plugins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from carecentre.services import Services

PluginLifespan = Callable[[Services], AbstractAsyncContextManager[None]]


@dataclass(frozen=True)
class Plugin:
    name: str
    routes: Sequence[BaseRoute] = ()
    lifespan: PluginLifespan | None = None
    middleware: Sequence[Middleware] = field(default_factory=tuple)
    # The OpenAPI path items of the plugin's routes under /api/v1 (keyed by the path below it),
    # and the request and response models their schemas refer to: the API document describes
    # every route the app serves there, the plugins' included.
    api_paths: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    api_inputs: Sequence[type[BaseModel]] = ()
    api_outputs: Sequence[type[BaseModel]] = ()
