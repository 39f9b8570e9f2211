"""bench/load.py's reconciliation and lag arithmetic: they must catch a lost, doubled or
unanswered write, not only pass (the benchmark itself runs outside pytest)."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

A = "00000000-0000-4000-8000-00000000000a"
B = "00000000-0000-4000-8000-00000000000b"


def _load() -> ModuleType:
    # Appended, not prepended: bench/projections.py must not shadow the projections package.
    sys.path.append(str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_load", BENCH / "load.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_load"] = module
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


load = _load()


def stored(**overrides: object) -> object:
    fields: dict[str, object] = {
        "events": {A: {1: ("Received", 10), 2: ("Acknowledged", 12), 3: ("Routed", 14)}},
        "received_tn": {A: "7K2M9QXD4TZ"},
        "index": [(A, "7K2M9QXD4TZ")],
        "queue_rows": {A: (3, "routed")},
        "audit": Counter({(A, 1, 10): 1, (A, 2, 12): 1, (A, 3, 14): 1}),
    }
    fields.update(overrides)
    return load.Stored(**fields)


def ledger() -> object:
    book = load.Ledger()
    book.creates.append(load.CreateAnswer("k1", "siti", "create", 201, A, "7K2M-9QXD-4TZ", 10, 1))
    book.creates.append(load.CreateAnswer("k1", "siti", "retry", 201, A, "7K2M-9QXD-4TZ", 10, 1))
    book.commands.append(load.CommandAnswer(A, "acknowledge", "normal", 1, 200, 2, 12))
    book.commands.append(load.CommandAnswer(A, "route", "race", 2, 200, 3, 14))
    book.commands.append(load.CommandAnswer(A, "route", "race", 2, 412))
    book.commands.append(load.CommandAnswer(A, "close", "stale", 1, 412))
    return book


def failed(verdict: object) -> set[str]:
    return {name for name, ok, _ in verdict.checks if not ok}


def test_a_consistent_run_passes() -> None:
    verdict = load.reconcile(stored(), ledger(), set())
    assert verdict.ok, verdict.problems


def test_a_2xx_command_with_no_event_fails() -> None:
    events = {A: {1: ("Received", 10), 2: ("Acknowledged", 12)}}
    verdict = load.reconcile(
        stored(events=events, queue_rows={A: (2, "acknowledged")}), ledger(), set()
    )
    assert "every 2xx command is exactly one event" in failed(verdict)


def test_an_event_no_2xx_answered_fails() -> None:
    events = {A: {1: ("Received", 10), 2: ("Acknowledged", 12), 3: ("Routed", 14),
                  4: ("Closed", 15)}}  # fmt: skip
    verdict = load.reconcile(stored(events=events, queue_rows={A: (4, "closed")}), ledger(), set())
    assert "refused commands left no event (no event without a 2xx)" in failed(verdict)


def test_an_event_of_another_type_than_answered_fails() -> None:
    events = {A: {1: ("Received", 10), 2: ("Closed", 12), 3: ("Routed", 14)}}
    verdict = load.reconcile(stored(events=events), ledger(), set())
    assert "every 2xx command is exactly one event" in failed(verdict)


def test_two_wins_on_one_version_fail() -> None:
    book = ledger()
    book.commands[2].status = 200
    book.commands[2].version = 3
    verdict = load.reconcile(stored(), book, set())
    assert "two commands on one version: exactly one wins" in failed(verdict)
    assert "every 2xx command is exactly one event" in failed(verdict)


def test_a_stored_case_no_create_answered_fails_unless_from_the_burst() -> None:
    events = {A: stored().events[A], B: {1: ("Received", 20)}}
    index = [(A, "7K2M9QXD4TZ"), (B, "8K2M9QXD4TZ")]
    rows = {A: (3, "routed"), B: (1, "received")}
    audit = stored().audit + Counter({(B, 1, 20): 1})
    extra = stored(events=events, index=index, queue_rows=rows, audit=audit)
    assert "every 2xx create is exactly one stored case" in failed(
        load.reconcile(extra, ledger(), set())
    )
    assert load.reconcile(extra, ledger(), {B}).ok


def test_a_key_answering_two_cases_fails() -> None:
    book = ledger()
    book.creates.append(load.CreateAnswer("k1", "siti", "retry", 201, B, "8K2M-9QXD-4TZ", 20, 1))
    events = {A: stored().events[A], B: {1: ("Received", 20)}}
    verdict = load.reconcile(
        stored(
            events=events,
            received_tn={A: "7K2M9QXD4TZ", B: "8K2M9QXD4TZ"},
            index=[(A, "7K2M9QXD4TZ"), (B, "8K2M9QXD4TZ")],
            queue_rows={A: (3, "routed"), B: (1, "received")},
            audit=stored().audit + Counter({(B, 1, 20): 1}),
        ),
        book,
        set(),
    )
    assert "no duplicates from repeated keys" in failed(verdict)


def test_a_key_stuck_in_flight_fails() -> None:
    book = ledger()
    book.creates.append(load.CreateAnswer("k2", "siti", "gave-up", None))
    book.creates.append(load.CreateAnswer("k2", "siti", "retry", 409))
    verdict = load.reconcile(stored(), book, set())
    assert any(name.startswith("every key sent ends with its case") for name in failed(verdict))


def test_a_wrong_position_or_tracking_number_fails() -> None:
    book = ledger()
    book.creates[1].position = 11
    assert "tracking numbers and positions of creates match the store" in failed(
        load.reconcile(stored(), book, set())
    )
    verdict = load.reconcile(
        stored(index=[(A, "7K2M9QXD4TZ"), (A, "7K2M9QXD4TZ")]), ledger(), set()
    )
    assert "tracking numbers and positions of creates match the store" in failed(verdict)


def test_read_models_behind_or_doubled_fail() -> None:
    behind = load.reconcile(stored(queue_rows={A: (2, "acknowledged")}), ledger(), set())
    assert "queue read model: one row per case, at its last version" in failed(behind)
    doubled = load.reconcile(
        stored(audit=stored().audit + Counter({(A, 2, 12): 1})), ledger(), set()
    )
    assert "audit trail: one entry per case event" in failed(doubled)


def test_lag_is_the_first_poll_at_or_past_the_position_after_the_answer() -> None:
    samples = [
        (1.00, {"queues": 5, "audit": 5}),
        (1.10, {"queues": 12, "audit": 9}),
        (1.30, {"queues": 12, "audit": 14}),
    ]
    result, missed = load.lags(samples, [(1.05, 12), (1.20, 9), (1.0, 20)])
    assert result["queues"] == pytest.approx([0.05, 0.0])
    assert result["audit"] == pytest.approx([0.25, 0.0])
    assert result["all"] == pytest.approx([0.25, 0.0])
    assert missed == 1


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert load.pct(values, 50) == 50.0
    assert load.pct(values, 99) == 99.0
    assert load.pct(values, 100) == 100.0
    assert load.pct([3.0], 99) == 3.0


def test_public_tracking_is_probed_in_the_openapi_document() -> None:
    absent = load.public_side({"paths": {"/v1/complaints": {}}})
    assert not absent.present
    assert "/v1/public/complaints/{tracking_number}" in absent.note
    create = {
        "parameters": [{"name": "Idempotency-Key", "in": "header"}],
        "requestBody": {
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/P"}}}
        },
    }
    schema = {
        "properties": {"kind": {}, "category": {}, "subject": {}, "description": {}},
        "required": ["kind", "subject"],
    }
    document = {
        "paths": {
            "/v1/public/complaints": {"post": create},
            "/v1/public/complaints/{tracking_number}": {"get": {}},
        },
        "components": {"schemas": {"P": schema}},
    }
    present = load.public_side(document)
    assert present.present and present.idempotent
    assert set(present.body_keys) == {"kind", "category", "subject", "description"}
    schema["required"] = ["kind", "consent"]
    assert not load.public_side(document).present
