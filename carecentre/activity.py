"""Who is looking at a ticket right now, and who is writing a reply: ephemeral, never stored.

Each open ticket page registers a watcher; when someone starts or stops viewing or replying,
every other watcher of that ticket hears who is there. It lives in this process only: agents
served by another web process are not seen, which costs a missed hint, never data.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from carecentre.services import Services

log = logging.getLogger(__name__)
_EXTRA = "carecentre.activity"


class Watcher(Protocol):
    """An open agent socket."""

    agent_id: int
    agent_name: str

    async def deliver(self, frame: dict[str, Any]) -> None: ...


class TicketActivity:
    def __init__(self) -> None:
        self._tickets: dict[str, dict[Watcher, bool]] = {}
        self._where: dict[Watcher, str] = {}

    def present(self, reference: str) -> list[dict[str, Any]]:
        """The agents on a ticket, one entry each (replying if any of their pages is)."""
        agents: dict[int, dict[str, Any]] = {}
        for watcher, replying in self._tickets.get(reference, {}).items():
            entry = agents.setdefault(
                watcher.agent_id,
                {"id": watcher.agent_id, "name": watcher.agent_name, "replying": False},
            )
            entry["replying"] = entry["replying"] or replying
        return sorted(agents.values(), key=lambda a: str(a["name"]))

    async def view(self, watcher: Watcher, reference: str) -> None:
        """The watcher now shows ``reference`` (the caller checked it may see it)."""
        if self._where.get(watcher) == reference:
            await self._tell(reference, only=watcher)
            return
        await self.leave(watcher)
        self._where[watcher] = reference
        self._tickets.setdefault(reference, {})[watcher] = False
        await self._tell(reference)

    async def replying(self, watcher: Watcher, active: bool) -> None:
        reference = self._where.get(watcher)
        if reference is None or self._tickets[reference].get(watcher) == active:
            return
        self._tickets[reference][watcher] = active
        await self._tell(reference)

    async def leave(self, watcher: Watcher) -> None:
        reference = self._where.pop(watcher, None)
        if reference is None:
            return
        watchers = self._tickets.get(reference, {})
        watchers.pop(watcher, None)
        if not watchers:
            self._tickets.pop(reference, None)
        await self._tell(reference)

    async def _tell(self, reference: str, only: Watcher | None = None) -> None:
        everyone = self.present(reference)
        targets = [only] if only is not None else list(self._tickets.get(reference, {}))
        for watcher in targets:
            others = [a for a in everyone if a["id"] != watcher.agent_id]
            frame = {"type": "activity", "data": {"reference": reference, "agents": others}}
            try:
                await watcher.deliver(frame)
            except Exception:  # a socket closing meanwhile; it leaves on its own
                log.debug("activity: could not tell a watcher", exc_info=True)


def activity(svc: Services) -> TicketActivity:
    """The app's activity registry, made on first use."""
    found = svc.extras.get(_EXTRA)
    if not isinstance(found, TicketActivity):
        found = svc.extras[_EXTRA] = TicketActivity()
    return found
