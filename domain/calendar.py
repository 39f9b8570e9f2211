"""Working days (hari kerja): a calendar value and pure arithmetic over it.

The calendar is data built elsewhere (weekends, national holidays and cuti bersama, one-off
closures per time zone); here it is only consulted. A stage due "N working days after X" is due at
the last instant of the Nth working day after X's local calendar day; X's own day never counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

END_OF_DAY = time(23, 59, 59, 999999)
MAX_WORKING_DAYS = 3660  # ten years of working days: anything longer is a data error


@dataclass(frozen=True)
class WorkingCalendar:
    """Closed days: weekends, ``holidays`` everywhere, and ``closures`` per time zone."""

    holidays: frozenset[date] = frozenset()
    closures: Mapping[str, frozenset[date]] = field(default_factory=dict)

    def is_working_day(self, day: date, zone: str) -> bool:
        if day.weekday() >= 5 or day in self.holidays:
            return False
        return day not in self.closures.get(zone, frozenset())

    def with_closures(self, zone: str, days: frozenset[date]) -> WorkingCalendar:
        merged = dict(self.closures)
        merged[zone] = merged.get(zone, frozenset()) | days
        return WorkingCalendar(self.holidays, merged)


def local_day(instant: datetime, zone: str) -> date:
    if instant.tzinfo is None:
        raise ValueError("instants must carry a time zone")
    return instant.astimezone(ZoneInfo(zone)).date()


def nth_working_day_after(day: date, days: int, calendar: WorkingCalendar, zone: str) -> date:
    """The ``days``-th working day after ``day`` (``day`` itself never counts; 0 gives ``day``)."""
    if not 0 <= days <= MAX_WORKING_DAYS:
        raise ValueError(f"working days must be within 0..{MAX_WORKING_DAYS}, got {days}")
    current = day
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if calendar.is_working_day(current, zone):
            remaining -= 1
    return current


def end_of_day(day: date, zone: str) -> datetime:
    return datetime.combine(day, END_OF_DAY, tzinfo=ZoneInfo(zone))


def add_working_days(start: datetime, days: int, calendar: WorkingCalendar, zone: str) -> datetime:
    """The due instant of a stage ``days`` working days after ``start``, in ``zone``."""
    return end_of_day(nth_working_day_after(local_day(start, zone), days, calendar, zone), zone)


def working_days_between(first: date, last: date, calendar: WorkingCalendar, zone: str) -> int:
    """How many working days fall in the half-open span (first, last]; 0 when last <= first."""
    count = 0
    current = first
    while current < last:
        current += timedelta(days=1)
        if calendar.is_working_day(current, zone):
            count += 1
    return count
