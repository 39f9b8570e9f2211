"""The surveys read model: a row per surveyed case, the same live in any batch split as rebuilt."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.complaints import Complaints
from domain.complaint import Complaint
from domain.errors import ComplaintError
from domain.values import Actor
from infrastructure.clock import ManualClock
from infrastructure.event_log import ApplicationLog
from projections.runner import Binding, Runner
from projections.surveys.memory import MemorySurveyView
from projections.surveys.projection import SurveyProjection
from projections.surveys.view import SurveyQuery
from tests.support import MONDAY, POPO, build_complaints
from tests.support_history import CALENDARS, COMMANDS, POLICIES, UNIT_DIRECTORY, apply_step

# Survey steps also acknowledge and close the case they pick, so most histories hold surveys.

steps = st.lists(
    st.tuples(
        st.sampled_from((*COMMANDS, "survey", "survey", "close")),
        st.integers(0, 50),
        st.integers(0, 400),
        st.integers(0, 100),
    ),
    min_size=1,
    max_size=40,
)


def projection() -> SurveyProjection:
    return SurveyProjection(POLICIES.get, CALENDARS.calendar, UNIT_DIRECTORY.zone_of)


def survey_step(app: Complaints, clock: ManualClock, cases: list[UUID], step: tuple) -> None:
    _, pick, hours, variant = step
    if not cases:
        return
    clock.advance(timedelta(hours=hours))
    case_id = cases[pick % len(cases)]
    # Most random walks never close a case: bring this one to closed first (when it may be).
    apply_step(app, clock, cases, ("acknowledge", pick, 0, variant))
    apply_step(app, clock, cases, ("close", pick, 1, variant))
    case: Complaint = app.repository.get(case_id)
    scores = [1 + (variant + i * (variant % 7 + 1)) % 4 for i in range(9)]
    try:
        case.answer_survey(
            scores=scores, comment="komentar", actor=Actor("pelapor", None), at=clock.now()
        )
    except ComplaintError:
        return
    app.save(case)


def history(commands: list[tuple[Any, ...]]) -> tuple[Complaints, list[UUID]]:
    clock = ManualClock(MONDAY)
    app = build_complaints(POPO, clock)
    cases: list[UUID] = []
    for step in commands:
        if step[0] == "survey":
            survey_step(app, clock, cases, step)
        else:
            apply_step(app, clock, cases, step)
    return app, cases


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands=steps, splits=st.lists(st.integers(1, 7), min_size=1, max_size=10))
def test_live_batches_in_any_split_equal_a_rebuild_and_the_events(commands, splits) -> None:
    app, cases = history(commands)
    log = ApplicationLog(app)
    live = MemorySurveyView()
    binding = Binding(projection(), live)
    sizes = iter(splits * 100)
    while live.position() < log.head():
        Runner(log, [binding], batch_size=next(sizes, 3)).step()
    rebuilt = MemorySurveyView()
    Runner(log, [Binding(projection(), rebuilt)], batch_size=10_000).catch_up()
    everything = SurveyQuery()
    assert live.surveys(everything) == rebuilt.surveys(everything)
    rows = {r.id: r for r in live.surveys(everything)}
    for case_id in cases:
        events = list(app.events.get(case_id))
        surveys = [e for e in events if isinstance(e, Complaint.SurveyAnswered)]
        assert len(surveys) <= 1  # one survey per case
        if not surveys:
            assert case_id not in rows
            continue
        survey, row, case = surveys[0], rows[case_id], app.repository.get(case_id)
        local = survey.timestamp.astimezone(ZoneInfo(UNIT_DIRECTORY.zone_of(survey.unit)))
        assert (row.unit, row.answered_at, list(row.scores), row.flagged) == (
            survey.unit,
            survey.timestamp,
            survey.scores,
            1 in survey.scores,
        )
        assert (row.year, row.month, row.quarter) == (
            local.year,
            local.month,
            (local.month + 2) // 3,
        )
        assert (row.restricted, row.tracking_number) == (case.is_restricted, case.tracking_number)
    app.close()
