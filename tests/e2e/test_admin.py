"""Agency configuration over HTTP: closures, SLA policies, answer templates, auditors' grants."""

from __future__ import annotations

from datetime import datetime

import pytest

from interfaces.bootstrap import bootstrap
from tests.support import complaint_body

ADMIN = {"units": ("*",), "sub": "admin-pusat"}
OFFICER_ROLES = ("intake_officer", "technical_officer", "unit_head", "wbs_officer", "auditor")
POLICY = {
    "acknowledge": 1,
    "route": 2,
    "first_follow_up": 4,
    "close": {
        "information_request": 4,
        "complaint": 10,
        "complaint_inspection": 45,
        "suggestion": 10,
    },
    "archive_after_silence": 10,
    "description": "Maklumat pelayanan 2027",
}
CLOSURE = {"days": ["2026-11-03"], "zone": "Asia/Jakarta", "reason": "Banjir di kantor"}
TEMPLATE = {"category": "kosmetik", "title": "Produk tanpa izin edar", "body": "Terima kasih..."}
GRANT = {"sub": "inspektorat", "unit": "ULPK-PUSAT", "note": "Audit WBS 2026"}
ENDPOINTS = [
    ("GET", "/v1/admin/closures", None),
    ("POST", "/v1/admin/closures", CLOSURE),
    ("GET", "/v1/admin/sla-policies", None),
    ("POST", "/v1/admin/sla-policies", POLICY),
    ("GET", "/v1/admin/answer-templates", None),
    ("POST", "/v1/admin/answer-templates", TEMPLATE),
    ("GET", "/v1/admin/grants", None),
    ("POST", "/v1/admin/grants", GRANT),
]


def _admin(api, **extra) -> dict[str, str]:
    return api.headers("admin", **ADMIN, **extra)


def _file(api, roles=("intake_officer",), **overrides) -> dict:
    units = (overrides.get("intake_unit", "ULPK-PUSAT"),)
    created = api.client.post(
        "/v1/complaints",
        json=complaint_body(**overrides),
        headers=api.headers(*roles, units=units),
    )
    assert created.status_code == 201, created.text
    return created.json()


def _due(api, case_id: str, stage: str = "acknowledge") -> datetime:
    auditor = api.headers("auditor", units=("*",), sub="inspektorat")
    case = api.client.get(f"/v1/complaints/{case_id}", headers=auditor)
    assert case.status_code == 200, case.text
    [found] = [s for s in case.json()["service_levels"] if s["stage"] == stage]
    return datetime.fromisoformat(found["due_at"])


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_only_admins_use_the_admin_endpoints(api, method, path, body) -> None:
    for role in OFFICER_ROLES:
        answer = api.client.request(
            method, path, json=body, headers=api.headers(role, units=("*",))
        )
        assert answer.status_code == 403, (role, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    answer = api.client.request(method, path, json=body, headers=_admin(api))
    assert answer.status_code in (200, 201), answer.text


def test_a_non_admin_gets_403_even_with_an_invalid_body(api) -> None:
    answer = api.client.post(
        "/v1/admin/closures", json={"bogus": 1}, headers=api.headers("auditor", units=("*",))
    )
    assert answer.status_code == 403


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/admin/closures", {"zone": "Asia/Jakarta", "reason": "x"}, "days"),
        ("/v1/admin/closures", {"days": [], "zone": "Asia/Jakarta", "reason": "x"}, "days"),
        ("/v1/admin/closures", {"days": ["2026-11-03"], "reason": "x"}, "zone"),
        (
            "/v1/admin/closures",
            {"days": ["2026-11-03"], "zone": "Asia/Jakarta", "unit": "ULPK-PUSAT", "reason": "x"},
            "zone",
        ),
        (
            "/v1/admin/closures",
            {"days": ["2026-11-03"], "zone": "Europe/Paris", "reason": "x"},
            "zone",
        ),
        ("/v1/admin/closures", {"days": ["2026-11-03"], "unit": "NOWHERE", "reason": "x"}, "unit"),
        ("/v1/admin/sla-policies", POLICY | {"acknowledge": 0}, "acknowledge"),
        ("/v1/admin/sla-policies", POLICY | {"route": -2}, "route"),
        ("/v1/admin/sla-policies", POLICY | {"route": "3"}, "route"),
        ("/v1/admin/sla-policies", POLICY | {"route": 2.5}, "route"),
        (
            "/v1/admin/sla-policies",
            POLICY | {"close": {"information_request": 4, "complaint": 10, "suggestion": 10}},
            "close.complaint_inspection",
        ),
        (
            "/v1/admin/sla-policies",
            POLICY | {"close": POLICY["close"] | {"petition": 3}},
            "close.petition",
        ),
        ("/v1/admin/sla-policies", POLICY | {"version": 7}, "version"),
        ("/v1/admin/answer-templates", TEMPLATE | {"category": "senjata"}, "category"),
        ("/v1/admin/answer-templates", TEMPLATE | {"title": ""}, "title"),
        ("/v1/admin/grants", GRANT | {"unit": "NOWHERE"}, "unit"),
        ("/v1/admin/grants", GRANT | {"sub": ""}, "sub"),
    ],
)
def test_invalid_configuration_is_rejected_with_422_and_nothing_stored(
    api, path, body, field
) -> None:
    before = api.stored_events()
    answer = api.client.post(path, json=body, headers=_admin(api))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert field in {e["field"] for e in answer.json()["errors"]}, answer.json()
    assert api.stored_events() == before


