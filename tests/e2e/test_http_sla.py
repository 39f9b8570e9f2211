"""SLA alerts and the early-warning report over HTTP: states now, JSON and CSV, scoping."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from tests.support import complaint_body

INTAKE = ("intake_officer",)


@pytest.fixture(params=["api", "sqlite_api"])
def any_api(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


def _file(api, roles=INTAKE, **overrides) -> dict:
    units = (overrides.get("intake_unit", "ULPK-PUSAT"),)
    created = api.client.post(
        "/v1/complaints",
        json=complaint_body(**overrides),
        headers=api.headers(*roles, units=units),
    )
    assert created.status_code == 201, created.text
    return created.json()


def _ten_days_ago(api) -> str:
    return (api.clock.now() - timedelta(days=10)).isoformat()


def test_alerts_list_the_stages_due_soon_or_breached_right_now(any_api) -> None:
    api = any_api
    old = _file(api, received_at=_ten_days_ago(api))
    fresh = _file(api)
    wait = {"after_position": fresh["position"]}
    answer = api.client.get("/v1/sla/alerts", params=wait, headers=api.headers(*INTAKE))
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert {(i["id"], i["stage"], i["state"]) for i in items} == {
        (old["id"], "acknowledge", "breached"),
        (old["id"], "route", "breached"),
    }
    assert all(i["tracking_number"] == old["tracking_number"] for i in items)
    assert all(i["unit"] == "ULPK-PUSAT" for i in items)

    # Two days on, with no new event, the fresh case's first stages are due soon.
    api.clock.advance(timedelta(days=2))
    soon = api.client.get(
        "/v1/sla/alerts",
        params={"state": "due_soon", "unit": "ULPK-PUSAT"},
        headers=api.headers(*INTAKE),
    ).json()["items"]
    assert {(i["id"], i["stage"]) for i in soon} == {
        (fresh["id"], "acknowledge"),
        (fresh["id"], "route"),
    }
    breached = api.client.get(
        "/v1/sla/alerts", params={"state": "breached"}, headers=api.headers(*INTAKE)
    ).json()["items"]
    assert {i["id"] for i in breached} == {old["id"]}


def test_the_early_warning_report_groups_a_units_stages_by_state_in_json_and_csv(api) -> None:
    old = _file(api, received_at=_ten_days_ago(api))
    fresh = _file(api)
    params = {"unit": "ULPK-PUSAT", "after_position": fresh["position"]}
    today = api.client.get("/v1/sla/early-warning", params=params, headers=api.headers(*INTAKE))
    assert today.status_code == 200, today.text
    report = today.json()
    assert report["date"] == "2026-11-02" and report["zone"] == "Asia/Jakarta"
    assert report["counts"] == {"breached": 2, "due_soon": 0, "total": 2}
    assert {i["id"] for i in report["breached"]} == {old["id"]}
    assert report["excluded_restricted"] == 0

    wednesday = api.client.get(
        "/v1/sla/early-warning",
        params=params | {"date": "2026-11-04"},
        headers=api.headers("unit_head"),
    ).json()
    assert wednesday["counts"] == {"breached": 2, "due_soon": 2, "total": 4}
    assert {(i["id"], i["stage"]) for i in wednesday["due_soon"]} == {
        (fresh["id"], "acknowledge"),
        (fresh["id"], "route"),
    }

    as_csv = api.client.get(
        "/v1/sla/early-warning",
        params=params | {"date": "2026-11-04", "format": "csv"},
        headers=api.headers("auditor", units=("*",)),
    )
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["state"] for r in rows] == ["breached", "breached", "due_soon", "due_soon"]
    assert {r["tracking_number"] for r in rows} == {
        old["tracking_number"],
        fresh["tracking_number"],
    }
    by_accept = api.client.get(
        "/v1/sla/early-warning",
        params=params,
        headers=api.headers(*INTAKE) | {"Accept": "text/csv"},
    )
    assert by_accept.headers["content-type"].startswith("text/csv")
    assert len(list(csv.DictReader(io.StringIO(by_accept.text)))) == 2


def test_another_units_alerts_are_forbidden_and_an_unknown_unit_is_not_found(api) -> None:
    for path, params in (
        ("/v1/sla/alerts", {"unit": "BBPOM-JAKARTA"}),
        ("/v1/sla/early-warning", {"unit": "BBPOM-JAKARTA"}),
    ):
        other = api.client.get(path, params=params, headers=api.headers(*INTAKE))
        assert other.status_code == 403
        assert other.headers["content-type"] == "application/problem+json"
        unknown = api.client.get(path, params={"unit": "NO-SUCH"}, headers=api.headers(*INTAKE))
        assert unknown.status_code == 404
        assert api.client.get(path, params=params).status_code == 401
    admin = api.client.get("/v1/sla/alerts", headers=api.headers("admin", units=("*",)))
    assert admin.status_code == 403


def test_an_officer_sees_only_the_alerts_of_units_they_serve(api) -> None:
    ours = _file(api, received_at=_ten_days_ago(api))
    theirs = _file(api, received_at=_ten_days_ago(api), intake_unit="BBPOM-JAKARTA")
    wait = {"after_position": theirs["position"]}
    mine = api.client.get("/v1/sla/alerts", params=wait, headers=api.headers(*INTAKE)).json()
    assert {i["id"] for i in mine["items"]} == {ours["id"]}
    everyone = api.client.get(
        "/v1/sla/alerts", params=wait, headers=api.headers("auditor", units=("*",))
    ).json()
    assert {i["id"] for i in everyone["items"]} == {ours["id"], theirs["id"]}


def test_restricted_cases_are_left_out_unless_the_caller_sees_them(api) -> None:
    wbs = _file(
        api,
        roles=("wbs_officer",),
        channel="wbs",
        category="etika_pegawai",
        received_at=_ten_days_ago(api),
    )
    wait = {"after_position": wbs["position"]}
    officer = api.client.get("/v1/sla/alerts", params=wait, headers=api.headers(*INTAKE))
    assert officer.json()["items"] == []
    head = api.client.get("/v1/sla/alerts", params=wait, headers=api.headers("unit_head"))
    assert {i["id"] for i in head.json()["items"]} == {wbs["id"]}
    report = api.client.get(
        "/v1/sla/early-warning",
        params=wait | {"unit": "ULPK-PUSAT"},
        headers=api.headers(*INTAKE),
    ).json()
    assert report["counts"]["total"] == 0 and report["excluded_restricted"] == 2
    shown = api.client.get(
        "/v1/sla/early-warning",
        params=wait | {"unit": "ULPK-PUSAT"},
        headers=api.headers("wbs_officer"),
    ).json()
    assert shown["counts"]["breached"] == 2 and shown["excluded_restricted"] == 0
