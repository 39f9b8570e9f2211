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
    # One-off closures of a single unit's office, on top of its zone's calendar.
    unit_closures: Mapping[str, frozenset[date]] = field(default_factory=dict)
    # Per zone, a running count of working days: counting becomes a subtraction, not a walk.
    _ranks: dict[str, _WorkingDayIndex] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    _per_unit: dict[str, WorkingCalendar] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def is_working_day(self, day: date, zone: str) -> bool:
        if day.weekday() >= 5 or day in self.holidays:
            return False
        return day not in self.closures.get(zone, frozenset())

    def index(self, zone: str) -> _WorkingDayIndex:
        found = self._ranks.get(zone)
        if found is None:
            found = self._ranks[zone] = _WorkingDayIndex(self, zone)
        return found

    def with_closures(self, zone: str, days: frozenset[date]) -> WorkingCalendar:
        merged = dict(self.closures)
        merged[zone] = merged.get(zone, frozenset()) | days
        return WorkingCalendar(self.holidays, merged, self.unit_closures)

    def with_unit_closures(self, unit: str, days: frozenset[date]) -> WorkingCalendar:
        merged = dict(self.unit_closures)
        merged[unit] = merged.get(unit, frozenset()) | days
        return WorkingCalendar(self.holidays, self.closures, merged)

    def for_unit(self, unit: str, zone: str) -> WorkingCalendar:
        """The calendar a unit in ``zone`` counts with: its zone's, plus its own closures."""
        own = self.unit_closures.get(unit)
        if not own:
            return self
        found = self._per_unit.get(unit)
        if found is None:
            found = self._per_unit[unit] = WorkingCalendar(self.holidays).with_closures(
                zone, self.closures.get(zone, frozenset()) | own
            )
        return found


INDEX_FIRST = date(1990, 1, 1)
INDEX_LAST = date(2100, 12, 31)


class _WorkingDayIndex:
    """Working days of one zone between INDEX_FIRST and INDEX_LAST, ranked."""

    def __init__(self, calendar: WorkingCalendar, zone: str) -> None:
        self.base = INDEX_FIRST.toordinal()
        self.last = INDEX_LAST.toordinal()
        self.rank: list[int] = []  # rank[d - base]: working days on or before day d
        self.working: list[int] = []  # ordinals of the working days, in order
        count = 0
        for ordinal in range(self.base, self.last + 1):
            if calendar.is_working_day(date.fromordinal(ordinal), zone):
                count += 1
                self.working.append(ordinal)
            self.rank.append(count)

    def covers(self, first: date, last: date) -> bool:
        return self.base <= first.toordinal() and last.toordinal() <= self.last

    def between(self, first: date, last: date) -> int:
        return self.rank[last.toordinal() - self.base] - self.rank[first.toordinal() - self.base]

    def nth_after(self, day: date, days: int) -> date | None:
        """The ``days``-th working day after ``day``; None beyond the indexed years."""
        position = self.rank[day.toordinal() - self.base] + days - 1
        if position >= len(self.working):
            return None
        return date.fromordinal(self.working[position])


def local_day(instant: datetime, zone: str) -> date:
    if instant.tzinfo is None:
        raise ValueError("instants must carry a time zone")
    return instant.astimezone(ZoneInfo(zone)).date()


def nth_working_day_after(day: date, days: int, calendar: WorkingCalendar, zone: str) -> date:
    """The ``days``-th working day after ``day`` (``day`` itself never counts; 0 gives ``day``)."""
    if not 0 <= days <= MAX_WORKING_DAYS:
        raise ValueError(f"working days must be within 0..{MAX_WORKING_DAYS}, got {days}")
    if days == 0:
        return day
    index = calendar.index(zone)
    if index.covers(day, day):
        found = index.nth_after(day, days)
        if found is not None:
            return found
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
    if last <= first:
        return 0
    index = calendar.index(zone)
    if index.covers(first, last):
        return index.between(first, last)
    count = 0
    current = first
    while current < last:
        current += timedelta(days=1)
        if calendar.is_working_day(current, zone):
            count += 1
    return count
