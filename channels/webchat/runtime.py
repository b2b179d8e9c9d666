"""What the chat's routes, sockets and sender share in one app: built in the plugin's lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from carecentre.chat_service import ChatService
from carecentre.services import Services, services
from channels.webchat.hub import Hub
from channels.webchat.limits import AddressLimits
from channels.webchat.origins import Origins
from channels.webchat.wording import Wording

EXTRAS_KEY = "webchat"


@dataclass
class ChatRuntime:
    svc: Services
    chat: ChatService
    wording: Wording
    origins: Origins
    hub: Hub = field(default_factory=Hub)
    address_limits: AddressLimits = field(init=False)

    def __post_init__(self) -> None:
        self.address_limits = AddressLimits(self.svc.settings.chat_address_per_minute)


def runtime(conn: HTTPConnection) -> ChatRuntime:
    found = services(conn).extras.get(EXTRAS_KEY)
    assert isinstance(found, ChatRuntime), "the webchat plugin is not running"
    return found
