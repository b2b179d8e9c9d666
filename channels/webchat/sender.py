"""The outbox's sender for chat: agents' replies reach the resident's open chat, or follow them.

Every reply becomes an entry of the conversation first, so a resident who comes back to the chat
sees it whatever happens next. Then:

- the resident's chat is open in this process: the reply is pushed to it; **delivered**;
- the resident dropped off less than CHAT_RECONNECT_GRACE ago: a transient error, so the outbox
  tries again shortly (a phone changing networks should not get an email as well);
- the resident is gone and gave an email (else a phone) for follow-up: the same reply is queued
  again on that channel through the outbox, and this chat copy is marked **failed** with the reason
  ("the resident had left the chat; sent by email to …"), so the ticket shows where it went;
- gone, with no address: **sent**, kept in the chat for when they come back; or **failed** if they
  ended the chat, since no one will ever read it there.
"""

from __future__ import annotations

from datetime import timedelta

from carecentre.chat_models import ChatStatus
from carecentre.chat_service import ChatService
from carecentre.coltypes import utcnow
from carecentre.contract import (
    Channel,
    OutboundMessage,
    PermanentSendError,
    SendResult,
    TransientSendError,
)
from channels.webchat.hub import Hub
from channels.webchat.wording import Wording

RESIDENT_LEFT = "resident_left"


class ChatSender:
    channel: Channel = Channel.CHAT

    def __init__(self, chat: ChatService, hub: Hub, wording: Wording, *, grace: float) -> None:
        self.chat = chat
        self.hub = hub
        self.wording = wording
        self.grace = timedelta(seconds=grace)

    async def send(self, message: OutboundMessage) -> SendResult:
        recorded = await self.chat.record_agent(chat_id=message.to, message_id=message.message_id)
        if recorded is None:
            raise PermanentSendError(f"no chat conversation has the address {message.to!r}")
        view, entries, _new = recorded
        provider_id = f"chat-{view.id}-{entries[-1].seq}"
        ended = view.status is ChatStatus.ENDED
        if not ended and self.hub.publish(view.id, entries):
            return SendResult(provider_id=provider_id, delivered=True)
        seen = max(filter(None, (view.last_seen_at, self.hub.left_at(view.id))), default=None)
        if not ended and seen is not None and utcnow() - seen < self.grace:
            raise TransientSendError("the resident is reconnecting to the chat")
        forwarded = await self.chat.forward(message.message_id, self.wording.forward)
        if forwarded is not None:
            how = "email" if forwarded.channel is Channel.EMAIL else "text message"
            raise PermanentSendError(
                f"the resident had left the chat; sent by {how} to {forwarded.address} instead",
                code=RESIDENT_LEFT,
            )
        if ended:
            raise PermanentSendError(
                "the resident ended the chat and left no email or phone to answer by",
                code=RESIDENT_LEFT,
            )
        return SendResult(provider_id=provider_id, delivered=False)
