"""The working-day calendar: Indonesian holidays and cuti bersama, plus one-off closures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

import holidays

from domain.calendar import WorkingCalendar

FIRST_YEAR = 2000
LAST_YEAR = 2050


def national_closed_days(
    years: Iterable[int] = range(FIRST_YEAR, LAST_YEAR + 1),
) -> frozenset[date]:
    """Public holidays and government joint leave days (cuti bersama) in Indonesia."""
    calendar = holidays.country_holidays("ID", categories=("public", "government"), years=years)
    return frozenset(calendar.keys())


class HolidayCalendars:
    """The calendar the application consults; closures can be added while running."""

    def __init__(self, closures: Mapping[str, Iterable[date]] | None = None) -> None:
        calendar = WorkingCalendar(national_closed_days())
        for zone, days in (closures or {}).items():
            calendar = calendar.with_closures(zone, frozenset(days))
        self._calendar = calendar

    def calendar(self) -> WorkingCalendar:
        return self._calendar

    def add_closures(self, zone: str, days: Iterable[date]) -> None:
        self._calendar = self._calendar.with_closures(zone, frozenset(days))

    def add_unit_closures(self, unit: str, days: Iterable[date]) -> None:
        self._calendar = self._calendar.with_unit_closures(unit, frozenset(days))
