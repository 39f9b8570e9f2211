"""The duplicates view's contract, the same on every store (text similarity: trigram on
PostgreSQL, token overlap in memory and on SQLite; both find the same near-copies)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from infrastructure.views.duplicates import SqlDuplicateView
from projections.duplicates.memory import MemoryDuplicateView
from projections.duplicates.view import CaseRow, DuplicateChanges, DuplicateQuery
from tests.contract.conftest import view_on

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
CREAM = "Krim pemutih wajah tanpa izin edar\nkrim pemutih dari pasar membuat kulit wajah iritasi"


@pytest.fixture
def view(store):
    return view_on(store, MemoryDuplicateView, SqlDuplicateView)


def row(**overrides) -> CaseRow:
    fields = {
        "id": uuid4(),
        "tracking_number": "ABCDEFGHJK1",
        "category": "kosmetik",
        "subject": "Krim pemutih wajah tanpa izin edar",
        "received_at": T0,
        "intake_unit": "ULPK-PUSAT",
        "handling_unit": "ULPK-PUSAT",
        "restricted": False,
        "anonymous": False,
        "is_open": True,
        "product_registration": None,
        "email_match": None,
        "phone_match": None,
        "match_text": CREAM,
        "duplicate_of": None,
    }
    fields.update(overrides)
    return CaseRow(**fields)


def query(**overrides) -> DuplicateQuery:
    fields = {
        "case_id": uuid4(),
        "category": "kosmetik",
        "product_registration": None,
        "email_match": None,
        "phone_match": None,
        "text": "Krim pemutih wajah tanpa izin edar, kulit wajah iritasi setelah memakai krim",
    }
    fields.update(overrides)
    return DuplicateQuery(**fields)


def add(view, rows: list[CaseRow], position: int) -> None:
    view.commit(DuplicateChanges(rows={r.id: r for r in rows}), position)


def test_similar_text_of_the_category_is_found_and_other_text_is_not(view) -> None:
    similar = row()
    other_text = row(subject="Sertifikat halal", match_text="Sertifikat halal terlambat tiga bulan")
    other_category = row(category="obat")
    add(view, [similar, other_text, other_category], 1)
    found = view.candidates(query())
    assert [c.row.id for c in found] == [similar.id]
    assert 0 < found[0].similarity <= 1 and found[0].row == similar
    assert view.position() == 1


def test_registration_and_reporter_match_in_any_category_and_merge_per_case(view) -> None:
    both = row(category="obat", product_registration="NA18201200123", email_match="e1")
    phone = row(category="lainnya", match_text="lain", subject="lain", phone_match="p1")
    add(view, [both, phone], 1)
    found = view.candidates(
        query(product_registration="NA18201200123", email_match="e1", phone_match="p1")
    )
    by_id = {c.row.id: c for c in found}
    assert set(by_id) == {both.id, phone.id}
    assert by_id[both.id].same_registration and by_id[both.id].same_email
    assert by_id[both.id].similarity is None  # another category: text does not count
    assert by_id[phone.id].same_phone and not by_id[phone.id].same_email
    assert [c.row.id for c in found] == [both.id, phone.id]  # best score first


def test_closed_rows_the_case_itself_and_other_units_are_left_out(view) -> None:
    me = row()
    closed = row()
    makassar = row(intake_unit="BBPOM-MAKASSAR", handling_unit="BBPOM-MAKASSAR")
    routed_here = row(intake_unit="BBPOM-MAKASSAR", handling_unit="ULPK-PUSAT")
    add(view, [me, closed, makassar, routed_here], 1)
    view.commit(DuplicateChanges(updates={closed.id: {"is_open": False}}), 2)
    scoped = view.candidates(query(case_id=me.id, units=frozenset({"ULPK-PUSAT"})))
    assert {c.row.id for c in scoped} == {routed_here.id}
    everyone = view.candidates(query(case_id=me.id))
    assert {c.row.id for c in everyone} == {makassar.id, routed_here.id}


def test_updates_and_erasure_change_rows_in_order(view) -> None:
    original, copy = row(email_match="e1"), row(email_match="e1", received_at=T0 + timedelta(1))
    add(view, [original, copy], 1)
    view.commit(
        DuplicateChanges(
            updates={copy.id: {"is_open": False, "duplicate_of": original.id}},
            erased={original.id},
        ),
        2,
    )
    assert [r.id for r in view.duplicates_of(original.id)] == [copy.id]
    stored = view.rows([original.id, copy.id])
    assert stored[original.id] == replace(
        original, email_match=None, phone_match=None, match_text=original.subject
    )
    assert stored[copy.id].duplicate_of == original.id and not stored[copy.id].is_open
    view.commit(DuplicateChanges(updates={copy.id: {"is_open": True, "duplicate_of": None}}), 3)
    assert view.duplicates_of(original.id) == []
    assert view.candidates(query(email_match="e1", text="zzz"))[0].row.id == copy.id
