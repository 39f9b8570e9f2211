"""The messaging gateways' tables on SQLite and PostgreSQL: claims, receipts, threads, counts."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from application.inbound import Pending, Receipt, Thread
from infrastructure.inbound_store import SqlInboundStore
from infrastructure.readstore import ReadDatabase
from tests.support import MONDAY


@pytest.fixture
def store(db: ReadDatabase) -> SqlInboundStore:
    return SqlInboundStore(db)


def test_a_message_is_claimed_once_then_answered_from_its_receipt(store: SqlInboundStore) -> None:
    early = MONDAY - timedelta(minutes=5)
    assert store.claim("sms", "m1", "f1", MONDAY, early) is None
    assert store.claim("sms", "m1", "f1", MONDAY, early) == Pending("f1")
    assert store.receipt("whatsapp", "m1") is None  # another channel, another message

    receipt = Receipt("f1", uuid4(), "7K2M9QXD4TZ", "received", "filed", None)
    store.complete("sms", "m1", receipt)
    assert store.receipt("sms", "m1") == receipt
    assert store.claim("sms", "m1", "f1", MONDAY + timedelta(hours=1), MONDAY) == receipt


def test_a_stale_claim_is_taken_over_and_a_released_one_is_gone(store: SqlInboundStore) -> None:
    assert store.claim("sms", "m2", "f2", MONDAY, MONDAY) is None
    later = MONDAY + timedelta(minutes=2)
    # Another body never takes a claim over; the same one does once the claim is stale.
    assert store.claim("sms", "m2", "other", later, later) == Pending("f2")
    assert store.claim("sms", "m2", "f2", later, MONDAY + timedelta(minutes=1)) is None
    assert store.claim("sms", "m2", "f2", later, later - timedelta(seconds=1)) == Pending("f2")
    store.release("sms", "m2")
    assert store.receipt("sms", "m2") is None
    assert store.prune(MONDAY + timedelta(days=8)) == 0


def test_threads_lead_to_their_latest_case_and_counts_add_up(store: SqlInboundStore) -> None:
    first, second = Thread(uuid4(), "AAAA"), Thread(uuid4(), "BBBB")
    store.link(["k1", "k2"], first, MONDAY)
    assert store.thread(["k0", "k2"]) == first
    store.link(["k2"], second, MONDAY)
    assert store.thread(["k2", "k1"]) == second
    assert store.thread(["nothing"]) is None

    for result in ("filed", "appended", "replayed"):
        store.counted("sms", result, MONDAY)
    store.counted("sms", "rejected", MONDAY, "401 inbound-bad-signature")
    (sms,) = store.counts()
    assert (sms.filed, sms.appended, sms.replayed, sms.rejected) == (1, 1, 1, 1)
    assert sms.last_accepted_at == MONDAY and sms.last_error == "401 inbound-bad-signature"
