"""Statutory holidays, from the ``holidays`` package, and which weekday stands in for a weekend one.

What counts, for the default Ontario rules (checked against ``holidays`` 0.109,
``country_holidays("CA", subdiv="ON")``, whose *public* category is exactly the nine public
holidays of Ontario's Employment Standards Act): New Year's Day, Family Day, Good Friday, Victoria
Day, Canada Day, Labour Day, Thanksgiving Day, Christmas Day and Boxing Day. Easter Monday, the
Civic Holiday (first Monday of August) and Remembrance Day are in the package's *optional*
category for Ontario; a City that closes on them lists them in :attr:`HolidayRules.optional`.

Only New Year's Day, Canada Day, Christmas Day and Boxing Day can fall on a weekend (the others
are defined as a Monday or a Friday). What closes then is :class:`ObservedRule`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Final

import holidays

from carecentre.hours.errors import CalendarConfigError

# Years scanned to check that a name in ``optional`` is one the package knows; fixed so that the
# check does not depend on today's date.
_NAME_CHECK_YEARS: Final = range(2020, 2031)


class ObservedRule(StrEnum):
    """Which weekday, if any, is closed in place of a holiday that falls on Saturday or Sunday."""

    NEXT_WEEKDAY = "next_weekday"
    """The next Monday-Friday that is not itself a holiday, for every holiday (the default).

    In the spirit of the ESA's substitute day: Canada Day on Saturday 1 July 2028 closes Monday
    3 July; Christmas on Sunday and Boxing Day on Monday (2033) close Tuesday 27 December.
    """

    PACKAGE = "package"
    """Whatever the ``holidays`` package marks "(observed)". For Ontario (0.109) it moves New
    Year's Day, Christmas and Boxing Day but never Canada Day, and when Christmas is on Sunday it
    puts the observed Christmas on Boxing Day itself, so one day fewer is closed."""

    NONE = "none"
    """Only the holiday's own date closes; a weekend holiday closes nothing extra."""


@dataclass(frozen=True, slots=True)
class HolidayRules:
    """Which public holidays close the calendar. The defaults are Ontario's."""

    country: str = "CA"
    subdiv: str | None = "ON"
    observed: ObservedRule = ObservedRule.NEXT_WEEKDAY
    optional: tuple[str, ...] = ()
    """Names from the package's optional category to close on too, e.g. ``"Civic Holiday"``."""
    language: str | None = "en_CA"
    """Language of the holiday names. ``None`` takes the package's default for the country; it is
    always passed explicitly because the package otherwise guesses from the process locale."""

    def validate(self, field: str = "holidays") -> None:
        """Raise :class:`CalendarConfigError` if the package does not know these rules."""
        try:
            entity = self._entity(2026, observed=False, categories=("public",))
        except NotImplementedError as error:
            where = f"{self.country}-{self.subdiv}" if self.subdiv else self.country
            raise CalendarConfigError(field, f"no holidays known for '{where}' ({error})") from None
        if self.language is not None and self.language not in entity.supported_languages:
            raise CalendarConfigError(
                f"{field}.language",
                f"'{self.language}' is not one of {', '.join(entity.supported_languages)}",
            )
        if self.optional:
            known = {
                name
                for year in _NAME_CHECK_YEARS
                for names in self._entity(year, False, ("optional",)).values()
                for name in names.split("; ")
            }
            for index, name in enumerate(self.optional):
                if name not in known:
                    raise CalendarConfigError(
                        f"{field}.optional[{index}]",
                        f"'{name}' is not an optional holiday here (known: "
                        f"{', '.join(sorted(known)) or 'none'})",
                    )

    def for_year(self, year: int) -> dict[date, str]:
        """The closed dates of ``year`` with their names (observed days included)."""
        if self.observed is ObservedRule.PACKAGE:
            return self._named(year, observed=True)
        if self.observed is ObservedRule.NONE:
            return self._named(year, observed=False)
        # A holiday late in December could move into January, so start from last year's too.
        actual = {**self._named(year - 1, observed=False), **self._named(year, observed=False)}
        closed = dict(actual)
        for day, name in sorted(actual.items()):
            if day.weekday() < 5:
                continue
            substitute = day + timedelta(days=1)
            # At most a week's look-ahead: a run of holidays never fills a whole week.
            for _ in range(7):
                if substitute.weekday() < 5 and substitute not in closed:
                    break
                substitute += timedelta(days=1)
            closed[substitute] = f"{name} (observed)"
        return {day: name for day, name in closed.items() if day.year == year}

    def _named(self, year: int, observed: bool) -> dict[date, str]:
        days = dict(self._entity(year, observed, ("public",)).items())
        if self.optional:
            for day, names in self._entity(year, observed, ("optional",)).items():
                wanted = [n for n in names.split("; ") if n.split(" (")[0] in self.optional]
                if wanted and day not in days:
                    days[day] = "; ".join(wanted)
        return days

    def _entity(
        self, year: int, observed: bool, categories: tuple[str, ...]
    ) -> holidays.HolidayBase:
        language = self.language
        if language is None:
            language = holidays.country_holidays(self.country, subdiv=self.subdiv).default_language
        return holidays.country_holidays(
            self.country,
            subdiv=self.subdiv,
            years=year,
            observed=observed,
            categories=categories,
            language=language,
        )
