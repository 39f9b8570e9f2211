"""The survey view's contract, the same on every store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from domain.complaint import Complaint
from infrastructure.views.surveys import SqlSurveyView
from projections.surveys.memory import MemorySurveyView
from projections.surveys.view import SurveyChanges, SurveyQuery, SurveyRow
from tests.contract.conftest import view_on

T0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
Q4 = SurveyQuery(year=2026, quarter=4)


@pytest.fixture
def view(store):
    return view_on(store, MemorySurveyView, SqlSurveyView)


def survey(**overrides) -> SurveyRow:
    fields = {
        "id": uuid4(),
        "tracking_number": "ADU2611ABCDEFGH",
        "unit": "ULPK-PUSAT",
        "answered_at": T0,
        "year": 2026,
        "quarter": 4,
        "month": 11,
        "scores": (4, 3, 3, 2, 4, 3, 4, 3, 4),
        "flagged": False,
        "restricted": False,
    }
    fields.update(overrides)
    return SurveyRow(**fields)


def state_for(case_id: UUID) -> Complaint:
    case = Complaint.__new__(Complaint)
    case.__dict__["_id"] = case_id
    case.__dict__["subject"] = "state of " + str(case_id)
    return case


def commit(
    view, rows: list[SurveyRow], position: int, restricted: dict[UUID, bool] | None = None
) -> None:
    view.commit(
        SurveyChanges(
            {r.id: r for r in rows},
            restricted or {},
            {r.id: state_for(r.id) for r in rows},
        ),
        position,
    )


def test_a_new_view_is_at_position_zero_and_empty(view) -> None:
    assert view.position() == 0
    assert view.surveys(Q4) == []
    assert view.count_restricted(Q4) == 0
    assert view.case_states([uuid4()]) == {}


def test_committed_rows_come_back_equal_with_their_position_and_state(view) -> None:
    row = survey(scores=(1, 2, 3, 4, 1, 2, 3, 4, 1), flagged=True, restricted=True)
    commit(view, [row], 9)
    assert view.position() == 9
    assert view.surveys(Q4) == [row]
    assert view.case_states([row.id])[row.id].subject == f"state of {row.id}"


def test_rows_are_chosen_by_year_quarter_unit_flag_and_restriction_newest_first(view) -> None:
    older = survey(answered_at=T0 - timedelta(days=40), month=10)
    newer = survey(answered_at=T0, flagged=True, scores=(1,) + (4,) * 8)
    jakarta = survey(unit="BBPOM-JAKARTA", answered_at=T0 + timedelta(hours=1))
    hidden = survey(restricted=True, flagged=True, answered_at=T0 - timedelta(days=1))
    last_year = survey(year=2025, answered_at=T0 - timedelta(days=365))
    first_quarter = survey(year=2027, quarter=1, month=2, answered_at=T0 + timedelta(days=90))
    commit(view, [older, newer, jakarta, hidden, last_year, first_quarter], 4)
    assert view.surveys(Q4) == [jakarta, newer, hidden, older]
    assert view.surveys(SurveyQuery(year=2026)) == [jakarta, newer, hidden, older]
    assert view.surveys(SurveyQuery(year=2026, quarter=4, unit="ULPK-PUSAT")) == [
        newer,
        hidden,
        older,
    ]
    assert view.surveys(replace(Q4, include_restricted=False)) == [jakarta, newer, older]
    assert view.surveys(replace(Q4, flagged_only=True)) == [newer, hidden]
    assert view.surveys(replace(Q4, flagged_only=True, include_restricted=False)) == [newer]
    assert view.count_restricted(replace(Q4, flagged_only=True)) == 1
    assert view.count_restricted(replace(Q4, unit="BBPOM-JAKARTA")) == 0
    assert view.surveys(replace(Q4, limit=2)) == [jakarta, newer]
    assert view.surveys(SurveyQuery()) == [
        first_quarter,
        jakarta,
        newer,
        hidden,
        older,
        last_year,
    ]


def test_a_same_instant_orders_by_id(view) -> None:
    rows = [survey() for _ in range(4)]
    commit(view, rows, 1)
    assert view.surveys(Q4) == sorted(rows, key=lambda r: str(r.id))


def test_a_later_commit_marks_a_row_restricted_or_replaces_it(view) -> None:
    row = survey()
    commit(view, [row], 1)
    commit(view, [], 2, {row.id: True})
    assert view.surveys(Q4) == [replace(row, restricted=True)]
    assert view.count_restricted(Q4) == 1
    commit(view, [], 3, {uuid4(): True})  # a case with no row: nothing happens
    assert len(view.surveys(Q4)) == 1
    again = replace(row, restricted=False, unit="BBPOM-JAKARTA")
    commit(view, [again], 4)
    assert view.surveys(Q4) == [again]


def test_a_position_not_after_the_current_one_is_refused_and_changes_nothing(view) -> None:
    commit(view, [survey()], 5)
    with pytest.raises(Exception):  # noqa: B017 - each store names its own error
        commit(view, [survey()], 5)
    assert view.position() == 5
    assert len(view.surveys(Q4)) == 1
