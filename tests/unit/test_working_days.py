"""Working-day arithmetic over the Indonesian calendar and one-off closures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import (
    WorkingCalendar,
    add_working_days,
    local_day,
    nth_working_day_after,
    working_days_between,
)
from infrastructure.calendars import HolidayCalendars

CALENDAR = HolidayCalendars().calendar()
ZONES = st.sampled_from(["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"])
INSTANTS = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
DAYS = st.integers(min_value=0, max_value=80)
PROPERTY = settings(max_examples=150, deadline=None)


@PROPERTY
@given(INSTANTS, st.integers(min_value=1, max_value=80), ZONES)
def test_adding_working_days_never_lands_on_a_closed_day(start, days, zone) -> None:
    due = add_working_days(start, days, CALENDAR, zone)
    assert CALENDAR.is_working_day(local_day(due, zone), zone)


@PROPERTY
@given(INSTANTS, DAYS, DAYS, ZONES)
def test_more_working_days_never_come_earlier(start, a, b, zone) -> None:
    low, high = sorted((a, b))
    assert add_working_days(start, low, CALENDAR, zone) <= add_working_days(
        start, high, CALENDAR, zone
    )


@PROPERTY
@given(INSTANTS, INSTANTS, DAYS, ZONES)
def test_a_later_start_never_gives_an_earlier_due(first, second, days, zone) -> None:
    early, late = sorted((first, second))
    assert add_working_days(early, days, CALENDAR, zone) <= add_working_days(
        late, days, CALENDAR, zone
    )


@PROPERTY
@given(INSTANTS, DAYS, DAYS, ZONES)
def test_adding_a_then_b_equals_adding_a_plus_b(start, a, b, zone) -> None:
    stepwise = add_working_days(add_working_days(start, a, CALENDAR, zone), b, CALENDAR, zone)
    assert stepwise == add_working_days(start, a + b, CALENDAR, zone)


@PROPERTY
@given(INSTANTS, DAYS, ZONES)
def test_working_days_between_start_and_due_is_what_was_added(start, days, zone) -> None:
    due = add_working_days(start, days, CALENDAR, zone)
    counted = working_days_between(local_day(start, zone), local_day(due, zone), CALENDAR, zone)
    assert counted == days


def wib(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC) - timedelta(hours=7)


def test_a_case_filed_on_sunday_starts_counting_on_monday() -> None:
    due = add_working_days(wib(2026, 11, 1), 3, CALENDAR, "Asia/Jakarta")  # Sunday
    assert due.date() == date(2026, 11, 4)  # Wednesday
    assert (due.hour, due.minute, due.second) == (23, 59, 59)
    assert due.utcoffset() == timedelta(hours=7)


def test_lebaran_holidays_and_cuti_bersama_are_skipped() -> None:
    # 2026: 18-24 March are Nyepi, Idul Fitri and joint leave (with a weekend inside).
    due = add_working_days(wib(2026, 3, 17), 1, CALENDAR, "Asia/Jakarta")
    assert due.date() == date(2026, 3, 25)


def test_the_day_is_read_in_the_units_own_time_zone() -> None:
    late_sunday_in_jakarta = datetime(2026, 11, 8, 16, 30, tzinfo=UTC)  # Mon 01:30 in Jayapura
    in_wib = add_working_days(late_sunday_in_jakarta, 1, CALENDAR, "Asia/Jakarta")
    in_wit = add_working_days(late_sunday_in_jakarta, 1, CALENDAR, "Asia/Jayapura")
    assert in_wib.date() == date(2026, 11, 9)
    assert in_wit.date() == date(2026, 11, 10)
    assert in_wit.utcoffset() == timedelta(hours=9)


def test_a_closure_counts_only_in_its_own_zone() -> None:
    closed = CALENDAR.with_closures("Asia/Makassar", frozenset({date(2026, 11, 10)}))
    start = wib(2026, 11, 9)
    assert add_working_days(start, 1, closed, "Asia/Makassar").date() == date(2026, 11, 11)
    assert add_working_days(start, 1, closed, "Asia/Jakarta").date() == date(2026, 11, 10)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError):
        add_working_days(datetime(2026, 11, 2), 1, WorkingCalendar(), "Asia/Jakarta")


def _walk_nth(day: date, days: int, zone: str) -> date:
    while days:
        day += timedelta(days=1)
        days -= CALENDAR.is_working_day(day, zone)
    return day


@PROPERTY
@given(st.dates(date(2024, 1, 1), date(2030, 12, 31)), DAYS, st.integers(0, 120), ZONES)
def test_the_ranked_index_agrees_with_walking_day_by_day(first, days, span, zone) -> None:
    last = first + timedelta(days=span)
    walked = sum(
        CALENDAR.is_working_day(first + timedelta(days=d), zone) for d in range(1, span + 1)
    )
    assert working_days_between(first, last, CALENDAR, zone) == walked
    assert nth_working_day_after(first, days, CALENDAR, zone) == _walk_nth(first, days, zone)
