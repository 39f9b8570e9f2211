"""Likely duplicates and marking a duplicate, over HTTP on PostgreSQL (and the SQLite fallback)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import sql

from projections.runner import Binding, Runner, run_to_head
from tests.support import complaint_body

INTAKE = ("intake_officer",)
TECH = ("technical_officer",)
AUDITOR = {"units": ("*",), "sub": "inspektorat"}
ADMIN = {"units": ("*",), "sub": "admin-pusat"}
CREAM = "Krim pemutih wajah tanpa izin edar menyebabkan iritasi kulit"
CREAM_TEXT = (
    "Pelapor membeli krim pemutih wajah di pasar, tanpa nomor notifikasi BPOM; setelah dua "
    "minggu pemakaian kulit wajah iritasi dan memerah."
)


@pytest.fixture(params=["api", "sqlite_api"])
def any_api(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


def _file(api, roles=INTAKE, units=("ULPK-PUSAT",), **overrides: Any) -> dict:
    overrides.setdefault("reporter", None)
    created = api.client.post(
        "/v1/complaints", json=complaint_body(**overrides), headers=api.headers(*roles, units=units)
    )
    assert created.status_code == 201, created.text
    return created.json()


def _suggested(api, case: dict, position: int | None = None, **who: Any) -> list[dict]:
    who = who or {"units": ("ULPK-PUSAT",)}
    roles = who.pop("roles", INTAKE)
    answer = api.client.get(
        f"/v1/complaints/{case['id']}/possible-duplicates",
        params={"after_position": position or case["position"]},
        headers=api.headers(*roles, **who),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def _reasons(item: dict) -> set[str]:
    return {r["reason"] for r in item["reasons"]}


def _command(api, case: dict, path: str, body: dict, *roles: str, **who: Any):
    return api.client.post(
        f"/v1/complaints/{case['id']}/{path}",
        json=body,
        headers=api.headers(*roles, version=case["version"], **who),
    )


def _close(api, case: dict, **body: Any) -> dict:
    case = _command(api, case, "acknowledge", {"message": "diterima"}, *INTAKE).json()
    answer = _command(
        api, case, "close", {"outcome": "answered", "answer": "dijawab"} | body, *INTAKE
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


# --- suggestions ---------------------------------------------------------------------------


def test_a_new_case_suggests_open_cases_with_the_same_registration_number_however_written(
    api,
) -> None:
    first = _file(
        api,
        product_registration="BPOM RI MD 224510001234",
        subject="Susu basi",
        description="Susu kotak berbau asam sebelum tanggal kedaluwarsa",
        category="pangan_olahan",
    )
    other = _file(
        api,
        product_registration="MD 224510009999",
        subject="Label tidak jelas",
        description="Label kemasan tidak mencantumkan komposisi",
        category="pangan_olahan",
    )
    second = _file(
        api,
        product_registration="md-2245-1000-1234",
        subject="Kemasan rusak",
        description="Kotak penyok dan bocor di rak toko",
        category="pangan_olahan",
    )
    url = second["possible_duplicates_url"]
    assert (
        url
        == f"/v1/complaints/{second['id']}/possible-duplicates?after_position={second['position']}"
    )
    answer = api.client.get(url, headers=api.headers(*INTAKE))
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert [i["id"] for i in items] == [first["id"]]
    assert items[0]["reasons"] == [
        {
            "reason": "same_product_registration",
            "product_registration": "MD224510001234",
            "matched_on": None,
            "similarity": None,
        }
    ]
    assert items[0]["score"] == 0.9 and other["id"] not in [i["id"] for i in items]
    shown = api.client.get(f"/v1/complaints/{second['id']}", headers=api.headers(*INTAKE)).json()
    assert shown["product_registration"] == "MD224510001234"


@pytest.mark.parametrize(
    "written, normal",
    [
        ("NA18201200123", "NA18201200123"),
        ("na 1820 1200 123", "NA18201200123"),
        ("POM TR 123456789", "TR123456789"),
        ("TR-123.456.789", "TR123456789"),
    ],
)
def test_registration_numbers_are_kept_in_their_normal_form(api, written, normal) -> None:
    case = _file(api, product_registration=written)
    shown = api.client.get(f"/v1/complaints/{case['id']}", headers=api.headers(*INTAKE)).json()
    assert shown["product_registration"] == normal


@pytest.mark.parametrize("bad", ["<script>", "ABC", "12", "x" * 65])
def test_a_malformed_registration_number_is_422_and_nothing_is_stored(api, bad) -> None:
    before = api.stored_events()
    answer = api.client.post(
        "/v1/complaints",
        json=complaint_body(product_registration=bad),
        headers=api.headers(*INTAKE),
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "product_registration" in answer.text
    assert api.stored_events() == before


def test_the_same_reporter_is_found_by_email_or_phone_written_differently(api) -> None:
    first = _file(
        api,
        reporter={"name": "Siti", "email": "Siti.Rahma@Example.id", "phone": "0812 3456 7890"},
        subject="Obat palsu",
        category="obat",
    )
    by_phone = _file(
        api,
        reporter={"name": "S. Rahma", "phone": "+62 812-3456-7890"},
        subject="Pelayanan lambat",
        category="yanblik_petugas",
    )
    by_email = _file(
        api,
        reporter={"email": "siti.rahma@example.id"},
        subject="Iklan suplemen",
        category="suplemen_kesehatan",
    )
    stranger = _file(api, reporter={"email": "budi@example.id"}, subject="Lain", category="lainnya")
    items = _suggested(api, by_email, stranger["position"])
    assert {i["id"]: i["reasons"][0]["matched_on"] for i in items} == {first["id"]: ["email"]}
    items = _suggested(api, by_phone, stranger["position"])
    assert {i["id"]: i["reasons"][0]["matched_on"] for i in items} == {first["id"]: ["phone"]}
    both = {i["id"]: i for i in _suggested(api, first, stranger["position"])}
    assert set(both) == {by_phone["id"], by_email["id"]}
    assert both[by_email["id"]]["score"] == 0.8


def test_similar_text_in_the_same_category_is_suggested_and_not_across_categories(
    any_api,
) -> None:
    api = any_api
    first = _file(api, subject=CREAM, description=CREAM_TEXT, category="kosmetik")
    _file(api, subject=CREAM, description=CREAM_TEXT, category="obat")  # another category
    unrelated = _file(
        api,
        subject="Keterlambatan sertifikat halal",
        description="Permohonan sertifikat belum selesai setelah tiga bulan menunggu.",
        category="kosmetik",
    )
    second = _file(
        api,
        subject="Krim pemutih wajah tanpa izin edar",
        description="Saya memakai krim pemutih wajah dari pasar tanpa nomor notifikasi BPOM, "
        "kulit wajah saya iritasi.",
        category="kosmetik",
    )
    items = _suggested(api, second)
    assert [i["id"] for i in items] == [first["id"]], items
    assert _reasons(items[0]) == {"similar_text"}
    similarity = items[0]["reasons"][0]["similarity"]
    assert 0.25 <= similarity <= 1 and items[0]["score"] == similarity
    assert unrelated["id"] not in [i["id"] for i in items]


def test_closed_cases_are_not_suggested_and_a_reopened_one_is_again(api) -> None:
    first = _file(api, product_registration="NA18201200123")
    second = _file(api, product_registration="NA18201200123")
    closed = _close(api, first)
    assert _suggested(api, second, closed["position"]) == []
    head = api.headers("unit_head", version=closed["version"])
    reopened = api.client.post(
        f"/v1/complaints/{first['id']}/reopen", json={"reason": "keberatan"}, headers=head
    )
    assert reopened.status_code == 200, reopened.text
    items = _suggested(api, second, reopened.json()["position"])
    assert [i["id"] for i in items] == [first["id"]]


def test_only_cases_the_caller_may_see_are_suggested(api) -> None:
    registration = {"product_registration": "NA18201200123"}
    mine = _file(api, **registration)
    makassar = _file(api, units=("BBPOM-MAKASSAR",), intake_unit="BBPOM-MAKASSAR", **registration)
    wbs = _file(api, roles=("wbs_officer",), channel="wbs", **registration)
    ethics = _file(api, roles=("unit_head",), category="etika_pegawai", **registration)
    probe = _file(api, **registration)
    position = probe["position"]
    assert {i["id"] for i in _suggested(api, probe, position)} == {mine["id"]}
    seen_by_head = {
        i["id"]
        for i in _suggested(api, probe, position, roles=("unit_head",), units=("ULPK-PUSAT",))
    }
    assert seen_by_head == {mine["id"], wbs["id"], ethics["id"]}
    seen_by_auditor = {
        i["id"] for i in _suggested(api, probe, position, roles=("auditor",), **AUDITOR)
    }
    assert seen_by_auditor == {mine["id"], makassar["id"]}
    # A case the caller may not see has no suggestions for them either: 404, like the case.
    hidden = api.client.get(
        f"/v1/complaints/{makassar['id']}/possible-duplicates", headers=api.headers(*INTAKE)
    )
    assert (
        hidden.status_code == 404 and hidden.headers["content-type"] == "application/problem+json"
    )
    assert api.client.get(f"/v1/complaints/{probe['id']}/possible-duplicates").status_code == 401


def test_a_unit_the_anonymous_case_was_routed_to_is_not_told_it_has_the_same_reporter(api) -> None:
    reporter = {"email": "anon@example.id"}
    earlier = _file(
        api, reporter=reporter, anonymous=True, subject="Susu basi", category="pangan_olahan"
    )
    later = _file(api, reporter=reporter, subject="Kosmetik", category="kosmetik")
    for case in (earlier, later):
        acked = _command(api, case, "acknowledge", {"message": "ok"}, *INTAKE).json()
        routed = _command(
            api, acked, "route", {"to_unit": "BBPOM-JAKARTA", "note": "periksa"}, *INTAKE
        )
        assert routed.status_code == 200, routed.text
    position = routed.json()["position"]
    assert [i["id"] for i in _suggested(api, later, position)] == [earlier["id"]]
    jakarta = {"roles": TECH, "units": ("BBPOM-JAKARTA",), "sub": "budi"}
    assert _suggested(api, later, position, **jakarta) == []
    assert _suggested(api, earlier, position, **jakarta) == []


def _row(api, case_id: str) -> tuple[Any, ...] | None:
    view = api.container.catalog.live("duplicates")
    with api.container.read_db.transaction() as cursor:
        cursor.execute(
            f"SELECT email_match, phone_match, match_text FROM {view.t('cases')} WHERE id = %s",
            [case_id],
        )
        return cursor.fetchone()


def test_after_erasure_the_reporter_no_longer_links_cases_and_a_rebuild_keeps_it_so(
    api, postgres_url, postgres_schema
) -> None:
    reporter = {"name": "Rahmawati", "email": "rahma@example.id", "phone": "0813 1111 2222"}
    erased_case = _file(
        api,
        reporter=reporter,
        subject="Kemasan jamu bocor",
        description="Rahmawati (rahma@example.id) menerima jamu dengan kemasan bocor, kode "
        "produksi 77123.",
        category="obat_tradisional",
    )
    other = _file(api, reporter=reporter, subject="Iklan obat", category="obat")
    assert [i["id"] for i in _suggested(api, other)] == [erased_case["id"]]
    email_match, phone_match, text = _row(api, erased_case["id"])
    assert email_match and phone_match
    assert "kemasan bocor" in text and "rahma@example.id" not in text and "Rahmawati" not in text

    admin = api.headers("admin", **ADMIN, version=erased_case["version"])
    erased = api.client.post(
        f"/v1/complaints/{erased_case['id']}/erase-reporter",
        json={"reason": "permintaan pelapor"},
        headers=admin,
    )
    assert erased.status_code == 200, erased.text
    position = erased.json()["position"]
    assert _suggested(api, other, position) == []
    assert _row(api, erased_case["id"]) == (None, None, "Kemasan jamu bocor")
    # Its own probe neither: no hashes, no description, once erased.
    assert _suggested(api, erased_case, position) == []

    # A rebuild replays Received (hashes in the event; the description's key is gone) and then
    # ReporterErased: the new generation ends the same.
    api.container.stop_background()  # this test runs the rebuild itself
    catalog = api.container.catalog
    view = catalog.start_rebuild("duplicates")
    projection = api.container.projections["duplicates"]
    run_to_head(Runner(api.container.event_log(), [Binding(projection, view)]))
    catalog.promote(view)
    assert catalog.live("duplicates").generation == view.generation
    assert _row(api, erased_case["id"]) == (None, None, "Kemasan jamu bocor")
    assert _row(api, other["id"])[0] is not None
    with psycopg.connect(postgres_url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "AND table_name LIKE 'rm_duplicates_%%'",
            [postgres_schema],
        ).fetchall()
        assert tables == [(view.t("cases"),)]
        hits = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.{} WHERE match_text LIKE %s").format(
                sql.Identifier(postgres_schema), sql.Identifier(view.t("cases"))
            ),
            ["%bocor, kode%"],
        ).fetchone()
    assert hits == (0,)


def test_postgres_has_pg_trgm_and_a_trigram_index(api, postgres_url, postgres_schema) -> None:
    table = api.container.catalog.live("duplicates").t("cases")
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").fetchone()
        index = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND indexname = %s",
            [postgres_schema, f"{table}_text"],
        ).fetchone()
    assert index is not None and "gin_trgm_ops" in index[0]


# --- marking a duplicate -------------------------------------------------------------------


def _mark(api, case: dict, original_id: str, roles=INTAKE, version=None, **extra: Any):
    version = case["version"] if version is None else version
    return api.client.post(
        f"/v1/complaints/{case['id']}/mark-duplicate",
        json={"original_id": original_id} | extra,
        headers=api.headers(*roles, version=version),
    )


def _acknowledged(api, case: dict) -> dict:
    answer = _command(api, case, "acknowledge", {"message": "diterima"}, *INTAKE)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_marking_a_duplicate_closes_it_once_and_the_original_lists_it(any_api) -> None:
    api = any_api
    original = _file(api, product_registration="NA18201200123")
    copy = _acknowledged(api, _file(api, product_registration="NA18201200123"))
    marked = _mark(api, copy, original["id"], note="Sama dengan laporan sebelumnya")
    assert marked.status_code == 200, marked.text
    assert marked.json()["status"] == "closed" and marked.headers["ETag"] == '"3"'
    events = api.client.get(
        f"/v1/complaints/{copy['id']}/history", headers=api.headers(*INTAKE)
    ).json()["events"]
    assert [e["type"] for e in events] == ["Received", "Acknowledged", "Closed"]
    closed = events[-1]["data"]
    assert closed["outcome"] == "duplicate" and closed["duplicate_of"] == original["id"]
    assert closed["answer"] == "Sama dengan laporan sebelumnya"
    assert closed["template_id"] is None
    shown = api.client.get(
        f"/v1/complaints/{original['id']}",
        params={"after_position": marked.json()["position"]},
        headers=api.headers(*INTAKE),
    )
    assert shown.status_code == 200, shown.text
    assert shown.json()["duplicates"] == [copy["id"]]
    dup = api.client.get(f"/v1/complaints/{copy['id']}", headers=api.headers(*INTAKE)).json()
    assert dup["outcome"] == "duplicate" and dup["duplicate_of"] == original["id"]
    assert dup["duplicates"] == []
    # It is no longer suggested: it is closed.
    assert _suggested(api, original, marked.json()["position"]) == []


def test_a_duplicate_counts_once_in_monev(api) -> None:
    original = _file(api)
    copy = _acknowledged(api, _file(api))
    marked = _mark(api, copy, original["id"])
    assert marked.status_code == 200, marked.text
    recap = api.client.get(
        "/v1/reports/monev",
        params={"year": 2026, "quarter": 4, "after_position": marked.json()["position"]},
        headers=api.headers("auditor", **AUDITOR),
    ).json()
    assert recap["totals"]["received"] == 2
    assert recap["totals"]["duplicates"] == 1 and recap["totals"]["cases"] == 1
    assert sum(recap["by_category"].values()) == 1 and "duplicate" not in recap["by_outcome"]


def test_mark_duplicate_checks_in_the_order_api_md_gives(api) -> None:
    original = _file(api)
    copy = _acknowledged(api, _file(api))
    makassar = _file(api, units=("BBPOM-MAKASSAR",), intake_unit="BBPOM-MAKASSAR")
    received = _file(api)
    before = api.stored_events()
    path = f"/v1/complaints/{copy['id']}/mark-duplicate"
    body = {"original_id": original["id"]}
    assert api.client.post(path, json=body).status_code == 401
    assert _mark(api, makassar, original["id"]).status_code == 404  # the case itself is hidden
    auditor = api.headers("auditor", **AUDITOR, version=copy["version"])
    assert api.client.post(path, json=body, headers=auditor).status_code == 403
    assert api.client.post(path, json=body, headers=api.headers(*INTAKE)).status_code == 428
    assert _mark(api, copy, original["id"], version=1).status_code == 412
    unknown_field = _mark(api, copy, original["id"], reason="x")
    assert unknown_field.status_code == 422 and "reason" in unknown_field.text
    assert _mark(api, copy, "not-a-uuid").status_code == 422
    itself = _mark(api, copy, copy["id"])
    assert itself.status_code == 422 and "original_id" in itself.text
    for missing in ("00000000-0000-4000-8000-000000000000", makassar["id"]):
        gone = _mark(api, copy, missing)
        assert (
            gone.status_code == 404 and gone.headers["content-type"] == "application/problem+json"
        )
    # Not closable from "received": 409 (the status, checked last).
    assert _mark(api, received, original["id"], roles=TECH).status_code == 409
    assert api.stored_events() == before


def test_marks_may_not_form_a_cycle(api) -> None:
    a = _acknowledged(api, _file(api))
    b = _acknowledged(api, _file(api))
    c = _acknowledged(api, _file(api))
    assert _mark(api, b, a["id"]).status_code == 200
    marked_c = _mark(api, c, b["id"])  # a chain that does not come back is allowed
    assert marked_c.status_code == 200, marked_c.text
    before = api.stored_events()
    direct = _mark(api, a, b["id"])
    assert direct.status_code == 409 and direct.json()["type"] == "/problems/duplicate-cycle"
    through = _mark(api, a, c["id"])
    assert through.status_code == 409
    by_close = api.client.post(
        f"/v1/complaints/{a['id']}/close",
        json={"outcome": "duplicate", "answer": "x", "duplicate_of": c["id"]},
        headers=api.headers(*INTAKE, version=a["version"]),
    )
    assert by_close.status_code == 409, by_close.text
    assert api.stored_events() == before


def test_mark_duplicate_is_in_the_openapi_document_with_its_errors(api) -> None:
    document = api.client.get("/openapi.json").json()
    mark = document["paths"]["/v1/complaints/{case_id}/mark-duplicate"]["post"]
    assert {"401", "403", "404", "409", "412", "422", "428"} <= set(mark["responses"])
    suggest = document["paths"]["/v1/complaints/{case_id}/possible-duplicates"]["get"]
    assert {"401", "404", "504"} <= set(suggest["responses"])
    assert "MarkDuplicateIn" in document["components"]["schemas"]


def test_looking_for_duplicates_of_a_wbs_case_is_in_the_access_log(api) -> None:
    wbs = _file(api, roles=("wbs_officer",), channel="wbs", product_registration="NA18201200123")
    assert _suggested(api, wbs, roles=("wbs_officer",), units=("ULPK-PUSAT",), sub="wbs1") == []
    log = api.client.get(
        "/v1/audit/access-log",
        params={"complaint_id": wbs["id"]},
        headers=api.headers("admin", **ADMIN),
    ).json()["items"]
    assert [(e["sub"], e["route"]) for e in log] == [
        ("wbs1", "GET /v1/complaints/{id}/possible-duplicates")
    ]
