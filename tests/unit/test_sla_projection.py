"""The SLA read model in memory: open stages follow the lifecycle; the timer and notifier."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.complaints import Complaints
from domain.calendar import local_day, working_days_between
from domain.service_levels import due_soon_from, service_levels
from domain.vocabulary import Category, Channel, FollowUpAction, Kind, Outcome, StageState
from infrastructure.calendars import HolidayCalendars
from infrastructure.clock import ManualClock
from infrastructure.event_log import ApplicationLog
from infrastructure.reference_data import PolicyBook, shipped_units
from projections.runner import Binding, Runner
from projections.sla.alerts import MemoryAlertStore, alert_id
from projections.sla.memory import MemorySlaView
from projections.sla.projection import SlaProjection
from projections.sla.timer import Notifier, SlaTimer
from projections.sla.view import SlaQuery
from tests.support import HEAD, INTAKE, MONDAY, POPO, build_complaints, new_case
from tests.support_history import COMMANDS, HEAD_ALL, apply_step

UNITS = shipped_units()
POLICIES = PolicyBook.shipped()
CALENDARS = HolidayCalendars()
WIB = ZoneInfo("Asia/Jakarta")


def sla_projection() -> SlaProjection:
    return SlaProjection(POLICIES.get, CALENDARS.calendar, UNITS.zone_of)


class Harness:
    """An application on plain objects, its SLA view, alert log and timer."""

    def __init__(self, app: Complaints, clock: ManualClock) -> None:
        self.app = app
        self.clock = clock
        self.alerts = MemoryAlertStore()
        self.view = MemorySlaView(self.alerts)
        self.binding = Binding(sla_projection(), self.view)
        self.timer = SlaTimer(lambda: self.view, self.alerts)

    def catch_up(self) -> MemorySlaView:
        Runner(ApplicationLog(self.app), [self.binding], batch_size=7).catch_up()
        return self.view

    def stages(self, case_id) -> dict[str, object]:
        return {row.stage: row for row in self.catch_up().stages(case_id)}


@pytest.fixture
def sla(clock: ManualClock) -> Iterator[Harness]:
    app = build_complaints(POPO, clock)
    yield Harness(app, clock)
    app.close()


def test_a_new_case_has_its_acknowledge_route_and_close_stages_open(sla: Harness) -> None:
    case = sla.app.file_case(INTAKE, new_case())
    stages = sla.stages(case.id)
    assert sorted(stages) == ["acknowledge", "close", "route"]
    acknowledge = stages["acknowledge"]
    assert acknowledge.unit == "ULPK-PUSAT" and acknowledge.zone == "Asia/Jakarta"
    # Filed on Monday 2 November 2026: three working days, the last one's final instant.
    assert acknowledge.due_at == datetime(2026, 11, 5, 23, 59, 59, 999999, tzinfo=WIB)
    assert acknowledge.due_soon_at == datetime(2026, 11, 4, tzinfo=WIB)
    assert not acknowledge.paused and not acknowledge.restricted


def test_stages_leave_the_view_as_they_are_completed_and_a_closed_case_has_none(
    sla: Harness,
) -> None:
    case = sla.app.file_case(INTAKE, new_case())
    done = sla.app.acknowledge(INTAKE, case.id, case.version, message="diterima")
    assert sorted(sla.stages(case.id)) == ["close", "route"]
    done = sla.app.route(
        INTAKE, case.id, done.version, to_unit="BBPOM-JAKARTA", note="periksa", assignee=None
    )
    stages = sla.stages(case.id)
    assert sorted(stages) == ["close", "first_follow_up"]
    assert {row.unit for row in stages.values()} == {"BBPOM-JAKARTA"}
    done = sla.app.follow_up(
        HEAD, case.id, done.version, action=FollowUpAction.CLARIFICATION, note="x", public=False
    )
    assert sorted(sla.stages(case.id)) == ["close"]
    done = sla.app.close_case(
        HEAD, case.id, done.version, outcome=Outcome.ANSWERED, answer="jawaban"
    )
    assert sla.stages(case.id) == {}
    sla.clock.advance(timedelta(days=2))
    sla.app.reopen(HEAD, case.id, done.version, reason="keberatan")
    reopened = sla.stages(case.id)
    assert sorted(reopened) == ["close"]
    # The close period counts again from the reopening.
    assert reopened["close"].due_at > stages["close"].due_at


def test_waiting_for_the_complainant_pauses_the_stages_and_the_wait_moves_them_later(
    sla: Harness,
) -> None:
    case = sla.app.file_case(INTAKE, new_case())
    done = sla.app.acknowledge(INTAKE, case.id, case.version, message="diterima")
    before = sla.stages(case.id)
    done = sla.app.follow_up(
        INTAKE, case.id, done.version, action=FollowUpAction.REQUEST_DATA, note="?", public=True
    )
    paused = sla.stages(case.id)
    assert all(row.paused for row in paused.values())
    sla.clock.advance(timedelta(days=14))  # far past every due instant: still no alert
    assert sla.view.flagged(SlaQuery(sla.clock.now(), include_restricted=True)) == []
    assert sla.timer.tick(sla.clock.now()) == []
    sla.app.record_complainant_reply(INTAKE, case.id, done.version, message="data")
    resumed = sla.stages(case.id)
    assert not any(row.paused for row in resumed.values())
    # Two weeks of waiting: the ten working days of the pause are added to each stage.
    for stage in ("route", "close"):
        calendar = CALENDARS.calendar()
        added = working_days_between(
            local_day(before[stage].due_at, "Asia/Jakarta"),
            local_day(resumed[stage].due_at, "Asia/Jakarta"),
            calendar,
            "Asia/Jakarta",
        )
        assert added == 10


def test_re_routing_recomputes_the_open_stages_in_the_new_units_time_zone(sla: Harness) -> None:
    case = sla.app.file_case(INTAKE, new_case())
    done = sla.app.acknowledge(INTAKE, case.id, case.version, message="diterima")
    sla.app.route(
        HEAD_ALL, case.id, done.version, to_unit="BBPOM-JAYAPURA", note="wilayah", assignee=None
    )
    stages = sla.stages(case.id)
    assert {row.unit for row in stages.values()} == {"BBPOM-JAYAPURA"}
    close = stages["close"]
    assert close.zone == "Asia/Jayapura"
    wit = close.due_at.astimezone(ZoneInfo("Asia/Jayapura"))
    assert (wit.hour, wit.minute) == (23, 59)
    assert close.due_soon_at == due_soon_from(close.due_at, CALENDARS.calendar(), "Asia/Jayapura")


def test_restricted_cases_are_flagged_only_for_callers_who_see_them(sla: Harness) -> None:
    wbs = sla.app.file_case(
        HEAD_ALL, new_case(channel=Channel.WBS, category=Category.ETIKA_PEGAWAI)
    )
    sla.catch_up()
    late = sla.clock.now() + timedelta(days=30)
    assert sla.view.flagged(SlaQuery(late)) == []
    flagged = sla.view.flagged(SlaQuery(late, include_restricted=True))
    assert {row.case_id for row in flagged} == {wbs.id}
    assert all(row.restricted for row in flagged)


def test_the_timer_raises_due_soon_then_breached_once_each(sla: Harness) -> None:
    case = sla.app.file_case(INTAKE, new_case(kind=Kind.INFORMATION_REQUEST))
    sla.catch_up()
    acknowledge = sla.view.stages(case.id)[0]
    assert acknowledge.stage == "acknowledge"
    just_before = acknowledge.due_soon_at - timedelta(microseconds=1)
    assert [a for a in sla.timer.tick(just_before) if a.stage == "acknowledge"] == []
    soon = sla.timer.tick(acknowledge.due_soon_at)
    assert {(a.stage, a.state) for a in soon} >= {("acknowledge", "due_soon")}
    assert sla.timer.tick(acknowledge.due_soon_at + timedelta(hours=1)) == []
    assert [a for a in sla.timer.tick(acknowledge.due_at) if a.stage == "acknowledge"] == []
    late = sla.timer.tick(acknowledge.due_at + timedelta(microseconds=1))
    [breach] = [a for a in late if a.stage == "acknowledge"]
    assert breach.state == "breached"
    assert breach.id == alert_id(case.id, "acknowledge", "breached", acknowledge.due_at)
    again = sla.timer.tick(acknowledge.due_at + timedelta(days=1))
    assert [a for a in again if a.stage == "acknowledge"] == []
    assert sla.timer.tick(acknowledge.due_at + timedelta(days=1)) == []


class FlakyReceiver:
    """Answers with the given statuses in turn (then 200), keeping what it was sent."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.seen: list[Mapping[str, str]] = []

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        self.seen.append(dict(headers))
        if self.statuses:
            status = self.statuses.pop(0)
            if status == 0:
                raise ConnectionRefusedError("nobody listens")
            return status
        return 200


