"""Which business calendar a queue keeps: its own (``queue_settings.hours``) or the City's.

A queue's calendar is written in the same TOML-shaped mapping as the City's hours file (see
:mod:`carecentre.hours.config`). Built calendars are kept per configuration, so the holidays and
day intervals each one caches survive from one ticket to the next.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from carecentre.hours import BusinessCalendar, calendar_from_mapping
from carecentre.supervision_models import QueueSettings

# Distinct queue calendars in use; a handful in practice.
_KEEP = 64


class QueueCalendars:
    """The City's calendar, and each queue's own where it has one. One per app."""

    def __init__(self, city: BusinessCalendar) -> None:
        self.city = city
        self._built: OrderedDict[str, BusinessCalendar] = OrderedDict()

    def from_config(self, hours: Mapping[str, Any] | None) -> BusinessCalendar:
        """The calendar a queue's ``hours`` describe; the City's when there are none.

        Raises :class:`~carecentre.hours.CalendarConfigError` for a bad configuration (checked
        when it is saved, so only a hand-edited database row can get here).
        """
        if not hours:
            return self.city
        key = json.dumps(hours, sort_keys=True, default=str)
        found = self._built.get(key)
        if found is None:
            found = calendar_from_mapping(hours)
            self._built[key] = found
            if len(self._built) > _KEEP:
                self._built.popitem(last=False)
        else:
            self._built.move_to_end(key)
        return found

    def for_queue(self, session: Session, queue_id: int) -> BusinessCalendar:
        """The calendar of ``queue_id``, read in the caller's transaction."""
        settings = session.get(QueueSettings, queue_id)
        return self.from_config(settings.hours if settings is not None else None)
