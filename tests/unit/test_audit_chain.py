"""The audit chain on the in-memory view: built in order, verified, tampering found at its seq."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from itertools import pairwise
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from application.complaints import Complaints
from infrastructure.clock import ManualClock
from infrastructure.event_log import ApplicationLog
from projections.audit.chain import GENESIS, chain_hash
from projections.audit.checkpoints import CheckpointSigner
from projections.audit.memory import MemoryAuditView
from projections.audit.projection import AuditProjection, decoded_facts_of, facts_of, loads
from projections.audit.verify import verify_trail, verify_view
from projections.audit.view import AuditEntry, all_entries
from projections.runner import Binding, LoggedEvent, Runner, run_to_head
from tests.support import INTAKE, MONDAY, POPO, build_complaints, new_case

SEED = bytes(range(32))


class ListLog:
    """An event store one can tamper with: a list of logged events, read like the real log."""

    def __init__(self, events: list[LoggedEvent]) -> None:
        self.events = events

    def read(self, after: int, limit: int) -> list[LoggedEvent]:
        return [e for e in self.events if e.position > after][:limit]

    def head(self) -> int:
        return max((e.position for e in self.events), default=0)


@pytest.fixture
def app() -> Iterator[Complaints]:
    clock = ManualClock(MONDAY)
    app = build_complaints(POPO, clock)
    for _ in range(4):
        created = app.file_case(INTAKE, new_case())
        clock.advance(timedelta(minutes=5))
        app.acknowledge(INTAKE, created.id, 1, message="diterima")
        clock.advance(timedelta(minutes=5))
    yield app
    app.close()


def chained(log: object, batch_size: int = 3) -> MemoryAuditView:
    view = MemoryAuditView()
    run_to_head(Runner(log, [Binding(AuditProjection(), view)], batch_size=batch_size))  # type: ignore[arg-type]
    return view


def store_copy(app: Complaints) -> ListLog:
    return ListLog(ApplicationLog(app).read(0, 10_000))


def forged(like: LoggedEvent, position: int, state: bytes) -> LoggedEvent:
    return LoggedEvent(
        position, like.originator_id, like.originator_version, like.topic, state, lambda: like.event
    )


def test_every_event_of_the_log_becomes_one_entry_in_a_gapless_sequence(app) -> None:
    log = ApplicationLog(app)
    view = chained(log)
    entries = list(all_entries(view))
    assert [e.seq for e in entries] == list(range(1, log.head() + 1))
    assert [e.position for e in entries] == [e.position for e in log.read(0, 100)]
    assert view.position() == log.head()
    assert entries[0].prev_hash == GENESIS
    for before, after in pairwise(entries):
        assert after.prev_hash == before.hash
        assert after.hash == chain_hash(before.hash, after.event_hash, after.seq)


def test_an_entry_names_the_case_type_time_and_actor_of_its_event(app) -> None:
    view = chained(ApplicationLog(app))
    received, index, acknowledged = view.entries(0, 3)
    assert received.type == "Received" and acknowledged.type == "Acknowledged"
    assert index.type == "TrackingNumberIndex.Assigned"
    assert index.complaint_id == received.complaint_id == acknowledged.complaint_id
    assert index.originator_id != received.complaint_id
    assert received.actor == {"sub": "siti", "unit": "ULPK-PUSAT"}
    assert received.recorded_at == MONDAY
    assert acknowledged.recorded_at == MONDAY + timedelta(minutes=5)


@settings(max_examples=20, deadline=None)
@given(splits=st.lists(st.integers(1, 5), min_size=1, max_size=8))
def test_the_chain_continues_after_a_restart_exactly_as_if_built_in_one_go(splits) -> None:
    clock = ManualClock(MONDAY)
    app = build_complaints(POPO, clock)
    try:
        for _ in range(3):
            created = app.file_case(INTAKE, new_case())
            app.acknowledge(INTAKE, created.id, 1, message="ok")
        log = ApplicationLog(app)
        whole = chained(log, batch_size=100)
        resumed = MemoryAuditView()
        for size in splits * 20:  # a fresh runner each time, as after a restart
            if resumed.position() >= log.head():
                break
            Runner(log, [Binding(AuditProjection(), resumed)], batch_size=size).step()
        run_to_head(Runner(log, [Binding(AuditProjection(), resumed)]))
        assert list(all_entries(resumed)) == list(all_entries(whole))
    finally:
        app.close()


def test_an_untouched_chain_verifies_with_its_head_and_entry_count(app) -> None:
    log = ApplicationLog(app)
    view = chained(log)
    result = verify_view(view, log, batch_size=4)
    head = view.head()
    assert head is not None
    assert result.ok and result.first_bad_seq is None
    assert result.entries == 12 and result.head == head.hash and result.position == log.head()


def test_events_stored_after_the_trail_are_not_yet_checked(app) -> None:
    view = chained(ApplicationLog(app))
    app.file_case(INTAKE, new_case())
    assert verify_view(view, ApplicationLog(app)).ok


def test_an_altered_stored_event_is_found_at_its_seq(app) -> None:
    store = store_copy(app)
    view = chained(store)
    victim = store.events[4]
    store.events[4] = forged(victim, victim.position, victim.state.replace(b"2026", b"2025"))
    result = verify_view(view, store)
    assert not result.ok and result.first_bad_seq == 5 and "altered" in (result.reason or "")
    assert result.entries == 4


def test_a_removed_stored_event_is_found_at_its_seq(app) -> None:
    store = store_copy(app)
    view = chained(store)
    del store.events[6]
    result = verify_view(view, store)
    assert not result.ok and result.first_bad_seq == 7 and "removed" in (result.reason or "")


def test_removing_the_last_stored_events_is_found(app) -> None:
    store = store_copy(app)
    view = chained(store)
    del store.events[-2:]
    result = verify_view(view, store)
    assert not result.ok and result.first_bad_seq == 11


def test_an_event_inserted_into_the_store_behind_the_trail_is_found_at_its_seq(app) -> None:
    store = ListLog([e for e in store_copy(app).events if e.position != 3])  # a gap, as a
    view = chained(store)  # rolled-back transaction leaves one
    store.events.insert(2, forged(store.events[0], 3, store.events[0].state))
    result = verify_view(view, store)
    assert not result.ok and result.first_bad_seq == 3 and "inserted" in (result.reason or "")


def test_two_swapped_stored_events_are_found_at_the_first_of_them(app) -> None:
    store = store_copy(app)
    view = chained(store)
    a, b = store.events[3], store.events[8]
    store.events[3] = LoggedEvent(
        a.position, b.originator_id, b.originator_version, b.topic, b.state, lambda: b.event
    )
    store.events[8] = LoggedEvent(
        b.position, a.originator_id, a.originator_version, a.topic, a.state, lambda: a.event
    )
    result = verify_view(view, store)
    assert not result.ok and result.first_bad_seq == 4


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"actor_sub": "mallory"}, "actor"),
        ({"type": "Closed"}, "type"),
        ({"recorded_at": MONDAY - timedelta(days=1)}, "time"),
        ({"event_hash": "ab" * 32}, "hash"),
        ({"hash": "cd" * 32}, "hash"),
        ({"version": 9}, "version"),
    ],
)
def test_an_altered_entry_of_the_trail_is_found_at_its_seq(app, change, reason) -> None:
    log = ApplicationLog(app)
    view = chained(log)
    view.tamper(6, **change)
    result = verify_view(view, log)
    assert not result.ok and result.first_bad_seq == 6 and reason in (result.reason or "")


def test_an_entry_removed_from_the_trail_is_found_at_its_seq(app) -> None:
    log = ApplicationLog(app)
    view = chained(log)
    view.remove(5)
    result = verify_view(view, log)
    assert not result.ok and result.first_bad_seq == 5


def test_a_checkpoint_catches_a_consistent_rewrite_of_store_and_trail(app) -> None:
    store = store_copy(app)
    view = chained(store)
    signer = CheckpointSigner(SEED)
    head = view.head()
    assert head is not None
    checkpoint = signer.sign(head, MONDAY + timedelta(hours=1))
    # Rewrite history from the fifth event on and rebuild a matching trail from scratch.
    victim = store.events[4]
    store.events[4] = forged(victim, victim.position, victim.state.replace(b"2026", b"2025"))
    rewritten = chained(store)
    assert verify_view(rewritten, store).ok
    result = verify_trail(
        all_entries(rewritten), store, checkpoint=checkpoint, trusted_key=signer.public_key
    )
    assert not result.ok and result.first_bad_seq == checkpoint.seq
    assert "checkpoint" in (result.reason or "")
    untouched = verify_trail(
        all_entries(view), store_copy(app), checkpoint=checkpoint, trusted_key=signer.public_key
    )
    assert untouched.ok


def test_a_checkpoint_from_another_key_or_edited_after_signing_is_not_trusted(app) -> None:
    log = ApplicationLog(app)
    view = chained(log)
    head = view.head()
    assert head is not None
    ours = CheckpointSigner(SEED)
    theirs = CheckpointSigner(bytes(32)).sign(head, MONDAY)
    assert not verify_trail(
        all_entries(view), log, checkpoint=theirs, trusted_key=ours.public_key
    ).ok
    edited = replace(ours.sign(head, MONDAY), seq=head.seq - 1)
    result = verify_trail(all_entries(view), log, checkpoint=edited, trusted_key=ours.public_key)
    assert not result.ok and "signature" in (result.reason or "")


def test_a_checkpoint_beyond_the_end_of_a_truncated_trail_is_reported(app) -> None:
    log = ApplicationLog(app)
    view = chained(log)
    signer = CheckpointSigner(SEED)
    head = view.head()
    assert head is not None
    checkpoint = signer.sign(head, MONDAY)
    shorter = list(all_entries(view))[:-3]
    result = verify_trail(shorter, log, checkpoint=checkpoint, trusted_key=signer.public_key)
    assert not result.ok and "truncated" in (result.reason or "")


def test_an_export_read_back_verifies_and_an_edited_line_does_not(app) -> None:
    log = ApplicationLog(app)
    view = chained(log)
    lines = [json.dumps(e.to_json()) for e in all_entries(view)]
    back = [AuditEntry.from_json(json.loads(line)) for line in lines]
    assert back == list(all_entries(view))
    assert verify_trail(back, log).ok
    edited = json.loads(lines[2])
    edited["actor"] = {"sub": "mallory", "unit": None}
    back[2] = AuditEntry.from_json(edited)
    assert verify_trail(back, log).first_bad_seq == 3


def test_the_version_at_a_time_is_looked_up_per_case(app) -> None:
    view = chained(ApplicationLog(app))
    first = view.entries(0, 1)[0]
    assert view.version_at(first.complaint_id, MONDAY - timedelta(seconds=1)) is None
    assert view.version_at(first.complaint_id, MONDAY) == 1
    assert view.version_at(first.complaint_id, MONDAY + timedelta(minutes=5)) == 2
    assert view.version_at(uuid4(), MONDAY) is None


def test_the_chain_refuses_a_batch_that_would_rewrite_it(app) -> None:
    log = ApplicationLog(app)
    view = chained(log)
    again = AuditProjection().process(log.read(0, 2), MemoryAuditView())
    with pytest.raises(ValueError, match="continues at seq"):
        view.commit(again, again.entries[-1].position)


def test_facts_read_from_the_stored_json_equal_those_of_the_decoded_event(app) -> None:
    created = app.file_case(INTAKE, new_case(reporter=None))
    app.acknowledge(INTAKE, created.id, 1, message="ok")
    for logged in ApplicationLog(app).read(0, 1000):
        assert facts_of(logged) == decoded_facts_of(logged)


def test_an_event_in_another_encoding_falls_back_to_decoding(app) -> None:
    logged = ApplicationLog(app).read(0, 1)[0]
    odd = LoggedEvent(
        logged.position,
        logged.originator_id,
        logged.originator_version,
        logged.topic,
        b"\x78\x9c not json",
        lambda: logged.event,
    )
    assert facts_of(odd) == decoded_facts_of(logged)


def test_the_signing_key_comes_from_settings_as_hex_or_base64_else_from_the_root_secret() -> None:
    import base64

    from infrastructure.settings import Settings
    from interfaces.bootstrap import _audit_signing_seed

    def seed(key: str | None) -> bytes:
        return _audit_signing_seed(Settings(audit_signing_key=key), "root")

    assert seed(SEED.hex()) == SEED == seed(base64.b64encode(SEED).decode())
    assert seed(None) == _audit_signing_seed(Settings(), "root") != seed(SEED.hex())
    assert seed(None) != _audit_signing_seed(Settings(), "another root")
    with pytest.raises(ValueError, match="32 bytes"):
        seed("too short")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    value=st.dictionaries(st.text(), _JSON, max_size=4),
    before=st.sampled_from(["", " ", "\n"]),
    after=st.sampled_from(["", " ", "x", "{}", "]"]),
    cut=st.integers(min_value=0, max_value=3),
    separators=st.sampled_from([(",", ":"), (", ", ": ")]),
)
def test_the_fast_json_reader_answers_as_json_loads(value, before, after, cut, separators) -> None:
    """projection.loads (the audit trail's and the verifier's reader of stored states) returns
    what json.loads returns, and raises the same error, for any bytes around a JSON object."""
    text = before + json.dumps(value, separators=separators, ensure_ascii=False) + after
    data = text.encode()
    data = data[: len(data) - cut] if cut else data

    def outcome(read: Any) -> Any:
        try:
            return ("value", read(data))
        except Exception as error:  # the type and message must match
            return ("error", type(error), str(error))

    assert outcome(loads) == outcome(json.loads)
