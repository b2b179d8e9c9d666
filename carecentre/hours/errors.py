"""The errors a business calendar raises, so callers can catch them by kind."""

from __future__ import annotations


class CalendarConfigError(ValueError):
    """A calendar setting is wrong; the message starts with the field's path.

    For example ``hours.monday[0]: '17:00-08:30' ends before it starts``, so the person editing
    the configuration knows which line to fix.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class NoOpenTimeError(ValueError):
    """The calendar has no open time ahead, so a search for it would never end.

    Raised instead of looping: by a calendar with no weekly hours at all, or one whose closures
    cover more than :data:`~carecentre.hours.business_calendar.MAX_CLOSED_DAYS` days in a row.
    """
