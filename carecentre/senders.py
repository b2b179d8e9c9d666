"""The senders the outbox can hand messages to, one per channel."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from carecentre.contract import (
    Channel,
    OutboundMessage,
    PermanentSendError,
    Sender,
    SendResult,
    TransientSendError,
)


class SenderRegistry:
    def __init__(self) -> None:
        self._senders: dict[Channel, Sender] = {}

    def register(self, sender: Sender) -> None:
        self._senders[sender.channel] = sender

    def get(self, channel: Channel) -> Sender | None:
        return self._senders.get(channel)

    def channels(self) -> Mapping[Channel, Sender]:
        return dict(self._senders)


class RecordingSender:
    """Records what it is given; for tests and for trying CareCentre without any provider.

    ``fail_with`` makes the next sends raise, to exercise the outbox's retries.
    """

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.sent: list[OutboundMessage] = []
        self.fail_with: list[Exception] = []
        self.sent_event = asyncio.Event()

    async def send(self, message: OutboundMessage) -> SendResult:
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.sent.append(message)
        self.sent_event.set()
        return SendResult(provider_id=f"rec-{self.channel.value}-{message.message_id}")


__all__ = ["PermanentSendError", "RecordingSender", "SenderRegistry", "TransientSendError"]
