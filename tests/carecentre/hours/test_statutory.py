from datetime import date

import pytest

from carecentre.hours.errors import CalendarConfigError
from carecentre.hours.statutory import HolidayRules, ObservedRule

ONTARIO = HolidayRules()

# Written out by hand (not from the package) so that a package update that changes a date fails.
ONTARIO_2026 = {
    date(2026, 1, 1): "New Year's Day",
    date(2026, 2, 16): "Family Day",
    date(2026, 4, 3): "Good Friday",
    date(2026, 5, 18): "Victoria Day",
    date(2026, 7, 1): "Canada Day",
    date(2026, 9, 7): "Labour Day",
    date(2026, 10, 12): "Thanksgiving Day",
    date(2026, 12, 25): "Christmas Day",
    date(2026, 12, 26): "Boxing Day",  # a Saturday
    date(2026, 12, 28): "Boxing Day (observed)",
}
ONTARIO_2027 = {
    date(2027, 1, 1): "New Year's Day",
    date(2027, 2, 15): "Family Day",
    date(2027, 3, 26): "Good Friday",
    date(2027, 5, 24): "Victoria Day",
    date(2027, 7, 1): "Canada Day",
    date(2027, 9, 6): "Labour Day",
    date(2027, 10, 11): "Thanksgiving Day",
    date(2027, 12, 25): "Christmas Day",  # a Saturday
    date(2027, 12, 26): "Boxing Day",  # a Sunday
    date(2027, 12, 27): "Christmas Day (observed)",
    date(2027, 12, 28): "Boxing Day (observed)",
}


@pytest.mark.parametrize(("year", "expected"), [(2026, ONTARIO_2026), (2027, ONTARIO_2027)])
def test_ontario_public_holidays(year: int, expected: dict[date, str]) -> None:
    assert ONTARIO.for_year(year) == expected


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 4, 6),  # Easter Monday
        date(2026, 8, 3),  # Civic Holiday
        date(2026, 9, 30),  # National Day for Truth and Reconciliation (federal only)
        date(2026, 11, 11),  # Remembrance Day
        date(2027, 3, 29),  # Easter Monday
        date(2027, 8, 2),  # Civic Holiday
        date(2027, 11, 11),  # Remembrance Day
    ],
)
def test_days_that_are_not_ontario_public_holidays(day: date) -> None:
    assert day not in ONTARIO.for_year(day.year)


@pytest.mark.parametrize(
    ("observed", "day", "name"),
    [
        # Canada Day 2028 is a Saturday.
        (ObservedRule.NEXT_WEEKDAY, date(2028, 7, 3), "Canada Day (observed)"),
        (ObservedRule.PACKAGE, date(2028, 7, 3), None),
        (ObservedRule.NONE, date(2028, 7, 3), None),
        # Canada Day 2029 is a Sunday.
        (ObservedRule.NEXT_WEEKDAY, date(2029, 7, 2), "Canada Day (observed)"),
        # New Year's Day 2028 is a Saturday.
        (ObservedRule.NEXT_WEEKDAY, date(2028, 1, 3), "New Year's Day (observed)"),
        (ObservedRule.PACKAGE, date(2028, 1, 3), "New Year's Day (observed)"),
        (ObservedRule.NONE, date(2028, 1, 3), None),
        # Christmas 2033 is a Sunday and Boxing Day a Monday: next weekday moves Christmas past
        # Boxing Day to Tuesday; the package puts both on Monday, leaving Tuesday open.
        (ObservedRule.NEXT_WEEKDAY, date(2033, 12, 26), "Boxing Day"),
        (ObservedRule.NEXT_WEEKDAY, date(2033, 12, 27), "Christmas Day (observed)"),
        (ObservedRule.PACKAGE, date(2033, 12, 27), None),
    ],
)
def test_weekend_holiday_observed_rules(
    observed: ObservedRule, day: date, name: str | None
) -> None:
    rules = HolidayRules(observed=observed)

    assert rules.for_year(day.year).get(day) == name


@pytest.mark.parametrize("observed", list(ObservedRule))
def test_the_holiday_itself_closes_under_every_rule(observed: ObservedRule) -> None:
    assert HolidayRules(observed=observed).for_year(2028)[date(2028, 7, 1)] == "Canada Day"


def test_optional_holidays_can_be_added_by_name() -> None:
    rules = HolidayRules(optional=("Civic Holiday", "Easter Monday"))

    days = rules.for_year(2026)

    assert days[date(2026, 8, 3)] == "Civic Holiday"
    assert days[date(2026, 4, 6)] == "Easter Monday"
    assert date(2026, 11, 11) not in days
    assert days[date(2026, 12, 25)] == "Christmas Day"


def test_optional_holiday_on_a_weekend_is_observed_too() -> None:
    # Remembrance Day 2028 is a Saturday.
    days = HolidayRules(optional=("Remembrance Day",)).for_year(2028)

    assert days[date(2028, 11, 13)] == "Remembrance Day (observed)"


def test_names_in_another_language() -> None:
    assert HolidayRules(language="fr").for_year(2026)[date(2026, 7, 1)] == "Fête du Canada"


def test_default_rules_are_valid() -> None:
    ONTARIO.validate()


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (HolidayRules(country="XX", subdiv=None), r"^holidays: no holidays known for 'XX'"),
        (HolidayRules(subdiv="ZZ"), r"^holidays: no holidays known for 'CA-ZZ'"),
        (HolidayRules(language="de"), r"^holidays\.language: 'de' is not one of .*en_CA"),
        (
            HolidayRules(optional=("Civic Holiday", "Civc Holiday")),
            r"^holidays\.optional\[1\]: 'Civc Holiday' is not an optional holiday here "
            r"\(known: .*Civic Holiday",
        ),
    ],
)
def test_invalid_rules_name_the_field(rules: HolidayRules, message: str) -> None:
    with pytest.raises(CalendarConfigError, match=message):
        rules.validate()
