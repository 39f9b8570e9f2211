"""Each stage's due instant and state, by DESIGN.md's rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

from domain.complaint import Complaint
from domain.service_levels import SlaPolicy, next_due, service_levels
from domain.values import Actor
from domain.vocabulary import Category, Channel, FollowUpAction, Kind, Outcome, Stage, StageState
from infrastructure.calendars import HolidayCalendars
from infrastructure.reference_data import shipped_units

CALENDAR = HolidayCalendars().calendar()
UNITS = shipped_units()
POLICY = SlaPolicy(version=1)
ACTOR = Actor("siti", "ULPK-PUSAT")
MONDAY_9_WIB = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


def received(kind: Kind = Kind.COMPLAINT, inspection: bool = False, at: datetime = MONDAY_9_WIB):
    return Complaint.receive(
        id=uuid4(),
        tracking_number="0000000000A",
        kind=kind,
        channel=Channel.WEB,
        category=Category.PANGAN_OLAHAN,
        subject="s",
        description="d",
        reporter=None,
        anonymous=False,
        confidential=False,
        needs_inspection=inspection,
        intake_unit="ULPK-PUSAT",
        received_at=at,
        external_ref=None,
        policy_version=1,
        request_fingerprint=None,
        actor=ACTOR,
        at=at,
    )


def stages_of(case: Complaint, now: datetime) -> dict[Stage, object]:
    return {s.stage: s for s in service_levels(case, POLICY, CALENDAR, UNITS.zone_of, now)}


def day(n: int, hour: int = 10) -> datetime:
    """Working day n of November 2026 at ``hour`` WIB (2 = Monday 2 November)."""
    return datetime(2026, 11, n, hour, tzinfo=UTC) - timedelta(hours=7)


def test_a_new_complaint_gets_the_default_periods() -> None:
    stages = stages_of(received(), day(2))
    assert stages[Stage.ACKNOWLEDGE].due_at.date() == date(2026, 11, 5)
    assert stages[Stage.ROUTE].due_at.date() == date(2026, 11, 5)
    assert stages[Stage.CLOSE].due_at.date() == date(2026, 11, 20)  # 14 HK
    assert Stage.FIRST_FOLLOW_UP not in stages  # starts with the first routing


def test_close_periods_depend_on_kind_and_inspection() -> None:
    info = stages_of(received(Kind.INFORMATION_REQUEST), day(2))[Stage.CLOSE]
    inspected = stages_of(received(inspection=True), day(2))[Stage.CLOSE]
    assert info.due_at.date() == date(2026, 11, 9)  # 5 HK
    # 60 HK from 2 Nov 2026 crosses Christmas (24-25 Dec) and New Year (1 Jan 2027).
    assert inspected.due_at.date() == date(2027, 1, 29)


def test_states_move_from_on_track_to_due_soon_to_breached() -> None:
    case = received()
    assert stages_of(case, day(3))[Stage.ACKNOWLEDGE].state == StageState.ON_TRACK
    assert stages_of(case, day(4))[Stage.ACKNOWLEDGE].state == StageState.DUE_SOON
    assert stages_of(case, day(5, 23))[Stage.ACKNOWLEDGE].state == StageState.DUE_SOON
    assert stages_of(case, day(6, 8))[Stage.ACKNOWLEDGE].state == StageState.BREACHED


def test_a_completed_stage_is_met_or_missed() -> None:
    on_time = received()
    on_time.acknowledge(message="ok", actor=ACTOR, at=day(3))
    late = received()
    late.acknowledge(message="ok", actor=ACTOR, at=day(9))
    assert stages_of(on_time, day(20))[Stage.ACKNOWLEDGE].state == StageState.MET
    assert stages_of(late, day(20))[Stage.ACKNOWLEDGE].state == StageState.MISSED


def test_first_follow_up_counts_from_the_latest_routing() -> None:
    case = received()
    case.acknowledge(message="ok", actor=ACTOR, at=day(2, 11))
    case.route(to_unit="DIT-REG-PANGAN", note="n", assignee=None, actor=ACTOR, at=day(3))
    case.route(to_unit="BBPOM-JAKARTA", note="n", assignee=None, actor=ACTOR, at=day(5))
    stage = stages_of(case, day(5, 12))[Stage.FIRST_FOLLOW_UP]
    assert stage.started_at == day(5)
    assert stage.due_at.date() == date(2026, 11, 12)  # 5 HK after Thursday 5 Nov


def test_rerouting_recomputes_open_stages_in_the_new_units_zone() -> None:
    case = received()
    case.acknowledge(message="ok", actor=ACTOR, at=day(2, 11))
    case.route(to_unit="BBPOM-JAYAPURA", note="n", assignee=None, actor=ACTOR, at=day(3))
    stages = stages_of(case, day(3, 12))
    assert stages[Stage.CLOSE].zone == "Asia/Jayapura"
    assert stages[Stage.CLOSE].due_at.utcoffset() == timedelta(hours=9)
    assert stages[Stage.ACKNOWLEDGE].zone == "Asia/Jakarta"  # done before the routing


def test_waiting_for_data_pauses_and_then_adds_the_days_it_lasted() -> None:
    case = received()
    case.acknowledge(message="ok", actor=ACTOR, at=day(2, 11))
    before = stages_of(case, day(2, 12))[Stage.CLOSE].due_at
    case.follow_up(
        action=FollowUpAction.REQUEST_DATA, note="foto?", public=True, actor=ACTOR, at=day(3)
    )
    assert stages_of(case, day(4))[Stage.CLOSE].state == StageState.PAUSED
    case.record_complainant_reply(message="foto", actor=ACTOR, at=day(6))
    after = stages_of(case, day(6, 12))[Stage.CLOSE]
    assert after.state == StageState.ON_TRACK
    # Paused from Tuesday 3 to Friday 6 November: 3 whole working days (4, 5, 6).
    assert (after.due_at.date() - before.date()).days >= 3
    assert after.due_at.date() == date(2026, 11, 25)


def test_a_reopened_case_gets_its_close_period_again_from_the_reopening() -> None:
    case = received(Kind.INFORMATION_REQUEST)
    case.acknowledge(message="ok", actor=ACTOR, at=day(2, 11))
    case.close(outcome=Outcome.ANSWERED, answer="a", actor=ACTOR, at=day(2, 12))
    assert stages_of(case, day(3))[Stage.CLOSE].state == StageState.MET
    case.reopen(reason="keberatan", actor=ACTOR, at=day(10))
    close = stages_of(case, day(10, 12))[Stage.CLOSE]
    assert close.started_at == day(10)
    assert close.due_at.date() == date(2026, 11, 17)


def test_a_first_contact_answer_reopened_is_due_for_routing_from_the_reopening() -> None:
    case = received(Kind.INFORMATION_REQUEST)
    case.acknowledge(message="ok", actor=ACTOR, at=day(2, 11))
    case.close(outcome=Outcome.ANSWERED, answer="a", actor=ACTOR, at=day(2, 12))
    case.reopen(reason="keberatan", actor=ACTOR, at=day(20))
    route = stages_of(case, day(20, 12))[Stage.ROUTE]
    assert route.started_at == day(20)
    assert route.state == StageState.ON_TRACK


def test_first_contact_resolution_has_no_routing_stages() -> None:
    case = received(Kind.INFORMATION_REQUEST)
    case.acknowledge(message="ok", actor=ACTOR, at=day(2, 11))
    case.close(outcome=Outcome.ANSWERED, answer="a", actor=ACTOR, at=day(2, 12))
    stages = stages_of(case, day(3))
    assert set(stages) == {Stage.ACKNOWLEDGE, Stage.CLOSE}
    assert next_due(list(stages.values())) is None


def test_next_due_is_the_earliest_open_stage() -> None:
    case = received()
    stages = service_levels(case, POLICY, CALENDAR, UNITS.zone_of, day(2))
    assert next_due(stages).stage in (Stage.ACKNOWLEDGE, Stage.ROUTE)
