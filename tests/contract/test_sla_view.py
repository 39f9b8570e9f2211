"""The SLA view and alert log contract, the same in memory, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from infrastructure.alerts import SqlAlertStore
from infrastructure.views.sla import SqlSlaView
from projections.sla.alerts import Alert, MemoryAlertStore
from projections.sla.memory import MemorySlaView
from projections.sla.view import SlaChanges, SlaQuery, SlaRow
from tests.contract.conftest import view_on
from tests.contract.test_queue_view import state_for

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
WIT = ZoneInfo("Asia/Jayapura")


@pytest.fixture
def parts(store):
    alerts = MemoryAlertStore() if store == "memory" else SqlAlertStore(store)
    return view_on(store, lambda: MemorySlaView(alerts), SqlSlaView), alerts


def row(case_id, stage: str, due_hours: int, **overrides) -> SlaRow:
    due = (T0 + timedelta(hours=due_hours)).astimezone(WIT)
    fields = {
        "case_id": case_id,
        "stage": stage,
        "tracking_number": "ABCDEFGHJK1",
        "unit": "BBPOM-JAYAPURA",
        "zone": "Asia/Jayapura",
        "due_at": due,
        "due_soon_at": due - timedelta(hours=24),
        "paused": False,
        "restricted": False,
    }
    fields.update(overrides)
    return SlaRow(**fields)


def commit(view, rows_by_case: dict, position: int) -> None:
    view.commit(SlaChanges(dict(rows_by_case), {c: state_for(c) for c in rows_by_case}), position)


def test_a_cases_rows_are_replaced_as_a_whole_and_its_state_kept(parts) -> None:
    view, _ = parts
    case = uuid4()
    commit(view, {case: [row(case, "acknowledge", 10), row(case, "close", 100)]}, 3)
    assert [r.stage for r in view.stages(case)] == ["acknowledge", "close"]
    commit(view, {case: [row(case, "close", 100)]}, 5)
    [close] = view.stages(case)
    assert close == row(case, "close", 100)
    commit(view, {case: []}, 8)
    assert view.stages(case) == []
    assert view.position() == 8
    assert view.case_states([case])[case].subject == f"state of {case}"


def test_flagged_stages_are_those_due_soon_or_breached_at_the_instant_asked(parts) -> None:
    view, _ = parts
    late, soon, later, paused, secret = (uuid4() for _ in range(5))
    commit(
        view,
        {
            late: [row(late, "acknowledge", -1)],
            soon: [row(soon, "route", 10)],
            later: [row(later, "close", 100)],
            paused: [row(paused, "close", -5, paused=True)],
            secret: [row(secret, "close", -2, restricted=True, unit="ULPK-PUSAT")],
        },
        1,
    )
    flagged = view.flagged(SlaQuery(T0))
    assert [(r.case_id, r.state(T0)) for r in flagged] == [(late, "breached"), (soon, "due_soon")]
    everyone = view.flagged(SlaQuery(T0, include_restricted=True))
    assert [r.case_id for r in everyone] == [secret, late, soon]
    ours = view.flagged(SlaQuery(T0, frozenset({"ULPK-PUSAT"}), include_restricted=True))
    assert [r.case_id for r in ours] == [secret]
    assert [r.case_id for r in view.flagged(SlaQuery(T0, state="due_soon"))] == [soon]
    assert [r.case_id for r in view.flagged(SlaQuery(T0, state="breached"))] == [late]
    assert view.flagged(SlaQuery(T0, limit=1))[0].case_id == late


def test_the_timer_scan_leaves_out_alerts_already_raised(parts) -> None:
    view, alerts = parts
    late, soon = uuid4(), uuid4()
    commit(view, {late: [row(late, "acknowledge", -1)], soon: [row(soon, "route", 10)]}, 1)
    pending = view.unalerted(T0, 100)
    assert [(r.case_id, s) for r, s in pending] == [(late, "breached"), (soon, "due_soon")]
    first = alerts.raise_alerts([Alert.of(r, s, T0) for r, s in pending[:1]])
    assert [a.case_id for a in first] == [late]
    assert [(r.case_id, s) for r, s in view.unalerted(T0, 100)] == [(soon, "due_soon")]
    again = alerts.raise_alerts([Alert.of(r, s, T0) for r, s in pending])
    assert [a.case_id for a in again] == [soon]
    assert view.unalerted(T0, 100) == []
    assert alerts.raise_alerts([Alert.of(r, s, T0) for r, s in pending]) == []
    # A new due instant (the case waited for the complainant) is a new alert.
    commit(view, {late: [row(late, "acknowledge", -1 + 48)]}, 2)
    later = T0 + timedelta(hours=30)
    assert [(r.case_id, s) for r, s in view.unalerted(later, 100)] == [
        (soon, "breached"),
        (late, "due_soon"),
    ]


def test_the_outbox_keeps_failures_for_later_and_forgets_nothing(parts) -> None:
    view, alerts = parts
    case = uuid4()
    commit(view, {case: [row(case, "acknowledge", -1), row(case, "close", -3)]}, 1)
    raised = alerts.raise_alerts([Alert.of(r, s, T0) for r, s in view.unalerted(T0, 10)])
    assert len(alerts.due_deliveries(T0, 10)) == 2
    assert alerts.due_deliveries(T0 - timedelta(seconds=1), 10) == []
    alerts.failed(raised[0].id, T0 + timedelta(minutes=1), "HTTP 503")
    alerts.delivered(raised[1].id, T0)
    assert alerts.due_deliveries(T0, 10) == []
    [retry] = alerts.due_deliveries(T0 + timedelta(minutes=1), 10)
    assert retry.alert == raised[0]
    assert (retry.attempts, retry.last_error) == (1, "HTTP 503")
    assert alerts.delivery(raised[1].id).delivered_at == T0
    assert {a.id for a in alerts.alerts()} == {a.id for a in raised}
    assert alerts.raised([a.id for a in raised] + [uuid4()]) == {a.id for a in raised}
