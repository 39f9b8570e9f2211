"""Standard answers (referensi standar jawaban) picked by officers, recorded and counted."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.support import complaint_body

INTAKE = ("intake_officer",)
TECH = ("technical_officer",)
JKT = {"units": ("BBPOM-JAKARTA",), "sub": "budi"}
ADMIN = {"units": ("*",), "sub": "admin-pusat"}
AUDITOR = {"units": ("*",), "sub": "inspektorat"}
KOSMETIK = {"category": "kosmetik", "title": "Produk tanpa izin edar", "body": "Terima kasih..."}


@pytest.fixture(params=["api", "sqlite_api"])
def any_api(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


def _template(api, **overrides: Any) -> dict:
    created = api.client.post(
        "/v1/admin/answer-templates",
        json=KOSMETIK | overrides,
        headers=api.headers("admin", **ADMIN),
    )
    assert created.status_code == 201, created.text
    return created.json()


def _new_version(api, template: dict) -> dict:
    updated = api.client.put(
        f"/v1/admin/answer-templates/{template['id']}",
        json=KOSMETIK | {"body": "Terima kasih, versi kedua."},
        headers=api.headers("admin", **ADMIN, version=template["version"]),
    )
    assert updated.status_code == 200, updated.text
    return updated.json()


def _file(api, **overrides: Any) -> dict:
    created = api.client.post(
        "/v1/complaints", json=complaint_body(**overrides), headers=api.headers(*INTAKE)
    )
    assert created.status_code == 201, created.text
    return created.json()


def _post(api, case: dict, path: str, body: dict, roles=INTAKE, **who: Any):
    return api.client.post(
        f"/v1/complaints/{case['id']}/{path}",
        json=body,
        headers=api.headers(*roles, version=case["version"], **who),
    )


def _ok(answer) -> dict:
    assert answer.status_code == 200, answer.text
    return answer.json()


def _events(api, case: dict) -> list[dict]:
    return api.client.get(
        f"/v1/complaints/{case['id']}/history", headers=api.headers(*INTAKE)
    ).json()["events"]


def test_acknowledge_interim_answer_and_close_record_the_template_and_version(any_api) -> None:
    api = any_api
    first = _template(api)
    second = _new_version(api, first)
    assert second["version"] == 2
    case = _file(api)
    case = _ok(_post(api, case, "acknowledge", {"message": "Diterima", "template_id": first["id"]}))
    case = _ok(_post(api, case, "route", {"to_unit": "BBPOM-JAKARTA", "note": "periksa"}))
    interim = {
        "action": "interim_answer",
        "note": "Sedang diperiksa",
        "public": True,
        "template_id": first["id"],
        "template_version": 1,
    }
    case = _ok(_post(api, case, "follow-ups", interim, TECH, **JKT))
    close = {"outcome": "answered", "answer": "Terima kasih...", "template_id": first["id"]}
    case = _ok(_post(api, case, "close", close, TECH, **JKT))
    used = [
        (e["type"], e["data"].get("template_id"), e["data"].get("template_version"))
        for e in _events(api, case)
    ]
    assert used == [
        ("Received", None, None),
        ("Acknowledged", first["id"], 2),  # no version given: the latest
        ("Routed", None, None),
        ("FollowedUp", first["id"], 1),
        ("Closed", first["id"], 2),
    ]

    recap = api.client.get(
        "/v1/reports/monev",
        params={"year": 2026, "quarter": 4, "after_position": case["position"]},
        headers=api.headers("auditor", **AUDITOR),
    ).json()
    assert recap["by_template"] == [
        {
            "template_id": first["id"],
            "version": 2,
            "uses": 2,
            "cases": 1,
            "title": "Produk tanpa izin edar",
        },
        {
            "template_id": first["id"],
            "version": 1,
            "uses": 1,
            "cases": 1,
            "title": "Produk tanpa izin edar",
        },
    ]
    jakarta = api.client.get(
        "/v1/reports/monev",
        params={"year": 2026, "quarter": 4, "unit": "BBPOM-MAKASSAR"},
        headers=api.headers("auditor", **AUDITOR),
    ).json()
    assert jakarta["by_template"] == []

    rendered = api.client.get(
        "/v1/reports/monev",
        params={"year": 2026, "quarter": 4, "format": "csv"},
        headers=api.headers("auditor", **AUDITOR),
    )
    rows = list(csv.reader(io.StringIO(rendered.text)))
    assert [f"by_template.{first['id']}@2", "uses", "2"] in rows
    assert [f"by_template.{first['id']}@1", "title", "Produk tanpa izin edar"] in rows
    sheet = api.client.get(
        "/v1/reports/monev",
        params={"year": 2026, "quarter": 4, "format": "xlsx"},
        headers=api.headers("auditor", **AUDITOR),
    )
    cells = [
        tuple(r)
        for r in load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True)
    ]
    assert ("Produk tanpa izin edar", 2, 2, 1, first["id"]) in cells


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"template_id": "00000000-0000-4000-8000-000000000000"}, "template_id"),
        ({"template_version": 1}, "template_version"),  # without template_id
        ({"template_version": 0, "template_id": "TEMPLATE"}, "template_version"),
        ({"template_version": 3, "template_id": "TEMPLATE"}, "template_version"),
        ({"template_id": "OTHER_CATEGORY"}, "template_id"),
        ({"template_id": "not-a-uuid"}, "template_id"),
    ],
)
def test_a_bad_template_pick_is_422_naming_the_field_and_nothing_is_stored(
    api, extra, field
) -> None:
    template = _new_version(api, _template(api))
    other = _template(api, category="obat", title="Obat")
    ids = {"TEMPLATE": template["id"], "OTHER_CATEGORY": other["id"]}
    extra = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in extra.items()}
    case = _ok(_post(api, _file(api), "acknowledge", {"message": "Diterima"}))
    before = api.stored_events()
    answer = _post(api, case, "close", {"outcome": "answered", "answer": "x"} | extra)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    assert api.stored_events() == before


def test_only_an_interim_answer_follow_up_takes_a_template(api) -> None:
    template = _template(api)
    case = _ok(_post(api, _file(api), "acknowledge", {"message": "Diterima"}))
    case = _ok(_post(api, case, "route", {"to_unit": "BBPOM-JAKARTA", "note": "periksa"}))
    before = api.stored_events()
    body = {"action": "inspection", "note": "x", "template_id": template["id"]}
    answer = _post(api, case, "follow-ups", body, TECH, **JKT)
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "template_id"
    assert api.stored_events() == before


def test_a_bad_template_is_422_before_a_status_409_and_a_good_one_still_gets_409(api) -> None:
    template = _template(api)
    received = _file(api)
    bad = {"outcome": "answered", "answer": "x", "template_id": str(received["id"])}
    assert _post(api, received, "close", bad, TECH).status_code == 422
    good = {"outcome": "answered", "answer": "x", "template_id": template["id"]}
    assert _post(api, received, "close", good, TECH).status_code == 409


def test_officers_list_the_templates_to_pick_and_admins_manage_them(api) -> None:
    kosmetik = _template(api)
    _template(api, category="obat", title="Obat")
    listed = api.client.get(
        "/v1/answer-templates", params={"category": "kosmetik"}, headers=api.headers(*INTAKE)
    )
    assert listed.status_code == 200, listed.text
    assert [(t["id"], t["version"]) for t in listed.json()["items"]] == [(kosmetik["id"], 1)]
    everything = api.client.get("/v1/answer-templates", headers=api.headers("auditor", **AUDITOR))
    assert len(everything.json()["items"]) == 2
    assert api.client.get("/v1/answer-templates").status_code == 401
    admin = api.client.get("/v1/answer-templates", headers=api.headers("admin", **ADMIN))
    assert admin.status_code == 403
    bad = api.client.get(
        "/v1/answer-templates", params={"category": "senjata"}, headers=api.headers(*INTAKE)
    )
    assert bad.status_code == 422
