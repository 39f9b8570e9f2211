"""A unit's work queue over HTTP: read-your-writes, ordering, paging, scoping."""

from __future__ import annotations

from datetime import timedelta

import pytest

from infrastructure.read_models import CatalogReadSide
from projections.read_side import wait_for
from tests.support import complaint_body

INTAKE = ("intake_officer",)


@pytest.fixture(params=["api", "sqlite_api"])
def any_api(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


def _file(api, **overrides) -> dict:
    created = api.client.post(
        "/v1/complaints", json=complaint_body(**overrides), headers=api.headers(*INTAKE)
    )
    assert created.status_code == 201, created.text
    return created.json()


def test_a_new_case_shows_in_its_units_queue_once_the_read_model_caught_up(any_api) -> None:
    api = any_api
    created = _file(api)
    queue = api.client.get(
        "/v1/queues/ULPK-PUSAT",
        params={"after_position": created["position"]},
        headers=api.headers(*INTAKE),
    )
    assert queue.status_code == 200, queue.text
    body = queue.json()
    assert body["position"] >= created["position"]
    [item] = body["items"]
    assert item["id"] == created["id"]
    assert item["tracking_number"] == created["tracking_number"]
    assert item["status"] == "received"
    assert item["next_stage"] == "acknowledge" and item["sla_state"] == "on_track"


def test_the_queue_orders_by_next_due_and_pages_with_a_cursor(api) -> None:
    old = _file(api, received_at=(api.clock.now() - timedelta(days=10)).isoformat())
    fresh = _file(api)
    info = _file(api, kind="information_request")
    wait = {"after_position": info["position"]}
    first = api.client.get(
        "/v1/queues/ULPK-PUSAT", params=wait | {"limit": 2}, headers=api.headers(*INTAKE)
    ).json()
    assert first["items"][0]["id"] == old["id"]
    assert first["items"][0]["sla_state"] == "breached"
    assert first["next_cursor"]
    second = api.client.get(
        "/v1/queues/ULPK-PUSAT",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=api.headers(*INTAKE),
    ).json()
    listed = [i["id"] for i in first["items"] + second["items"]]
    assert sorted(listed) == sorted([old["id"], fresh["id"], info["id"]])
    assert len(set(listed)) == 3 and second["next_cursor"] is None


def test_a_routed_case_moves_to_the_new_units_queue(api) -> None:
    created = _file(api)
    api.client.post(
        f"/v1/complaints/{created['id']}/acknowledge",
        json={"message": "diterima"},
        headers=api.headers(*INTAKE, version=1),
    )
    routed = api.client.post(
        f"/v1/complaints/{created['id']}/route",
        json={"to_unit": "BBPOM-JAKARTA", "note": "periksa", "assignee": "budi"},
        headers=api.headers(*INTAKE, version=2),
    ).json()
    wait = {"after_position": routed["position"]}
    jakarta = api.headers("technical_officer", units=("BBPOM-JAKARTA",), sub="budi")
    theirs = api.client.get("/v1/queues/BBPOM-JAKARTA", params=wait, headers=jakarta).json()
    assert [i["id"] for i in theirs["items"]] == [created["id"]]
    assert theirs["items"][0]["next_stage"] == "first_follow_up"
    mine = api.client.get(
        "/v1/queues/BBPOM-JAKARTA", params=wait | {"assignee": "rina"}, headers=jakarta
    ).json()
    assert mine["items"] == []
    ours = api.client.get("/v1/queues/ULPK-PUSAT", params=wait, headers=api.headers(*INTAKE))
    assert ours.json()["items"] == []
    counts = api.client.get("/v1/queues/BBPOM-JAKARTA/counts", params=wait, headers=jakarta)
    assert counts.json()["counts"] == {"routed": 1} and counts.json()["total_open"] == 1


def test_a_unit_the_caller_does_not_serve_is_forbidden_and_an_unknown_one_not_found(api) -> None:
    other = api.client.get("/v1/queues/BBPOM-JAKARTA", headers=api.headers(*INTAKE))
    assert other.status_code == 403
    assert other.headers["content-type"] == "application/problem+json"
    unknown = api.client.get("/v1/queues/NO-SUCH-UNIT", headers=api.headers(*INTAKE))
    assert unknown.status_code == 404
    bad_cursor = api.client.get(
        "/v1/queues/ULPK-PUSAT", params={"cursor": "!!"}, headers=api.headers(*INTAKE)
    )
    assert bad_cursor.status_code == 422


def test_whistle_blowing_cases_stay_out_of_ordinary_officers_queues(api) -> None:
    wbs = api.client.post(
        "/v1/complaints",
        json=complaint_body(channel="wbs", category="etika_pegawai"),
        headers=api.headers("wbs_officer"),
    ).json()
    wait = {"after_position": wbs["position"]}
    officer = api.client.get("/v1/queues/ULPK-PUSAT", params=wait, headers=api.headers(*INTAKE))
    assert officer.json()["items"] == []
    head = api.client.get("/v1/queues/ULPK-PUSAT", params=wait, headers=api.headers("unit_head"))
    assert [i["id"] for i in head.json()["items"]] == [wbs["id"]]


def test_waiting_for_a_position_never_reached_answers_504(api) -> None:
    api.container.settings.read_wait_seconds = 0.3
    api.client.app.state.services.wait_seconds = 0.3
    late = api.client.get(
        "/v1/queues/ULPK-PUSAT",
        params={"after_position": 10**9},
        headers=api.headers(*INTAKE),
    )
    assert late.status_code == 504
    assert late.headers["content-type"] == "application/problem+json"


def test_metrics_show_each_read_models_lag(api) -> None:
    created = _file(api)
    api.client.get(
        "/v1/queues/ULPK-PUSAT",
        params={"after_position": created["position"]},
        headers=api.headers(*INTAKE),
    )
    text = api.client.get("/metrics").text
    assert 'aduan_read_model_lag_events{read_model="queues"}' in text
    assert 'aduan_read_model_events_total{read_model="queues"}' in text


def test_a_nul_character_in_a_subject_does_not_stop_the_read_models_on_postgresql(api) -> None:
    # PostgreSQL text cannot hold NUL: a subject or description carrying one (an .eml file, a
    # gateway's message, any JSON client) once stopped every read model at that event.
    poisoned = _file(api, subject="Krim\x00 palsu", description="Isi\x00 pengaduan krim")
    clean = _file(api)
    read_side = CatalogReadSide(api.container.catalog)
    for name in read_side.names():
        assert wait_for(read_side, name, clean["position"], 20), name
    queue = api.client.get(
        "/v1/queues/ULPK-PUSAT",
        params={"after_position": clean["position"]},
        headers=api.headers(*INTAKE),
    )
    assert queue.status_code == 200, queue.text
    subjects = {item["id"]: item["subject"] for item in queue.json()["items"]}
    assert subjects == {poisoned["id"]: "Krim palsu", clean["id"]: "Krim pemutih tanpa izin edar"}
