"""A case's whole life over HTTP, on PostgreSQL and on the embedded SQLite default."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support import complaint_body

INTAKE = ("intake_officer",)
TECH = ("technical_officer",)
JKT = ("BBPOM-JAKARTA",)


@pytest.fixture(params=["api", "sqlite_api"])
def any_api(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


def test_a_case_is_received_acknowledged_routed_followed_up_closed_and_reopened(any_api) -> None:
    api = any_api
    created = api.client.post("/v1/complaints", json=complaint_body(), headers=api.headers(*INTAKE))
    assert created.status_code == 201, created.text
    body = created.json()
    case_id = body["id"]
    assert created.headers["Location"] == f"/v1/complaints/{case_id}"
    assert created.headers["ETag"] == '"1"'
    assert body["status"] == "received" and body["version"] == 1 and body["position"] >= 1
    assert len(body["tracking_number"].replace("-", "")) == 11

    steps = [
        ("acknowledge", {"message": "Pengaduan diterima"}, INTAKE, ("ULPK-PUSAT",), "acknowledged"),
        (
            "route",
            {"to_unit": "BBPOM-JAKARTA", "note": "Periksa sarana"},
            INTAKE,
            ("ULPK-PUSAT",),
            "routed",
        ),
        (
            "follow-ups",
            {"action": "inspection", "note": "Diperiksa", "public": True},
            TECH,
            JKT,
            "in_follow_up",
        ),
        ("close", {"outcome": "substantiated", "answer": "Produk ditarik"}, TECH, JKT, "closed"),
        ("reopen", {"reason": "Pelapor keberatan"}, ("unit_head",), JKT, "reopened"),
    ]
    position = body["position"]
    for version, (path, payload, roles, units, status) in enumerate(steps, start=1):
        api.clock.advance(timedelta(hours=2))
        answer = api.client.post(
            f"/v1/complaints/{case_id}/{path}",
            json=payload,
            headers=api.headers(*roles, units=units, version=version),
        )
        assert answer.status_code == 200, (path, answer.text)
        assert answer.json()["status"] == status
        assert answer.json()["version"] == version + 1
        assert answer.headers["ETag"] == f'"{version + 1}"'
        assert answer.json()["position"] > position
        position = answer.json()["position"]

    case = api.client.get(f"/v1/complaints/{case_id}", headers=api.headers("auditor", units=("*",)))
    assert case.status_code == 200
    assert case.headers["ETag"] == '"6"'
    view = case.json()
    assert view["status"] == "reopened" and view["handling_unit"] == "BBPOM-JAKARTA"
    stages = {s["stage"]: s for s in view["service_levels"]}
    assert set(stages) == {"acknowledge", "route", "first_follow_up", "close"}
    assert stages["acknowledge"]["state"] == "met"
    assert stages["close"]["started_at"] == view["reopened_at"]
    assert stages["close"]["due_at"].endswith("+07:00")

    history = api.client.get(
        f"/v1/complaints/{case_id}/history", headers=api.headers("auditor", units=("*",))
    ).json()["events"]
    assert [e["type"] for e in history] == [
        "Received",
        "Acknowledged",
        "Routed",
        "FollowedUp",
        "Closed",
        "Reopened",
    ]
    assert history[3]["actor"] == {"sub": "siti", "unit": "BBPOM-JAKARTA"}
    assert history[0]["data"]["reporter"]["email"] == "siti@example.id"


def test_the_case_is_shown_as_it_stood_at_a_version_or_a_time(api) -> None:
    created = api.client.post(
        "/v1/complaints", json=complaint_body(), headers=api.headers(*INTAKE)
    ).json()
    before_ack = (api.clock.now() + timedelta(minutes=30)).isoformat()
    api.clock.advance(timedelta(hours=1))
    api.client.post(
        f"/v1/complaints/{created['id']}/acknowledge",
        json={"message": "ok"},
        headers=api.headers(*INTAKE, version=1),
    )
    auditor = api.headers("auditor", units=("*",))
    at_v1 = api.client.get(f"/v1/complaints/{created['id']}?as_of_version=1", headers=auditor)
    at_time = api.client.get(
        f"/v1/complaints/{created['id']}", params={"as_of": before_ack}, headers=auditor
    )
    now = api.client.get(f"/v1/complaints/{created['id']}", headers=auditor)
    assert at_v1.json()["status"] == "received" and at_v1.headers["ETag"] == '"1"'
    assert at_time.json()["status"] == "received"
    assert now.json()["status"] == "acknowledged"
    naive = api.client.get(
        f"/v1/complaints/{created['id']}?as_of=2026-11-02T10:00:00", headers=auditor
    )
    assert naive.status_code == 422


def test_a_back_dated_receipt_counts_from_when_it_arrived(api) -> None:
    arrived = (api.clock.now() - timedelta(days=7)).isoformat()
    created = api.client.post(
        "/v1/complaints", json=complaint_body(received_at=arrived), headers=api.headers(*INTAKE)
    ).json()
    view = api.client.get(f"/v1/complaints/{created['id']}", headers=api.headers(*INTAKE)).json()
    acknowledge = next(s for s in view["service_levels"] if s["stage"] == "acknowledge")
    assert acknowledge["state"] == "breached"
    assert view["received_at"] != view["recorded_at"]


def test_repeating_a_create_with_its_idempotency_key_creates_nothing_more(api) -> None:
    headers = api.headers(*INTAKE) | {"Idempotency-Key": "form-42"}
    first = api.client.post("/v1/complaints", json=complaint_body(), headers=headers)
    events = api.stored_events()
    again = api.client.post("/v1/complaints", json=complaint_body(), headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    changed = api.client.post(
        "/v1/complaints", json=complaint_body(subject="lain"), headers=headers
    )
    assert changed.status_code == 422
    assert changed.headers["content-type"] == "application/problem+json"
    other_caller = api.headers(*INTAKE, sub="rina") | {"Idempotency-Key": "form-42"}
    theirs = api.client.post("/v1/complaints", json=complaint_body(), headers=other_caller)
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
    assert api.stored_events() == events + 2  # their case and its tracking-number index
