"""Commits of many rows at once (a rebuild's batches) give the same views as row by row.

On PostgreSQL, batches above ``STAGED_UPSERT_ROWS`` rows are written with a binary COPY into a
temporary table and merged with one statement; these tests hold that path to the same contract
as the memory views: new rows, rows replaced (every column, NULLs too), and a case's SLA stages
replaced as a whole, with a failed commit leaving nothing behind.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from infrastructure.readstore import STAGED_UPSERT_ROWS
from infrastructure.views.monev import SqlMonevView
from infrastructure.views.queues import SqlQueueView
from infrastructure.views.sla import SqlSlaView
from projections.monev.memory import MemoryMonevView
from projections.monev.view import MonevChanges, Period
from projections.queues.memory import MemoryQueueView
from projections.queues.view import QueueChanges, QueueQuery
from projections.sla.alerts import MemoryAlertStore
from projections.sla.memory import MemorySlaView
from projections.sla.view import SlaChanges, SlaQuery
from tests.contract.conftest import view_on
from tests.contract.test_monev_view import fact
from tests.contract.test_queue_view import T0, item, state_for
from tests.contract.test_sla_view import row

MANY = STAGED_UPSERT_ROWS * 3 + 7
STATUSES = frozenset({"received", "acknowledged", "routed", "in_follow_up", "closed"})


def test_many_queue_items_are_written_and_replaced_like_one_by_one(store) -> None:
    view = view_on(store, MemoryQueueView, SqlQueueView)
    first = [
        item(h % 90, status="received", assignee=None if h % 2 else f"staf-{h}")
        for h in range(MANY)
    ]
    view.commit(QueueChanges({i.id: i for i in first}, {i.id: state_for(i.id) for i in first}), 1)
    # Half replaced (a NULL where there was a value, and the other way round), more added.
    changed = [
        replace(i, status="closed", assignee=None, next_stage=None, next_due_at=None, version=4)
        if n % 2
        else replace(i, assignee="budi", handling_unit="BBPOM-JAKARTA", version=2)
        for n, i in enumerate(first[: MANY // 2])
    ]
    added = [item(5, tracking_number=f"NEW{n:08d}") for n in range(MANY)]
    batch = changed + added
    view.commit(QueueChanges({i.id: i for i in batch}, {i.id: state_for(i.id) for i in batch}), 2)
    expected = {i.id: i for i in first} | {i.id: i for i in batch}
    assert view.items(list(expected)) == expected
    assert view.position() == 2
    pages = [
        view.page(QueueQuery(unit, STATUSES, include_restricted=True, limit=10_000))
        for unit in ("ULPK-PUSAT", "BBPOM-JAKARTA")
    ]
    assert sum(len(p) for p in pages) == len(expected)
    states = view.case_states([i.id for i in batch])
    assert {k: v.subject for k, v in states.items()} == {i.id: f"state of {i.id}" for i in batch}
    # The kept counts agree with the items after rows moved between units and statuses.
    for unit, page in zip(("ULPK-PUSAT", "BBPOM-JAKARTA"), pages, strict=True):
        assert view.counts(unit, True) == dict(Counter(i.status for i in page))


def test_many_monev_facts_are_written_and_replaced_like_one_by_one(store) -> None:
    view = view_on(store, MemoryMonevView, SqlMonevView)
    first = [fact(days_to_acknowledge=n % 3 or None) for n in range(MANY)]
    view.commit(MonevChanges({f.id: f for f in first}, {f.id: state_for(f.id) for f in first}), 3)
    changed = [
        replace(f, status="closed", outcome="answered", days_to_close=n, sla_close="met")
        for n, f in enumerate(first[::2])
    ]
    view.commit(
        MonevChanges({f.id: f for f in changed}, {f.id: state_for(f.id) for f in changed}), 4
    )
    expected = {f.id: f for f in first} | {f.id: f for f in changed}
    assert view.facts_of(list(expected)) == expected
    assert len(view.facts(Period(2026, quarter=4))) == len(expected)


def test_many_cases_sla_stages_are_replaced_as_a_whole(store) -> None:
    alerts = MemoryAlertStore()
    view = view_on(store, lambda: MemorySlaView(alerts), SqlSlaView)
    cases = [uuid4() for _ in range(MANY)]
    first = {
        c: [row(c, "acknowledge", n % 50), row(c, "close", 100 + n)] for n, c in enumerate(cases)
    }
    view.commit(SlaChanges(first, {c: state_for(c) for c in cases}), 5)
    # A third closed (no stages left), a third acknowledged (one stage left), a third paused.
    second = {
        c: [] if n % 3 == 0 else [row(c, "close", 100 + n, paused=n % 3 == 2)]
        for n, c in enumerate(cases)
    }
    view.commit(SlaChanges(second, {c: state_for(c) for c in cases}), 6)
    for c in cases:
        assert view.stages(c) == second[c]
    flagged = view.flagged(SlaQuery(at=T0 + timedelta(days=400), limit=10_000))
    assert len(flagged) == sum(1 for n in range(MANY) if n % 3 == 1)
    assert view.position() == 6


def test_a_refused_bulk_commit_leaves_nothing_behind(store) -> None:
    view = view_on(store, MemoryQueueView, SqlQueueView)
    view.commit(QueueChanges({}, {}), 9)
    many = [item(1) for _ in range(MANY)]
    with pytest.raises(Exception):  # noqa: B017 - each store names its own error
        view.commit(QueueChanges({i.id: i for i in many}, {i.id: state_for(i.id) for i in many}), 9)
    assert view.items([i.id for i in many]) == {}
    # and the next batch goes through (on PostgreSQL: its temporary table went with the rollback)
    view.commit(QueueChanges({i.id: i for i in many}, {i.id: state_for(i.id) for i in many}), 10)
    assert len(view.items([i.id for i in many])) == MANY
