"""The audit trail over HTTP: the log, paging and filtering, verification, who may read it."""

from __future__ import annotations

import psycopg
import pytest

from tests.support import complaint_body

INTAKE = ("intake_officer",)


@pytest.fixture(params=["api", "sqlite_api"])
def any_api(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


def auditor(api, role: str = "auditor") -> dict[str, str]:
    return api.headers(role, units=("*",), sub="inspektorat")


def _file(api) -> dict:
    created = api.client.post("/v1/complaints", json=complaint_body(), headers=api.headers(*INTAKE))
    assert created.status_code == 201, created.text
    return created.json()


def _acknowledge(api, case: dict) -> dict:
    done = api.client.post(
        f"/v1/complaints/{case['id']}/acknowledge",
        json={"message": "diterima"},
        headers=api.headers(*INTAKE, version=1),
    )
    assert done.status_code == 200, done.text
    return done.json()


def test_an_auditor_reads_every_event_of_a_case_in_the_trail(any_api) -> None:
    api = any_api
    case = _file(api)
    last = _acknowledge(api, case)
    log = api.client.get(
        "/v1/audit/log",
        params={"after_position": last["position"]},
        headers=auditor(api),
    )
    assert log.status_code == 200, log.text
    body = log.json()
    entries = body["entries"]
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert {e["complaint_id"] for e in entries} == {case["id"]}
    assert [e["type"] for e in entries] == [
        "Received",
        "TrackingNumberIndex.Assigned",
        "Acknowledged",
    ]
    assert entries[0]["actor"] == {"sub": "siti", "unit": "ULPK-PUSAT"}
    assert entries[0]["version"] == 1 and entries[2]["version"] == 2
    assert entries[1]["prev_hash"] == entries[0]["hash"]
    assert body["next_after"] is None and body["position"] >= last["position"]
    assert all(k not in str(body) for k in ("Siti Rahma", "siti@example.id", "Iritasi"))


def test_the_log_pages_with_after_and_filters_by_case(api) -> None:
    first, second = _file(api), _file(api)
    last = _acknowledge(api, first)
    wait = {"after_position": last["position"]}
    page = api.client.get("/v1/audit/log", params=wait | {"limit": 2}, headers=auditor(api))
    assert [e["seq"] for e in page.json()["entries"]] == [1, 2]
    assert page.json()["next_after"] == 2
    rest = api.client.get(
        "/v1/audit/log", params={"after": 2, "limit": 1000}, headers=auditor(api)
    ).json()
    assert [e["seq"] for e in rest["entries"]] == [3, 4, 5]
    only = api.client.get(
        "/v1/audit/log", params={"complaint_id": second["id"]}, headers=auditor(api)
    ).json()
    assert [e["seq"] for e in only["entries"]] == [3, 4]
    too_many = api.client.get("/v1/audit/log", params={"limit": 1001}, headers=auditor(api))
    assert too_many.status_code == 422


def test_verify_reports_ok_with_the_entry_count_and_head(any_api) -> None:
    api = any_api
    last = _acknowledge(api, _file(api))
    verified = api.client.get(
        "/v1/audit/verify", params={"after_position": last["position"]}, headers=auditor(api)
    )
    assert verified.status_code == 200, verified.text
    body = verified.json()
    head = api.client.get("/v1/audit/log", headers=auditor(api)).json()["entries"][-1]["hash"]
    assert body["ok"] is True and body["entries"] == 3 and body["head"] == head
    assert "seq" not in body


def test_verify_names_the_first_bad_seq_once_the_event_store_was_changed(api) -> None:
    _file(api)
    last = _acknowledge(api, _file(api))
    api.client.get(
        "/v1/audit/log", params={"after_position": last["position"]}, headers=auditor(api)
    )
    settings = api.container.settings
    options = f"-c search_path={settings.postgres_schema}"
    with psycopg.connect(settings.database_url, options=options) as conn:
        conn.execute("DELETE FROM aduan_events WHERE notification_id = 4")
    body = api.client.get("/v1/audit/verify", headers=auditor(api)).json()
    assert body["ok"] is False and body["seq"] == 4 and "removed" in body["reason"]
    assert body["entries"] == 3


@pytest.mark.parametrize(
    "role", ["intake_officer", "technical_officer", "unit_head", "wbs_officer"]
)
def test_only_auditors_and_admins_read_the_trail(api, role) -> None:
    for path in ("/v1/audit/log", "/v1/audit/verify"):
        refused = api.client.get(path, headers=api.headers(role, units=("*",)))
        assert refused.status_code == 403, (path, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert api.client.get(path, headers=auditor(api, "admin")).status_code == 200
        assert api.client.get(path).status_code == 401
