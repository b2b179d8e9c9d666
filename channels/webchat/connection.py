"""One resident's chat socket: ``hello``, the pre-chat step, messages, typing and ``end``.

Frames the server cannot use are answered with an ``error`` frame and the socket stays open.
Nothing is stored for a refused frame. What the socket sends goes out in order through
:class:`~channels.webchat.ordered.OrderedOutput`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from starlette.websockets import WebSocket

from carecentre.chat_models import ChatStatus
from carecentre.chat_service import TypingSignal
from carecentre.contract import Channel, IdentityKind
from carecentre.conversations import ConversationView, EntryView
from carecentre.identities import InvalidAddress, normalize
from channels.webchat import server_frames
from channels.webchat.frames import End, Frame, FrameError, Hello, Ping, Say, Start, Typing, decode
from channels.webchat.limits import frame_bucket, message_bucket
from channels.webchat.ordered import OrderedOutput
from channels.webchat.parse import context
from channels.webchat.runtime import ChatRuntime
from channels.webchat.wording import TOPIC_SLUGS, TOPICS

log = logging.getLogger(__name__)

HELLO_TIMEOUT = 30.0
INTERNAL = {
    "type": "error",
    "code": "internal",
    "message": "something went wrong on our side; nothing you sent is lost, please try again",
}


class ChatConnection(OrderedOutput):
    def __init__(self, websocket: WebSocket, rt: ChatRuntime) -> None:
        super().__init__(websocket)
        self.rt = rt
        self.settings = rt.svc.settings
        self.address = websocket.client.host if websocket.client else "unknown"
        self.view: ConversationView | None = None
        self.conversation_id: int | None = None
        self.ticket_id: int | None = None
        self.frames = frame_bucket()
        self.messages = message_bucket(self.settings.chat_messages_per_minute)

    # -- what the hub calls ---------------------------------------------------------------

    def adopt(self, view: ConversationView) -> None:
        self.view = view
        self.conversation_id = view.id
        self.ticket_id = view.ticket_id

    # -- the socket's life ----------------------------------------------------------------

    async def run(self) -> None:
        tasks = [asyncio.create_task(self.write(), name="chat-writer")]
        try:
            if await self._greet():
                tasks.append(asyncio.create_task(self.pump(), name="chat-pump"))
                await self._serve()
        finally:
            self.rt.hub.leave(self)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _greet(self) -> bool:
        """Wait for a usable ``hello``; False when the socket closed or never said it."""
        deadline = asyncio.get_running_loop().time() + HELLO_TIMEOUT
        while self.conversation_id is None:
            try:
                async with asyncio.timeout_at(deadline):
                    message = await self.ws.receive()
            except TimeoutError:
                await self.ws.close(1008, "send hello first")
                return False
            if message["type"] == "websocket.disconnect":
                return False
            try:
                frame = self._decode(message)
                if not isinstance(frame, Hello):
                    raise FrameError("hello_required", "the first frame must be hello")
                await self._hello(frame)
            except FrameError as error:
                self.send(error.to_frame())
            except Exception:
                log.exception("chat: hello failed")
                self.send(INTERNAL)
        return True

    async def _serve(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            try:
                await self._handle(self._decode(message), message)
            except FrameError as error:
                self.send(error.to_frame())
            except Exception:
                log.exception("chat: a frame failed on conversation %s", self.conversation_id)
                self.send(INTERNAL)

    def _decode(self, message: Mapping[str, Any]) -> Frame:
        # Decoded first (it is bounded by the frame size), so a refused message names its id.
        frame = decode(
            message.get("text"), message.get("bytes"), max_bytes=self.settings.chat_max_frame_bytes
        )
        wait = self.frames.take()
        if wait:
            raise FrameError(
                "rate_limited",
                "too many frames; slow down",
                client_id=frame.client_id if isinstance(frame, Say) else None,
                retry_after=wait,
            )
        return frame

    async def _handle(self, frame: Frame, message: Mapping[str, Any]) -> None:
        if isinstance(frame, Hello):
            raise FrameError("already_greeted", "this socket has already said hello")
        if isinstance(frame, Ping):
            self.send({"type": "pong"})
        elif isinstance(frame, Start):
            await self._start(frame)
        elif isinstance(frame, Say):
            await self._say(frame, message["text"])
        elif isinstance(frame, Typing):
            if self.ticket_id is not None:
                self.rt.chat.typing.publish(TypingSignal(self.ticket_id, "resident", frame.active))
        elif isinstance(frame, End):
            await self._end(frame)

    # -- frames ---------------------------------------------------------------------------

    async def _hello(self, frame: Hello) -> None:
        chat = self.rt.chat
        if frame.token is not None:
            view, expired = await chat.resume(frame.token)
            if view is None:
                raise FrameError(
                    "token_unknown", "this chat cannot be resumed; say hello without a token"
                )
            if expired:
                raise FrameError(
                    "token_expired", "this chat has expired; say hello without a token"
                )
            token, resumed = frame.token, True
        else:
            wait = self.rt.address_limits.take(self.address)
            if wait:
                raise FrameError("rate_limited", "too many new chats", retry_after=wait)
            token, view = await chat.create(frame.language or self.settings.language)
            resumed = False
        found = await chat.availability()
        self.adopt(view)
        self.send(
            server_frames.welcome(
                token=token, view=view, resumed=resumed, found=found, topics=TOPICS
            )
        )
        # A client claiming more than exists gets everything after what does.
        self.sent_seq = min(frame.last_seq, view.last_seq) if resumed else 0
        self.rt.hub.join(self)
        if view.last_seq > self.sent_seq:
            self.catch_up()

    async def read_after(self, after: int) -> list[EntryView]:
        assert self.conversation_id is not None
        return await self.rt.chat.entries_after(self.conversation_id, after)

    def _current(self) -> ConversationView:
        assert self.view is not None
        return self.view

    async def _start(self, frame: Start) -> None:
        view = self._current()
        if view.status is not ChatStatus.PRECHAT:
            raise FrameError("already_started", "this chat has already started")
        if frame.topic not in TOPIC_SLUGS:
            raise FrameError("invalid_field", "choose one of the topics", field="topic")
        for kind, field, value in (
            (IdentityKind.EMAIL, "email", frame.email),
            (IdentityKind.PHONE, "phone", frame.phone),
        ):
            if value:
                try:
                    normalize(kind, value, region=self.settings.default_region)
                except InvalidAddress:
                    raise FrameError(
                        "invalid_field", f"that {field} is not valid", field=field
                    ) from None
        found = await self.rt.chat.availability()
        if not found.live and not (frame.email or frame.phone):
            raise FrameError(
                "follow_up_required",
                "no one can chat right now: leave an email or phone number for the answer",
                field="email",
            )
        try:
            view = await self.rt.chat.start(
                view.id,
                topic=frame.topic,
                language=frame.language or view.language,
                name=frame.name,
                email=frame.email,
                phone=frame.phone,
            )
        except ValueError as error:
            raise FrameError("already_started", str(error)) from None
        self._share(view)

    def _share(self, view: ConversationView) -> None:
        for member in self.rt.hub.members(view.id) or (self,):
            member.adopt(view)
        self.rt.hub.broadcast(view.id, server_frames.conversation_frame(view))

    async def _say(self, frame: Say, raw: str) -> None:
        view = self._current()
        if view.status is ChatStatus.PRECHAT:
            raise FrameError("not_started", "choose a topic first", client_id=frame.client_id)
        if view.status is ChatStatus.ENDED:
            raise FrameError("ended", "this chat has ended", client_id=frame.client_id)
        chat = self.rt.chat
        existing = await chat.entry_for_client(view.id, frame.client_id)
        if existing is not None:
            self.send(server_frames.entry(existing))  # a resend: the same entry, never a new one
            return
        wait = self.messages.take() or self.rt.address_limits.take(self.address)
        if wait:
            raise FrameError(
                "rate_limited",
                "you are sending messages too quickly; wait a moment",
                client_id=frame.client_id,
                retry_after=wait,
            )
        meta = context(
            conversation_id=view.id,
            chat_id=view.chat_id,
            topic=view.topic,
            name=view.name,
            language=view.language,
        )
        received = await self.rt.svc.pipeline.receive(
            Channel.CHAT, raw.encode(), content_type="application/json", meta=meta
        )
        if received.result is None:
            raise FrameError(
                "not_processed",
                "your message is kept but could not be added to the chat; please try again",
                client_id=frame.client_id,
            )
        result = received.result
        entry = await chat.record_resident(
            view.id,
            client_id=frame.client_id,
            body=frame.body,
            message_id=result.message_id,
            ticket_id=result.ticket_id,
        )
        if view.ticket_id is None:
            self._share(
                dataclasses.replace(view, ticket_id=result.ticket_id, reference=result.reference)
            )
        self.rt.hub.publish(view.id, [entry])

    async def _end(self, frame: End) -> None:
        view = self._current()
        email = frame.email or (view.follow_up_email if frame.transcript else None)
        if frame.transcript and not email:
            raise FrameError(
                "invalid_field", "give an email address for the transcript", field="email"
            )
        try:
            ended = await self.rt.chat.end(
                view.id, transcript_to=email, render=self.rt.wording.transcript
            )
        except InvalidAddress:
            raise FrameError("invalid_field", "that email is not valid", field="email") from None
        self._share(dataclasses.replace(view, status=ChatStatus.ENDED))
        if ended.notice is not None:
            self.rt.hub.publish(view.id, [ended.notice])
        outcome = "queued" if ended.transcript_message_id else None
        if ended.transcript_refused:
            outcome = "refused"
        self.send(server_frames.ended(outcome, ended.transcript_refused))
