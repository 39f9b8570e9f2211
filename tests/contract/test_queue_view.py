"""The queue view's contract, the same on every store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from domain.complaint import Complaint
from infrastructure.views.queues import SqlQueueView
from projections.queues.memory import MemoryQueueView
from projections.queues.view import QueueChanges, QueueItem, QueueQuery
from tests.contract.conftest import view_on

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def view(store):
    return view_on(store, MemoryQueueView, SqlQueueView)


def item(due_hours: int | None, **overrides) -> QueueItem:
    due = None if due_hours is None else T0 + timedelta(hours=due_hours)
    fields = {
        "id": uuid4(),
        "tracking_number": "ABCDEFGHJK1",
        "status": "received",
        "kind": "complaint",
        "category": "kosmetik",
        "channel": "phone",
        "subject": "Krim",
        "received_at": T0,
        "intake_unit": "ULPK-PUSAT",
        "handling_unit": "ULPK-PUSAT",
        "assignee": None,
        "restricted": False,
        "confidential": False,
        "waiting_for_complainant": False,
        "next_stage": "acknowledge" if due else None,
        "next_due_at": due,
        "next_due_soon_at": due - timedelta(hours=24) if due else None,
        "version": 1,
    }
    fields.update(overrides)
    return QueueItem(**fields)


def state_for(case_id: UUID) -> Complaint:
    """Any picklable stand-in works: the view keeps the state it is given."""
    case = Complaint.__new__(Complaint)
    case.__dict__["_id"] = case_id
    case.__dict__["subject"] = "state of " + str(case_id)
    return case


def commit(view, items: list[QueueItem], position: int) -> None:
    view.commit(
        QueueChanges({i.id: i for i in items}, {i.id: state_for(i.id) for i in items}), position
    )


def test_a_new_view_is_at_position_zero_and_empty(view) -> None:
    assert view.position() == 0
    assert view.page(QueueQuery("ULPK-PUSAT")) == []
    assert view.counts("ULPK-PUSAT", True) == {}


def test_committed_items_come_back_equal_with_their_position(view) -> None:
    first = item(48)
    commit(view, [first], 7)
    assert view.position() == 7
    assert view.items([first.id]) == {first.id: first}
    assert view.page(QueueQuery("ULPK-PUSAT")) == [first]
    assert view.case_states([first.id])[first.id].subject == f"state of {first.id}"


def test_a_later_commit_replaces_an_item(view) -> None:
    first = item(48)
    commit(view, [first], 1)
    routed = replace(first, status="routed", handling_unit="BBPOM-JAKARTA", version=3)
    commit(view, [routed], 2)
    assert view.page(QueueQuery("ULPK-PUSAT")) == []
    assert view.page(QueueQuery("BBPOM-JAKARTA")) == [routed]


def test_a_position_not_after_the_current_one_is_refused_and_changes_nothing(view) -> None:
    commit(view, [item(1)], 5)
    with pytest.raises(Exception):  # noqa: B017 - each store names its own error
        commit(view, [item(2)], 5)
    assert view.position() == 5
    assert len(view.page(QueueQuery("ULPK-PUSAT"))) == 1


def test_items_come_by_next_due_then_id_and_pages_do_not_overlap(view) -> None:
    items = [item(h) for h in (30, 5, 70, 5, None)]
    items[4] = replace(items[4], status="closed")
    commit(view, items, 1)
    everything = frozenset({"received", "closed"})
    expected = sorted(items, key=lambda i: (i.sort_key, str(i.id)))
    seen: list[QueueItem] = []
    after = None
    while True:
        page = view.page(QueueQuery("ULPK-PUSAT", everything, limit=2, after=after))
        if not page:
            break
        seen += page
        after = (page[-1].sort_key, page[-1].id)
    assert seen == expected
    assert seen[-1].next_due_at is None


def test_filters_by_status_assignee_and_restriction(view) -> None:
    mine = item(10, assignee="budi", status="routed")
    other = item(11, assignee="rina", status="routed")
    secret = item(12, restricted=True)
    closed = item(None, status="closed")
    commit(view, [mine, other, secret, closed], 3)
    unit = "ULPK-PUSAT"
    assert view.page(QueueQuery(unit, assignee="budi")) == [mine]
    assert secret not in view.page(QueueQuery(unit))
    assert secret in view.page(QueueQuery(unit, include_restricted=True))
    assert closed not in view.page(QueueQuery(unit, include_restricted=True))
    assert view.counts(unit, False) == {"routed": 2, "closed": 1}
    assert view.counts(unit, True) == {"routed": 2, "closed": 1, "received": 1}


def test_counts_follow_items_as_they_move_between_statuses_units_and_restriction(view) -> None:
    cases = [item(10), item(11), item(12, restricted=True)]
    commit(view, cases, 1)
    assert view.counts("ULPK-PUSAT", False) == {"received": 2}
    moved = replace(cases[0], status="routed", handling_unit="BBPOM-JAKARTA", version=3)
    unrestricted = replace(cases[2], restricted=False, status="acknowledged", version=2)
    closed = replace(cases[1], status="closed", next_due_at=None, version=2)
    commit(view, [moved, unrestricted], 2)
    commit(view, [closed], 3)
    commit(view, [replace(closed, version=3)], 4)  # a change within one bucket
    assert view.counts("ULPK-PUSAT", False) == {"acknowledged": 1, "closed": 1}
    assert view.counts("ULPK-PUSAT", True) == {"acknowledged": 1, "closed": 1}
    assert view.counts("BBPOM-JAKARTA", True) == {"routed": 1}
    assert view.counts("BBPOM-SURABAYA", True) == {}


def test_an_emptied_count_leaves_no_row(view) -> None:
    case = item(10)
    commit(view, [case], 1)
    commit(view, [replace(case, status="acknowledged", version=2)], 2)
    assert view.counts("ULPK-PUSAT", True) == {"acknowledged": 1}
    if isinstance(view, SqlQueueView):
        with view.db.transaction() as cursor:
            cursor.execute(f"SELECT status, n FROM {view.t('counts')}")
            assert cursor.fetchall() == [("acknowledged", 1)]
