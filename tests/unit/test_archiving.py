"""The missing-data rule: archived after N working days of silence, in the handling unit's
calendar; the archiver closes a case once, however many run at once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from application.archiving import SilenceArchiver
from application.complaints import Complaints
from domain.archiving import archive_due_at, is_due_for_archive
from domain.calendar import local_day
from domain.complaint import Complaint
from domain.service_levels import SlaPolicy
from domain.values import Actor
from domain.vocabulary import FollowUpAction, Outcome, Status
from infrastructure.calendars import HolidayCalendars
from infrastructure.clock import ManualClock
from infrastructure.reference_data import shipped_units
from tests.support import HEAD, INTAKE, MONDAY, POPO, build_complaints, new_case
from tests.unit.test_service_levels import ACTOR, received

CALENDAR = HolidayCalendars().calendar()
UNITS = shipped_units()
POLICY = SlaPolicy(version=1)
# Ten working days after Monday 2 November 2026 end on Monday 16 November.
END_WIB = datetime(2026, 11, 16, 16, 59, 59, 999999, tzinfo=UTC)
END_WITA = datetime(2026, 11, 16, 15, 59, 59, 999999, tzinfo=UTC)


def waiting(unit: str | None = None, at: datetime = MONDAY) -> Complaint:
    case = received(at=at)
    case.acknowledge(message="m", actor=ACTOR, at=at + timedelta(minutes=5))
    if unit is not None:
        case.route(to_unit=unit, note="n", assignee=None, actor=ACTOR, at=at + timedelta(minutes=6))
    case.follow_up(
        action=FollowUpAction.REQUEST_DATA,
        note="foto?",
        public=True,
        actor=ACTOR,
        at=at + timedelta(minutes=10),
    )
    return case


def test_a_case_is_due_after_the_last_instant_of_the_tenth_working_day() -> None:
    case = waiting()
    assert archive_due_at(case, POLICY, CALENDAR, UNITS.zone_of) == END_WIB
    assert not is_due_for_archive(case, POLICY, CALENDAR, UNITS.zone_of, END_WIB)
    assert is_due_for_archive(
        case, POLICY, CALENDAR, UNITS.zone_of, END_WIB + timedelta(microseconds=1)
    )


def test_the_handling_units_time_zone_counts() -> None:
    case = waiting("BBPOM-MAKASSAR")
    assert archive_due_at(case, POLICY, CALENDAR, UNITS.zone_of) == END_WITA


def test_the_policys_period_and_the_units_own_closures_count() -> None:
    case = waiting()
    short = SlaPolicy(version=1, archive_after_silence=1)
    assert archive_due_at(case, short, CALENDAR, UNITS.zone_of) == datetime(
        2026, 11, 3, 16, 59, 59, 999999, tzinfo=UTC
    )
    closed = CALENDAR.with_unit_closures("ULPK-PUSAT", frozenset({date(2026, 11, 10)}))
    assert archive_due_at(case, POLICY, closed, UNITS.zone_of) == END_WIB + timedelta(days=1)
    other_unit = CALENDAR.with_unit_closures("BBPOM-JAKARTA", frozenset({date(2026, 11, 10)}))
    assert archive_due_at(case, POLICY, other_unit, UNITS.zone_of) == END_WIB


def test_a_case_not_waiting_or_closed_is_never_due() -> None:
    case = waiting()
    case.record_complainant_reply(message="ini", actor=ACTOR, at=MONDAY + timedelta(hours=1))
    assert archive_due_at(case, POLICY, CALENDAR, UNITS.zone_of) is None
    assert not is_due_for_archive(
        case, POLICY, CALENDAR, UNITS.zone_of, END_WIB + timedelta(days=30)
    )
    other = waiting()
    other.close(outcome=Outcome.WITHDRAWN, answer="a", actor=ACTOR, at=MONDAY + timedelta(hours=1))
    assert archive_due_at(other, POLICY, CALENDAR, UNITS.zone_of) is None


def test_a_second_request_counts_from_itself() -> None:
    case = waiting()
    case.record_complainant_reply(message="ini", actor=ACTOR, at=MONDAY + timedelta(hours=1))
    case.follow_up(
        action=FollowUpAction.REQUEST_DATA,
        note="lagi",
        public=True,
        actor=ACTOR,
        at=MONDAY + timedelta(days=1),
    )
    assert archive_due_at(case, POLICY, CALENDAR, UNITS.zone_of) == END_WIB + timedelta(days=1)


@settings(max_examples=40, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 1), timezones=st.just(UTC)
    ),
    st.sampled_from(["ULPK-PUSAT", "BBPOM-MAKASSAR", "BBPOM-JAYAPURA"]),
    st.integers(min_value=1, max_value=20),
)
def test_the_due_instant_ends_a_working_day_exactly_n_working_days_after_the_request(
    start: datetime, unit: str, days: int
) -> None:
    case = waiting(None if unit == "ULPK-PUSAT" else unit, at=start)
    policy = SlaPolicy(version=1, archive_after_silence=days)
    due = archive_due_at(case, policy, CALENDAR, UNITS.zone_of)
    assert due is not None
    zone = UNITS.zone_of(unit)
    requested = local_day(case.pauses[-1].started, zone)
    day = local_day(due, zone)
    assert CALENDAR.is_working_day(day, zone)
    counted = sum(
        1
        for n in range(1, (day - requested).days + 1)
        if CALENDAR.is_working_day(requested + timedelta(days=n), zone)
    )
    assert counted == days
    assert not is_due_for_archive(case, policy, CALENDAR, UNITS.zone_of, due)
    assert is_due_for_archive(
        case, policy, CALENDAR, UNITS.zone_of, due + timedelta(microseconds=1)
    )


# --- the archiver --------------------------------------------------------------------------


@pytest.fixture
def app() -> Complaints:
    application = build_complaints(POPO, ManualClock(MONDAY))
    yield application
    application.close()


def waiting_in(app: Complaints) -> UUID:
    result = app.file_case(INTAKE, new_case())
    app.acknowledge(INTAKE, result.id, 1, message="m")
    app.follow_up(HEAD, result.id, 2, action=FollowUpAction.REQUEST_DATA, note="n", public=True)
    return result.id


def test_the_archiver_closes_a_silent_case_once_as_the_system(app: Complaints) -> None:
    case_id = waiting_in(app)
    archiver = SilenceArchiver(app, lambda: [case_id])
    assert archiver.tick(END_WIB) == []
    later = END_WIB + timedelta(minutes=1)
    assert archiver.tick(later) == [case_id]
    case: Complaint = app.repository.get(case_id)
    assert case.status == Status.CLOSED and case.outcome == Outcome.ARCHIVED_MISSING_DATA
    last = list(app.events.get(case_id))[-1]
    assert last.actor == Actor("system", None) and last.timestamp == later
    assert archiver.tick(later + timedelta(days=1)) == []
    assert app.repository.get(case_id).version == case.version


def test_an_archiver_that_lost_the_race_decides_again_on_what_was_stored(app: Complaints) -> None:
    case_id = waiting_in(app)
    stale: Complaint = app.repository.get(case_id)  # loaded before the other timer's close
    assert SilenceArchiver(app, lambda: [case_id]).tick(END_WIB + timedelta(hours=1)) == [case_id]

    class Late(SilenceArchiver):
        loads = 0

        def _load(self, case_id: UUID) -> Complaint | None:
            self.loads += 1
            return stale if self.loads == 1 else super()._load(case_id)

    late = Late(app, lambda: [case_id])
    assert late.tick(END_WIB + timedelta(hours=1)) == []
    assert late.loads == 2  # its save clashed; it loaded again and found the case closed
    closes = [e for e in app.events.get(case_id) if type(e).__name__ == "Closed"]
    assert len(closes) == 1


def test_a_case_the_read_model_still_shows_waiting_but_which_got_its_reply_stays_open(
    app: Complaints,
) -> None:
    case_id = waiting_in(app)
    app.record_complainant_reply(HEAD, case_id, 3, message="data")
    assert SilenceArchiver(app, lambda: [case_id]).tick(END_WIB + timedelta(days=5)) == []
    assert app.repository.get(case_id).status == Status.ACKNOWLEDGED