def test_a_closure_moves_the_due_date_of_a_new_case(api) -> None:
    before = _file(api)
    # Monday 09:00 WIB: acknowledge is due at the end of Thursday (3 working days).
    assert _due(api, before["id"]).date().isoformat() == "2026-11-05"
    added = api.client.post("/v1/admin/closures", json=CLOSURE, headers=_admin(api))
    assert added.status_code == 201, added.text
    after = _file(api)
    assert _due(api, after["id"]).date().isoformat() == "2026-11-06"
    makassar = _file(api, intake_unit="BBPOM-MAKASSAR")
    # The closure is Jakarta time's only: Makassar still counts Tuesday.
    assert _due(api, makassar["id"]).date().isoformat() == "2026-11-05"
    listed = api.client.get("/v1/admin/closures", headers=_admin(api)).json()["items"]
    assert [c["days"] for c in listed] == [["2026-11-03"]]


def test_a_units_own_closure_moves_only_that_units_deadlines(api) -> None:
    answer = api.client.post(
        "/v1/admin/closures",
        json={"days": ["2026-11-03", "2026-11-04"], "unit": "ULPK-PUSAT", "reason": "Renovasi"},
        headers=_admin(api),
    )
    assert answer.status_code == 201, answer.text
    pusat = _file(api)
    jakarta = _file(api, intake_unit="BBPOM-JAKARTA")
    assert _due(api, pusat["id"]).date().isoformat() == "2026-11-09"
    assert _due(api, jakarta["id"]).date().isoformat() == "2026-11-05"


def test_a_new_policy_version_applies_to_new_cases_only(api) -> None:
    old = _file(api)
    added = api.client.post("/v1/admin/sla-policies", json=POLICY, headers=_admin(api))
    assert added.status_code == 201, added.text
    assert added.json()["version"] == 2 and added.json()["current"] is True
    new = _file(api)
    assert _due(api, old["id"]).date().isoformat() == "2026-11-05"
    assert _due(api, new["id"]).date().isoformat() == "2026-11-03"
    headers = api.headers("intake_officer")
    assert (
        api.client.get(f"/v1/complaints/{old['id']}", headers=headers).json()["policy_version"] == 1
    )
    assert (
        api.client.get(f"/v1/complaints/{new['id']}", headers=headers).json()["policy_version"] == 2
    )
    versions = api.client.get("/v1/admin/sla-policies", headers=_admin(api)).json()["items"]
    assert [(p["version"], p["current"]) for p in versions] == [(1, False), (2, True)]


def test_answer_templates_are_versioned_and_updated_with_if_match(api) -> None:
    created = api.client.post("/v1/admin/answer-templates", json=TEMPLATE, headers=_admin(api))
    assert created.status_code == 201, created.text
    assert created.headers["ETag"] == '"1"'
    template = created.json()
    path = f"/v1/admin/answer-templates/{template['id']}"
    changed = TEMPLATE | {"body": "Terima kasih, laporan Anda kami tindak lanjuti."}
    assert api.client.put(path, json=changed, headers=_admin(api)).status_code == 428
    assert api.client.put(path, json=changed, headers=_admin(api, version=7)).status_code == 412
    updated = api.client.put(path, json=changed, headers=_admin(api, version=1))
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2 and updated.headers["ETag"] == '"2"'
    again = api.client.put(path, json=changed, headers=_admin(api, version=1))
    assert again.status_code == 412
    listed = api.client.get(
        "/v1/admin/answer-templates", params={"category": "kosmetik"}, headers=_admin(api)
    ).json()["items"]
    assert [(t["id"], t["version"]) for t in listed] == [(template["id"], 2)]
    versions = api.client.get(path, headers=_admin(api)).json()["items"]
    assert [v["version"] for v in versions] == [1, 2]
    missing = "/v1/admin/answer-templates/00000000-0000-4000-8000-000000000000"
    assert api.client.put(missing, json=changed, headers=_admin(api, version=1)).status_code == 404
    assert (
        api.client.put(
            path, json=changed | {"version": 3}, headers=_admin(api, version=2)
        ).status_code
        == 422
    )


