"""The email connector's tables on SQLite and PostgreSQL: one behaviour on both."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from application.email_intake import RELAYING, MailCounts
from infrastructure.email_store import SqlEmailStore
from infrastructure.read_models import StalePosition
from infrastructure.readstore import ReadDatabase
from projections.lapor.outbox import OutboundMessage, OutboxChanges
from tests.support import MONDAY


def test_messages_taken_are_remembered_and_a_relaying_reply_settles(db: ReadDatabase) -> None:
    store = SqlEmailStore(db)
    case = uuid4()
    assert store.outcome("mid:a") is None
    store.record("mid:a", "filed", case, "INBOX;UIDVALIDITY=1;UID=1", MONDAY)
    store.record("mid:b", RELAYING, case, "INBOX;UIDVALIDITY=1;UID=2", MONDAY)
    store.record("mid:c", "rejected", None, "c.eml", MONDAY, "InvalidCommand: kosong")
    store.record("mid:d", "ignored", None, "d.eml", MONDAY, "Auto-Submitted: auto-replied")
    assert store.outcome("mid:b") == RELAYING
    store.record("mid:b", "reply", case, "INBOX;UIDVALIDITY=1;UID=2", MONDAY)
    assert store.outcome("mid:b") == "reply"
    assert store.counts() == MailCounts(filed=1, replies=1, rejected=1, ignored=1)
    assert store.last_rejection() == "InvalidCommand: kosong"
    assert SqlEmailStore(db).outcome("mid:a") == "filed"  # a restart keeps them


def test_the_acknowledgement_outbox_retries_and_gives_up(db: ReadDatabase) -> None:
    store = SqlEmailStore(db)
    one, two = uuid4(), uuid4()
    batch = [
        OutboundMessage("k1", 3, one, 2, "AAAABBBBCCC", "acknowledged", MONDAY),
        OutboundMessage("k2", 4, two, 2, "DDDDEEEEFFF", "acknowledged", MONDAY),
    ]
    store.commit(OutboxChanges({one: "AAAABBBBCCC", two: "DDDDEEEEFFF"}, batch), 4)
    with pytest.raises(StalePosition):
        store.commit(OutboxChanges({}, batch), 4)
    assert store.position() == 4
    assert store.references([one, uuid4()]) == {one: "AAAABBBBCCC"}
    assert [(e.key, e.tracking_id) for e in store.due(MONDAY, 10)] == [
        ("k1", "AAAABBBBCCC"),
        ("k2", "DDDDEEEEFFF"),
    ]
    store.failed("k1", MONDAY + timedelta(seconds=10), "ConnectorUnavailable: refused")
    store.rejected("k2", MONDAY, "ConnectorRejected: 550")
    assert store.due(MONDAY, 10) == []
    counts = store.outbox_counts()
    assert (counts.pending, counts.retrying, counts.rejected, counts.delivered) == (0, 1, 1, 0)
    assert counts.last_error == "ConnectorRejected: 550"
    [again] = store.due(MONDAY + timedelta(seconds=10), 10)
    assert (again.key, again.attempts) == ("k1", 1)
    store.delivered("k1", MONDAY)
    assert store.outbox_counts().delivered == 1
