"""The services one app runs on, built once in the lifespan and reached through the request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from carecentre.attachments import AttachmentStore
from carecentre.backlog import Backlog
from carecentre.db import Database
from carecentre.events import EventBus
from carecentre.hours import BusinessCalendar
from carecentre.ingest import Pipeline
from carecentre.metrics import Metrics
from carecentre.senders import SenderRegistry
from carecentre.settings import Settings

if TYPE_CHECKING:
    from carecentre.delivery import DeliveryReports
    from carecentre.fetches import AttachmentFetches
    from carecentre.outbox import Dispatcher
    from carecentre.residents import Residents
    from carecentre.supervision import Supervision


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: EventBus
    pipeline: Pipeline
    store: AttachmentStore
    metrics: Metrics
    senders: SenderRegistry
    dispatcher: Dispatcher
    residents: Residents
    delivery: DeliveryReports
    fetches: AttachmentFetches
    # Messages answered as soon as stored, filed on tickets right after (carecentre.backlog).
    backlog: Backlog
    # When the Customer Care Centre is open (CARECENTRE_HOURS_FILE): for menus, chat, SLAs.
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    # The SLA watcher and the auto-assigner (carecentre.supervision); set by build_services.
    supervision: Supervision | None = None
    extras: dict[str, object] = field(default_factory=dict)


def services(conn: HTTPConnection) -> Services:
    """The app's services, from a request or websocket."""
    found = conn.app.state.services
    assert isinstance(found, Services)
    return found
