"""The SP4N-LAPOR! outbox and poll state on SQLite and PostgreSQL: one behaviour on both."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from infrastructure.lapor_store import SqlLaporStore
from infrastructure.read_models import StalePosition
from projections.lapor.outbox import OutboundMessage, OutboxChanges, message_key
from tests.support import MONDAY


def messages(case, tracking_id: str, seqs: list[int]) -> list[OutboundMessage]:
    return [
        OutboundMessage(message_key(case, n), seq, case, n, tracking_id, "acknowledged", MONDAY)
        for n, seq in enumerate(seqs, start=2)
    ]


def test_a_case_s_messages_go_out_in_order_and_a_retry_holds_back_the_later_ones(db) -> None:
    store = SqlLaporStore(db)
    one, two = uuid4(), uuid4()
    batch = messages(one, "LAP-1", [3, 5]) + messages(two, "LAP-2", [4])
    store.commit(OutboxChanges({one: "LAP-1", two: "LAP-2"}, batch), 5)
    assert store.references([one, two, uuid4()]) == {one: "LAP-1", two: "LAP-2"}
    assert [e.seq for e in store.due(MONDAY, 10)] == [3, 4]  # one per case, oldest first

    store.failed(batch[0].key, MONDAY + timedelta(seconds=10), "HTTP 500")
    store.delivered(batch[2].key, MONDAY)
    assert store.due(MONDAY, 10) == []  # LAP-1's second message waits behind its first
    counts = store.counts()
    assert (counts.pending, counts.retrying, counts.delivered) == (1, 1, 1)
    assert counts.last_error == "HTTP 500"

    later = store.due(MONDAY + timedelta(seconds=10), 10)
    assert [(e.seq, e.attempts) for e in later] == [(3, 1)]
    store.rejected(batch[0].key, MONDAY, "HTTP 404")
    assert [e.seq for e in store.due(MONDAY, 10)] == [5]  # given up: the next one may go


def test_the_same_batch_committed_twice_is_refused_and_queues_nothing_twice(db) -> None:
    store = SqlLaporStore(db)
    case = uuid4()
    batch = messages(case, "LAP-1", [2, 3])
    store.commit(OutboxChanges({case: "LAP-1"}, batch), 3)
    with pytest.raises(StalePosition):
        store.commit(OutboxChanges({case: "LAP-1"}, batch), 3)
    store.commit(OutboxChanges({}, batch), 4)  # a later batch repeating a message: kept once
    assert store.position() == 4 and len(store.entries()) == 2


def test_the_poll_state_keeps_the_cursor_and_the_last_error(db) -> None:
    store = SqlLaporStore(db)
    assert store.cursor("lapor") is None
    store.polled("lapor", "7", MONDAY)
    store.poll_failed("lapor", MONDAY + timedelta(minutes=1), "ConnectorUnavailable: refused")
    state = store.poll_state("lapor")
    assert state.cursor == "7" and state.last_success_at == MONDAY
    assert state.last_error == "ConnectorUnavailable: refused"
    assert SqlLaporStore(db).cursor("lapor") == "7"  # the tables survive a restart


def test_the_activity_taken_in_is_kept_once_without_its_text(db) -> None:
    store = SqlLaporStore(db)
    case = uuid4()
    assert store.processed([]) == set() and store.processed(["ACT-1"]) == set()
    store.record_activity("ACT-1", "LAP-1", "comment", "relayed", case, MONDAY)
    store.record_activity("ACT-2", "LAP-1", "comment", "ignored_not_reporter", None, MONDAY)
    store.record_activity("ACT-1", "LAP-1", "comment", "filed", None, MONDAY)  # a repeat
    assert store.processed(["ACT-1", "ACT-2", "ACT-3"]) == {"ACT-1", "ACT-2"}
    assert store.latest_filed("LAP-1") is None  # relayed, not filed
    first, second = uuid4(), uuid4()
    store.record_activity("ACT-3", "LAP-1", "comment", "filed", first, MONDAY)
    store.record_activity("ACT-4", "LAP-1", "comment", "filed", second, MONDAY + timedelta(1))
    store.record_activity("ACT-5", "LAP-2", "comment", "filed", uuid4(), MONDAY + timedelta(2))
    assert store.latest_filed("LAP-1") == second
    assert store.activity()[:2] == [
        ("ACT-1", "LAP-1", "comment", "relayed", case),
        ("ACT-2", "LAP-1", "comment", "ignored_not_reporter", None),
    ]
    store.polled("lapor-activity", "2", MONDAY)
    assert SqlLaporStore(db).cursor("lapor-activity") == "2"
    assert SqlLaporStore(db).cursor("lapor") is None  # each listing has its own cursor
