"""The monev view's contract, the same on every store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from domain.complaint import Complaint
from infrastructure.views.monev import SqlMonevView
from projections.monev.memory import MemoryMonevView
from projections.monev.view import MonevChanges, MonevFact, Period
from tests.contract.conftest import view_on

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
Q4 = Period(2026, quarter=4)


@pytest.fixture
def view(store):
    return view_on(store, MemoryMonevView, SqlMonevView)


def fact(**overrides) -> MonevFact:
    fields = {
        "id": uuid4(),
        "received_at": T0,
        "year": 2026,
        "quarter": 4,
        "month": 11,
        "channel": "phone",
        "kind": "complaint",
        "category": "kosmetik",
        "intake_unit": "ULPK-PUSAT",
        "handling_unit": "ULPK-PUSAT",
        "restricted": False,
        "status": "received",
        "outcome": None,
        "duplicate": False,
        "followed_up": False,
        "days_to_acknowledge": None,
        "days_to_route": None,
        "days_to_close": None,
        "sla_acknowledge": "open",
        "sla_route": "open",
        "sla_first_follow_up": None,
        "sla_close": "open",
    }
    fields.update(overrides)
    return MonevFact(**fields)


def state_for(case_id: UUID) -> Complaint:
    """Any picklable stand-in works: the view keeps the state it is given."""
    case = Complaint.__new__(Complaint)
    case.__dict__["_id"] = case_id
    case.__dict__["subject"] = "state of " + str(case_id)
    return case


def commit(view, facts: list[MonevFact], position: int) -> None:
    view.commit(
        MonevChanges({f.id: f for f in facts}, {f.id: state_for(f.id) for f in facts}), position
    )


def by_id(facts: list[MonevFact]) -> list[MonevFact]:
    return sorted(facts, key=lambda f: str(f.id))


def test_a_new_view_is_at_position_zero_and_empty(view) -> None:
    assert view.position() == 0
    assert view.facts(Q4) == []
    assert view.facts_of([uuid4()]) == {}


def test_committed_facts_come_back_equal_with_their_position_and_state(view) -> None:
    closed = fact(
        status="closed",
        outcome="answered",
        followed_up=True,
        days_to_acknowledge=0,
        days_to_route=2,
        days_to_close=11,
        sla_acknowledge="met",
        sla_route="met",
        sla_first_follow_up="missed",
        sla_close="met",
        restricted=True,
    )
    commit(view, [closed], 7)
    assert view.position() == 7
    assert view.facts_of([closed.id]) == {closed.id: closed}
    assert view.facts(Q4) == [closed]
    assert view.case_states([closed.id])[closed.id].subject == f"state of {closed.id}"


def test_a_later_commit_replaces_a_fact(view) -> None:
    first = fact()
    commit(view, [first], 1)
    duplicate = replace(
        first, status="closed", outcome="duplicate", duplicate=True, handling_unit="BBPOM-JAKARTA"
    )
    commit(view, [duplicate], 2)
    assert view.facts(Q4) == [duplicate]
    assert view.facts(Q4, "ULPK-PUSAT") == [duplicate]  # still its intake unit


def test_a_position_not_after_the_current_one_is_refused_and_changes_nothing(view) -> None:
    commit(view, [fact()], 5)
    with pytest.raises(Exception):  # noqa: B017 - each store names its own error
        commit(view, [fact()], 5)
    assert view.position() == 5
    assert len(view.facts(Q4)) == 1


def test_facts_are_chosen_by_quarter_or_month_and_by_intake_or_handling_unit(view) -> None:
    november = fact()
    october_routed = fact(month=10, intake_unit="BBPOM-MAKASSAR", handling_unit="BBPOM-JAKARTA")
    december_jakarta = fact(month=12, intake_unit="BBPOM-JAKARTA", handling_unit="BBPOM-JAKARTA")
    last_year = fact(year=2025)
    next_quarter = fact(year=2027, quarter=1, month=1)
    commit(view, [november, october_routed, december_jakarta, last_year, next_quarter], 3)
    assert view.facts(Q4) == by_id([november, october_routed, december_jakarta])
    assert view.facts(Period(2026, month=10)) == [october_routed]
    assert view.facts(Q4, "BBPOM-JAKARTA") == by_id([october_routed, december_jakarta])
    assert view.facts(Q4, "BBPOM-MAKASSAR") == [october_routed]
    assert view.facts(Period(2025, quarter=4)) == [last_year]
    assert view.facts(Period(2027, quarter=1), "ULPK-PUSAT") == [next_quarter]
    assert view.facts(Period(2026, quarter=3)) == []
