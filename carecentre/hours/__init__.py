"""Business hours: when the Customer Care Centre is open, and time counted in open hours.

One :class:`BusinessCalendar` serves the phone menu (after-hours and holiday messages), the web
chat (honest availability) and SLAs (due times in business time)::

    from carecentre.hours import BusinessCalendar

    calendar = BusinessCalendar()  # Mon-Fri 08:30-16:30, America/Toronto, Ontario holidays
    calendar.closure_reason(now)  # None, or Closed(reason=HOLIDAY, label="Canada Day"), ...
    calendar.add_business_time(received_at, timedelta(hours=4))  # an SLA due time

Modules: :mod:`~carecentre.hours.business_calendar` (the calendar and its queries),
:mod:`~carecentre.hours.statutory` (public holidays), :mod:`~carecentre.hours.wall` (wall time
to instants across daylight-saving changes), :mod:`~carecentre.hours.config` (the settings
schema and loader).
"""

from carecentre.hours.business_calendar import (
    DEFAULT_TIMEZONE,
    DEFAULT_WEEKLY,
    MAX_CLOSED_DAYS,
    ONTARIO_HOLIDAYS,
    BusinessCalendar,
    Closed,
    ClosedDays,
    ClosedPeriod,
    ClosureReason,
)
from carecentre.hours.config import calendar_from_mapping, load_calendar
from carecentre.hours.errors import CalendarConfigError, NoOpenTimeError
from carecentre.hours.statutory import HolidayRules, ObservedRule
from carecentre.hours.wall import WEEKDAYS, OpenSpan

__all__ = [
    "DEFAULT_TIMEZONE",
    "DEFAULT_WEEKLY",
    "MAX_CLOSED_DAYS",
    "ONTARIO_HOLIDAYS",
    "WEEKDAYS",
    "BusinessCalendar",
    "CalendarConfigError",
    "Closed",
    "ClosedDays",
    "ClosedPeriod",
    "ClosureReason",
    "HolidayRules",
    "NoOpenTimeError",
    "ObservedRule",
    "OpenSpan",
    "calendar_from_mapping",
    "load_calendar",
]
