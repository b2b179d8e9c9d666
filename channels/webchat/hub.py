"""The in-process hub: which chat sockets are open for which conversation, and fan-out to them.

Entries are pushed to every socket of their conversation (a resident with two tabs sees both);
each socket puts them in order itself (see :class:`channels.webchat.connection.ChatConnection`).
The hub only knows this process's sockets: whether the resident is "still there" is decided
here, by the process that runs the chat sender (the dispatcher inside ``serve``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from carecentre.chat_service import TypingSignal
from carecentre.coltypes import utcnow
from carecentre.conversations import ConversationView, EntryView
from channels.webchat import server_frames

LEFT_CAP = 100_000


class Member(Protocol):
    """What the hub needs of a connection."""

    conversation_id: int | None
    ticket_id: int | None

    def deliver(self, entries: Iterable[EntryView]) -> None: ...

    def send(self, frame: dict[str, Any]) -> None: ...

    def adopt(self, view: ConversationView) -> None: ...


class Hub:
    def __init__(self) -> None:
        self._rooms: dict[int, set[Member]] = defaultdict(set)
        self._left: dict[int, datetime] = {}
        self._last_availability: dict[str, Any] | None = None

    def join(self, member: Member) -> None:
        assert member.conversation_id is not None
        self._rooms[member.conversation_id].add(member)

    def leave(self, member: Member) -> None:
        if member.conversation_id is None:
            return
        room = self._rooms.get(member.conversation_id)
        if room is not None:
            room.discard(member)
            if not room:
                del self._rooms[member.conversation_id]
                if len(self._left) >= LEFT_CAP:
                    self._left.clear()  # only the reconnect grace needs these
                self._left[member.conversation_id] = utcnow()

    def left_at(self, conversation_id: int) -> datetime | None:
        """When the conversation's last socket in this process closed."""
        return self._left.get(conversation_id)

    def members(self, conversation_id: int) -> tuple[Member, ...]:
        return tuple(self._rooms.get(conversation_id, ()))

    def is_live(self, conversation_id: int) -> bool:
        return bool(self._rooms.get(conversation_id))

    @property
    def connection_count(self) -> int:
        return sum(len(room) for room in self._rooms.values())

    def publish(self, conversation_id: int, entries: list[EntryView]) -> int:
        """Push entries to the conversation's sockets; returns how many sockets got them."""
        room = tuple(self._rooms.get(conversation_id, ()))
        for member in room:
            member.deliver(entries)
        return len(room)

    def broadcast(self, conversation_id: int, frame: dict[str, Any]) -> None:
        for member in tuple(self._rooms.get(conversation_id, ())):
            member.send(frame)

    def on_typing(self, signal: TypingSignal) -> None:
        """An agent typing on a chat ticket: tell that conversation's sockets (never stored)."""
        if signal.who != "agent":
            return
        frame = server_frames.typing("agent", signal.active, signal.name)
        for room in tuple(self._rooms.values()):
            for member in tuple(room):
                if member.ticket_id == signal.ticket_id:
                    member.send(frame)

    def set_availability(self, frame: dict[str, Any]) -> bool:
        """Send a changed availability to every socket; True if it changed."""
        if frame == self._last_availability:
            return False
        self._last_availability = frame
        for room in tuple(self._rooms.values()):
            for member in tuple(room):
                member.send(frame)
        return True