def test_the_notifier_backs_off_after_failures_and_delivers_once_it_is_answered(
    sla: Harness,
) -> None:
    sla.app.file_case(INTAKE, new_case())
    sla.catch_up()
    now = sla.clock.now() + timedelta(days=30)
    raised = sla.timer.tick(now)
    assert raised
    receiver = FlakyReceiver([500, 0])
    notifier = Notifier(sla.alerts, receiver, "http://receiver.invalid/hook", batch_size=2)
    first = notifier.drain(now)
    assert first.delivered == len(raised) - 2 and first.failed == 2
    assert notifier.drain(now).delivered == 0  # the failed ones wait for their next attempt
    second = notifier.drain(now + timedelta(seconds=10))
    assert second.delivered == 2
    keys = {h["Idempotency-Key"] for h in receiver.seen}
    assert keys == {str(a.id) for a in raised}
    for alert in raised:
        entry = sla.alerts.delivery(alert.id)
        assert entry is not None and entry.delivered_at is not None


STAGE_ALERT_STATE = {
    StageState.DUE_SOON: "due_soon",
    StageState.BREACHED: "breached",
    StageState.ON_TRACK: None,
    StageState.PAUSED: None,
}

steps = st.lists(
    st.tuples(
        st.sampled_from(COMMANDS),
        st.integers(0, 50),
        st.integers(0, 72),
        st.integers(0, 100),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands=steps, later_hours=st.integers(0, 24 * 40))
def test_the_rows_state_at_any_later_instant_agrees_with_service_levels(
    commands, later_hours
) -> None:
    clock = ManualClock(MONDAY)
    app = build_complaints(POPO, clock)
    try:
        cases: list = []
        for step in commands:
            apply_step(app, clock, cases, step)
        harness = Harness(app, clock)
        view = harness.catch_up()
        now = clock.now() + timedelta(hours=later_hours)
        for case_id in cases:
            case = app.repository.get(case_id)
            rows = {row.stage: row for row in view.stages(case_id)}
            levels = service_levels(
                case, POLICIES.get(case.policy_version), CALENDARS.calendar(), UNITS.zone_of, now
            )
            open_levels = {s.stage.value: s for s in levels if s.completed_at is None}
            if not case.is_open:
                assert rows == {}
                continue
            assert set(rows) == set(open_levels)
            for name, row in rows.items():
                level = open_levels[name]
                assert row.paused == case.waiting_for_complainant
                assert row.state(now) == STAGE_ALERT_STATE[level.state]
                if not row.paused:
                    assert row.due_at == level.due_at
    finally:
        app.close()


@settings(max_examples=200, deadline=None)
@given(
    due_offset_days=st.integers(0, 400),
    now_offset_minutes=st.integers(-60 * 24 * 20, 60 * 24 * 2),
    zone=st.sampled_from(["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"]),
)
def test_due_soon_from_is_the_first_instant_a_stage_counts_as_due_soon(
    due_offset_days, now_offset_minutes, zone
) -> None:
    calendar = CALENDARS.calendar()
    due_day = (MONDAY + timedelta(days=due_offset_days)).astimezone(ZoneInfo(zone)).date()
    due_at = datetime.combine(due_day, datetime.max.time(), tzinfo=ZoneInfo(zone))
    now = (due_at + timedelta(minutes=now_offset_minutes)).astimezone(UTC)
    if now > due_at:
        return
    one_day_or_less = working_days_between(local_day(now, zone), due_day, calendar, zone) <= 1
    assert (now >= due_soon_from(due_at, calendar, zone)) == one_day_or_less


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands=steps, splits=st.lists(st.integers(1, 7), min_size=1, max_size=10))
def test_live_batches_in_any_split_give_the_same_stages_as_a_rebuild(commands, splits) -> None:
    clock = ManualClock(MONDAY)
    app = build_complaints(POPO, clock)
    try:
        cases: list = []
        for step in commands:
            apply_step(app, clock, cases, step)
        log = ApplicationLog(app)
        live = MemorySlaView()
        binding = Binding(sla_projection(), live)
        sizes = iter(splits * 100)
        while live.position() < log.head():
            Runner(log, [binding], batch_size=next(sizes, 3)).step()
        rebuilt = MemorySlaView()
        Runner(log, [Binding(sla_projection(), rebuilt)], batch_size=10_000).catch_up()
        assert live.position() == rebuilt.position() == log.head()
        for case_id in cases:
            assert live.stages(case_id) == rebuilt.stages(case_id)
    finally:
        app.close()