def test_a_grant_lets_that_auditor_and_no_other_see_wbs_cases(api) -> None:
    wbs = _file(api, roles=("wbs_officer",), channel="wbs", category="yanblik_petugas")
    case = f"/v1/complaints/{wbs['id']}"
    granted = api.headers("auditor", units=("*",), sub="inspektorat")
    other = api.headers("auditor", units=("*",), sub="evaluator-rb")
    for path in (case, f"{case}/history"):
        assert api.client.get(path, headers=granted).status_code == 404
    log = {"complaint_id": wbs["id"], "after_position": wbs["position"]}
    assert api.client.get("/v1/audit/log", params=log, headers=granted).status_code == 404
    given = api.client.post("/v1/admin/grants", json=GRANT, headers=_admin(api))
    assert given.status_code == 201, given.text
    for path in (case, f"{case}/history"):
        assert api.client.get(path, headers=granted).status_code == 200
        assert api.client.get(path, headers=other).status_code == 404
    trail = api.client.get("/v1/audit/log", params=log, headers=granted)
    assert trail.status_code == 200 and trail.json()["entries"]
    unfiltered = api.client.get("/v1/audit/log", params={"limit": 1000}, headers=other).json()
    assert wbs["id"] not in {e["complaint_id"] for e in unfiltered["entries"]}
    assert unfiltered["excluded_restricted"] >= 1
    # Read-only all the same: a granted auditor still may not act on the case.
    ack = api.client.post(
        f"{case}/acknowledge",
        json={"message": "diterima"},
        headers=granted | {"If-Match": '"1"'},
    )
    assert ack.status_code == 403
    revoked = api.client.delete(f"/v1/admin/grants/{given.json()['id']}", headers=_admin(api))
    assert revoked.status_code == 204
    assert api.client.get(case, headers=granted).status_code == 404


def test_a_granted_auditor_sees_wbs_cases_in_reports_too(api) -> None:
    wbs = _file(api, roles=("wbs_officer",), channel="wbs", category="yanblik_petugas")
    query = {"year": 2026, "quarter": 4, "unit": "ULPK-PUSAT", "after_position": wbs["position"]}
    auditor = api.headers("auditor", units=("*",), sub="inspektorat")
    before = api.client.get("/v1/reports/monev", params=query, headers=auditor).json()
    assert before["excluded_restricted"] == 1
    api.client.post("/v1/admin/grants", json=GRANT, headers=_admin(api))
    after = api.client.get("/v1/reports/monev", params=query, headers=auditor).json()
    assert after["excluded_restricted"] == 0


def test_configuration_survives_a_restart_of_the_service(api) -> None:
    for method, path, body in ENDPOINTS:
        if method == "POST":
            answer = api.client.post(path, json=body, headers=_admin(api))
            assert answer.status_code == 201, answer.text
    restarted = bootstrap(api.container.settings, clock=api.clock)
    try:
        admin = restarted.admin
        assert admin is not None
        principal = api.container.tokens.authenticate(api.token("admin", units=("*",)))
        assert [c.reason for c in admin.closures(principal)] == [CLOSURE["reason"]]
        assert [p.policy.version for p in admin.sla_policies(principal)] == [1, 2]
        assert restarted.complaints.policies.current().version == 2
        assert [t.title for t in admin.answer_templates(principal)] == [TEMPLATE["title"]]
        assert admin.grants_for("inspektorat") == frozenset({"ULPK-PUSAT"})
        calendar = restarted.complaints.calendars.calendar()
        assert not calendar.is_working_day(datetime(2026, 11, 3).date(), "Asia/Jakarta")
    finally:
        restarted.close()


def test_configuration_changes_are_in_the_audit_trail(api) -> None:
    added = api.client.post("/v1/admin/closures", json=CLOSURE, headers=_admin(api))
    assert added.status_code == 201
    position = api.stored_events()
    trail = api.client.get(
        "/v1/audit/log", params={"after_position": position}, headers=_admin(api)
    ).json()
    types = [e["type"] for e in trail["entries"]]
    assert "AgencyConfiguration.ClosureAdded" in types
    actors = {e["actor"]["sub"] for e in trail["entries"] if e["actor"]}
    assert ADMIN["sub"] in actors
    verified = api.client.get("/v1/audit/verify", headers=_admin(api)).json()
    assert verified["ok"] is True
