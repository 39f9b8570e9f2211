"""The complainant's side over HTTP on PostgreSQL: file, track with the PIN, reply, rate, object."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.complaints import PUBLIC_IDEMPOTENCY_NAMESPACE
from domain.public_access import PublicAccess
from infrastructure.settings import Settings
from tests.e2e.conftest import SECRET, Api, _api
from tests.e2e.test_http_hardening import service

INTAKE = ("intake_officer",)
TECH = ("technical_officer",)
HEAD = ("unit_head",)
JKT = ("BBPOM-JAKARTA",)
AUDITOR_UNITS = ("*",)


def public_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "complaint",
        "category": "pangan_olahan",
        "subject": "Susu kemasan kedaluwarsa dijual",
        "description": "Toko di Jl. Sudirman menjual susu UHT kedaluwarsa.",
        "reporter": {"name": "Andi Wijaya", "email": "andi@example.id"},
        "anonymous": False,
        "confidential": False,
    }
    body.update(overrides)
    return body


def file(api: Api, **overrides: Any) -> tuple[str, str]:
    answer = api.client.post("/v1/public/complaints", json=public_body(**overrides))
    assert answer.status_code == 201, answer.text
    return answer.json()["tracking_number"], answer.json()["pin"]


def case_id_of(api: Api, tracking_number: str) -> str:
    """The officers' side finds a public case in the intake unit's queue."""
    answer = api.client.get(
        "/v1/queues/ULPK-PUSAT",
        params={"after_position": api.stored_events(), "limit": 200},
        headers=api.headers(*HEAD),
    )
    assert answer.status_code == 200, answer.text
    found = [i["id"] for i in answer.json()["items"] if i["tracking_number"] == tracking_number]
    assert found, tracking_number
    return found[0]


def track(api: Api, tracking_number: str, pin: str) -> Any:
    return api.client.get(
        f"/v1/public/complaints/{tracking_number}", headers={"X-Tracking-Pin": pin}
    )


def officer(api: Api, case_id: str, path: str, body: dict[str, Any], roles, units, sub="siti"):
    version = api.client.get(
        f"/v1/complaints/{case_id}", headers=api.headers(*roles, units=units, sub=sub)
    ).json()["version"]
    api.clock.advance(timedelta(minutes=30))
    answer = api.client.post(
        f"/v1/complaints/{case_id}/{path}",
        json=body,
        headers=api.headers(*roles, units=units, sub=sub, version=version),
    )
    assert answer.status_code == 200, (path, answer.text)
    return answer.json()


def public_command(api: Api, tracking_number: str, pin: str, path: str, body: dict[str, Any]):
    api.clock.advance(timedelta(minutes=30))
    return api.client.post(
        f"/v1/public/complaints/{tracking_number}/{path}",
        json=body,
        headers={"X-Tracking-Pin": pin},
    )


def history(api: Api, case_id: str) -> list[dict[str, Any]]:
    answer = api.client.get(
        f"/v1/complaints/{case_id}/history", headers=api.headers("auditor", units=AUDITOR_UNITS)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["events"]  # type: ignore[no-any-return]


def _limited(postgres_url: str, postgres_schema: str, tmp_path: Path, **limits: Any):
    configured = Settings(
        database_url=postgres_url,
        jwt_secret=SECRET,
        var_dir=tmp_path,
        postgres_pool_size=2,
        postgres_schema=postgres_schema,
        projection_poll_seconds=0.2,
        **limits,
    )
    yield from _api(configured)


@pytest.fixture
def few_requests_api(postgres_url: str, postgres_schema: str, tmp_path: Path) -> Iterator[Api]:
    """The service on PostgreSQL letting a client send 3 requests at once, then 1 a minute."""
    yield from _limited(
        postgres_url, postgres_schema, tmp_path, rate_limit_per_minute=1, rate_limit_burst=3
    )


@pytest.fixture
def few_pins_api(postgres_url: str, postgres_schema: str, tmp_path: Path) -> Iterator[Api]:
    """The service on PostgreSQL refusing PINs after 3 wrong ones for a number, 5 per client."""
    yield from _limited(
        postgres_url, postgres_schema, tmp_path, pin_max_failures=3, pin_client_max_failures=5
    )


# --- filing --------------------------------------------------------------------------------


def test_a_complainant_files_a_case_and_gets_its_tracking_number_and_a_pin_once(api) -> None:
    answer = api.client.post("/v1/public/complaints", json=public_body())
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert set(body) == {"tracking_number", "pin", "status"}  # no case id, no position
    assert body["status"] == "received"
    assert len(body["pin"]) == 10
    assert answer.headers["Location"] == f"/v1/public/complaints/{body['tracking_number']}"
    assert answer.headers["Cache-Control"] == "no-store"

    case_id = case_id_of(api, body["tracking_number"])
    case = api.client.get(f"/v1/complaints/{case_id}", headers=api.headers(*INTAKE)).json()
    assert case["channel"] == "web" and case["intake_unit"] == "ULPK-PUSAT"
    assert case["reporter"]["name"] == "Andi Wijaya"
    received = history(api, case_id)[0]
    assert received["type"] == "Received"
    assert received["actor"] == {"sub": "public", "unit": None}


def test_the_pin_is_stored_only_as_a_salted_scrypt_hash(api) -> None:
    tracking_number, pin = file(api)
    other_number, other_pin = file(api)
    complaints = api.container.complaints
    stored = b"".join(
        n.state for n in complaints.recorder.select_notifications(start=1, limit=1000)
    )
    assert pin.encode() not in stored and other_pin.encode() not in stored
    case_id = case_id_of(api, tracking_number)
    access = complaints.repository.get(PublicAccess.id_for(UUID(case_id)))
    assert access.pin_hash.startswith("scrypt$14$8$1$")
    other = complaints.repository.get(PublicAccess.id_for(UUID(case_id_of(api, other_number))))
    assert access.pin_hash.split("$")[4] != other.pin_hash.split("$")[4]  # own salt each


def test_unknown_fields_an_officers_channel_or_bad_values_are_rejected_and_nothing_is_stored(
    api,
) -> None:
    before = api.stored_events()
    for bad in (
        public_body(intake_unit="BBPOM-JAKARTA"),
        public_body(needs_inspection=True),
        public_body(channel="phone"),
        public_body(kind="praise"),
        public_body(subject=""),
        {"kind": "complaint"},
    ):
        answer = api.client.post("/v1/public/complaints", json=bad)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    assert api.stored_events() == before


def test_a_public_channel_may_be_chosen(api) -> None:
    tracking_number, _ = file(api, channel="whatsapp")
    case_id = case_id_of(api, tracking_number)
    case = api.client.get(f"/v1/complaints/{case_id}", headers=api.headers(*INTAKE)).json()
    assert case["channel"] == "whatsapp"


def test_a_repeat_with_the_same_idempotency_key_returns_the_first_answer_without_the_pin(
    api,
) -> None:
    key = {"Idempotency-Key": "form-submit-7f3a"}
    first = api.client.post("/v1/public/complaints", json=public_body(), headers=key)
    assert first.status_code == 201 and first.json()["pin"]
    stored = api.stored_events()
    again = api.client.post("/v1/public/complaints", json=public_body(), headers=key)
    assert again.status_code == 201
    assert again.json() == {**first.json(), "pin": None}
    assert api.stored_events() == stored
    # The first PIN still opens the case; nothing new was drawn.
    assert track(api, first.json()["tracking_number"], first.json()["pin"]).status_code == 200

    other_body = api.client.post(
        "/v1/public/complaints", json=public_body(subject="Lain"), headers=key
    )
    assert other_body.status_code == 422
    assert other_body.json()["type"] == "/problems/idempotency-key-reused"
    assert api.stored_events() == stored


def test_idempotency_keys_are_scoped_to_the_public_client(api) -> None:
    key = {"Idempotency-Key": "same-key"}
    first = api.client.post("/v1/public/complaints", json=public_body(), headers=key)
    with TestClient(
        api.container.http_app(), client=("203.0.113.9", 40000), raise_server_exceptions=False
    ) as elsewhere:
        second = elsewhere.post("/v1/public/complaints", json=public_body(), headers=key)
    assert first.status_code == second.status_code == 201
    assert second.json()["pin"] is not None
    assert second.json()["tracking_number"] != first.json()["tracking_number"]


def test_a_public_create_still_in_flight_with_the_same_key_is_a_conflict(api) -> None:
    complaints = api.container.complaints
    claim = uuid5(PUBLIC_IDEMPOTENCY_NAMESPACE, "testclient\x1fslow-key")
    complaints._take_claim(claim)
    try:
        answer = api.client.post(
            "/v1/public/complaints", json=public_body(), headers={"Idempotency-Key": "slow-key"}
        )
    finally:
        complaints._drop_claim(claim)
    assert answer.status_code == 409
    assert answer.json()["type"] == "/problems/request-in-flight"


def test_public_creates_are_rate_limited_per_client(few_requests_api) -> None:
    api = few_requests_api
    answers = [api.client.post("/v1/public/complaints", json=public_body()) for _ in range(4)]
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert answers[-1].headers["content-type"] == "application/problem+json"
    assert int(answers[-1].headers["Retry-After"]) >= 1


def test_public_creates_go_through_group_commit_on_postgresql(api) -> None:
    committer = api.container.committer
    assert committer is not None
    before = committer.stats.requests
    tracking_number, pin = file(api)
    assert committer.stats.requests == before + 1
    assert track(api, tracking_number, pin).status_code == 200


# --- tracking ------------------------------------------------------------------------------


def test_the_public_timeline_shows_public_steps_only_and_never_officers_or_internal_notes(
    api,
) -> None:
    tracking_number, pin = file(api)
    case_id = case_id_of(api, tracking_number)
    officer(
        api,
        case_id,
        "acknowledge",
        {"message": "Pengaduan Anda kami terima"},
        INTAKE,
        ("ULPK-PUSAT",),
    )
    officer(
        api,
        case_id,
        "route",
        {"to_unit": "BBPOM-JAKARTA", "note": "INTERNAL-ROUTE-NOTE", "assignee": "assignee-x"},
        INTAKE,
        ("ULPK-PUSAT",),
    )
    officer(
        api,
        case_id,
        "follow-ups",
        {"action": "inspection", "note": "INTERNAL-FOLLOW-UP", "public": False},
        TECH,
        JKT,
        sub="budi",
    )
    officer(
        api,
        case_id,
        "follow-ups",
        {"action": "inspection", "note": "Sarana sedang diperiksa", "public": True},
        TECH,
        JKT,
        sub="budi",
    )
    officer(
        api,
        case_id,
        "follow-ups",
        {"action": "request_data", "note": "Mohon kirim foto kemasan", "public": True},
        TECH,
        JKT,
        sub="budi",
    )
    assert (
        public_command(
            api, tracking_number, pin, "replies", {"message": "Foto terlampir"}
        ).status_code
        == 200
    )
    officer(
        api,
        case_id,
        "close",
        {"outcome": "substantiated", "answer": "Produk ditarik"},
        TECH,
        JKT,
        sub="budi",
    )

    answer = track(api, tracking_number, pin)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    view = answer.json()
    assert view["status"] == "closed" and view["outcome"] == "substantiated"
    assert view["waiting_for_complainant"] is False and view["confidential"] is False
    assert view["subject"] == "Susu kemasan kedaluwarsa dijual"
    assert [(e["type"], e["text"]) for e in view["timeline"]] == [
        ("received", None),
        ("acknowledged", "Pengaduan Anda kami terima"),
        ("routed", "Forwarded to the competent unit"),
        ("follow_up", "Sarana sedang diperiksa"),
        ("data_requested", "Mohon kirim foto kemasan"),
        ("replied", "Foto terlampir"),
        ("closed", "Produk ditarik"),
    ]
    text = json.dumps(view)
    for secret in ("INTERNAL", "assignee-x", "budi", "siti", "BBPOM", case_id, "Andi"):
        assert secret not in text, secret


def test_a_confidential_case_shows_its_pin_holder_only_its_status(api) -> None:
    tracking_number, pin = file(api, confidential=True)
    case_id = case_id_of(api, tracking_number)
    officer(api, case_id, "acknowledge", {"message": "Diterima"}, INTAKE, ("ULPK-PUSAT",))
    view = track(api, tracking_number, pin).json()
    assert view == {
        "tracking_number": tracking_number,
        "status": "acknowledged",
        "waiting_for_complainant": False,
        "confidential": True,
        "kind": None,
        "category": None,
        "subject": None,
        "received_at": None,
        "outcome": None,
        "survey_answered": False,
        "timeline": [],
    }
    log = api.client.get(
        "/v1/audit/access-log",
        params={"complaint_id": case_id},
        headers=api.headers("auditor", units=AUDITOR_UNITS),
    )
    assert log.status_code == 200, log.text  # the public read of a confidential case is logged
    assert [e["route"] for e in log.json()["items"] if e["sub"] == "public"] == [
        "GET /v1/public/complaints/{tracking_number}"
    ]


def test_a_wrong_pin_an_unknown_number_and_a_malformed_one_get_the_same_404(api) -> None:
    tracking_number, pin = file(api)
    wrong = track(api, tracking_number, "ZZZZZZZZZZ")
    unknown = track(api, "0000-0000-000", pin)
    malformed = track(api, "not-a-number", pin)
    officers_case = api.client.post(
        "/v1/complaints",
        json={
            "kind": "complaint",
            "channel": "phone",
            "category": "kosmetik",
            "subject": "s",
            "description": "d",
            "intake_unit": "ULPK-PUSAT",
        },
        headers=api.headers(*INTAKE),
    ).json()["tracking_number"]
    no_pin_case = track(api, officers_case, pin)
    answers = [wrong, unknown, malformed, no_pin_case]
    assert {a.status_code for a in answers} == {404}
    bodies = [{k: v for k, v in a.json().items() if k != "instance"} for a in answers]
    assert all(b == bodies[0] for b in bodies)
    assert track(api, tracking_number, pin.lower()).status_code == 200  # read as it was shown
    missing = api.client.get(f"/v1/public/complaints/{tracking_number}")
    assert missing.status_code == 422


def test_failed_pins_are_limited_per_tracking_number_even_for_the_right_pin(few_pins_api) -> None:
    api = few_pins_api
    tracking_number, pin = file(api)
    assert [track(api, tracking_number, f"WRONG{i}").status_code for i in range(3)] == [404] * 3
    blocked = track(api, tracking_number, pin)
    assert blocked.status_code == 429
    assert blocked.json()["type"] == "/problems/too-many-attempts"
    assert int(blocked.headers["Retry-After"]) >= 1
    # A reply or a survey with the right PIN is refused too, before its body is read.
    assert public_command(api, tracking_number, pin, "replies", {}).status_code == 429


def test_failed_pins_are_limited_per_client_across_tracking_numbers(few_pins_api) -> None:
    api = few_pins_api
    numbers = [file(api) for _ in range(2)]
    codes = [track(api, numbers[i % 2][0], "WRONGPIN00").status_code for i in range(5)]
    assert codes == [404] * 5
    assert track(api, numbers[0][0], numbers[0][1]).status_code == 429
    with TestClient(
        api.container.http_app(), client=("198.51.100.7", 40000), raise_server_exceptions=False
    ) as elsewhere:
        other = elsewhere.get(
            f"/v1/public/complaints/{numbers[1][0]}", headers={"X-Tracking-Pin": numbers[1][1]}
        )
    assert other.status_code == 200  # another client, and that number has 2 failures only


# --- replies -------------------------------------------------------------------------------


def test_a_reply_ends_the_wait_and_the_sla_clock_runs_again(api) -> None:
    tracking_number, pin = file(api)
    case_id = case_id_of(api, tracking_number)
    officer(api, case_id, "acknowledge", {"message": "Diterima"}, INTAKE, ("ULPK-PUSAT",))
    assert public_command(api, tracking_number, pin, "replies", {"message": "x"}).status_code == 409

    officer(
        api,
        case_id,
        "follow-ups",
        {"action": "request_data", "note": "Mohon foto", "public": True},
        INTAKE,
        ("ULPK-PUSAT",),
    )
    case = api.client.get(f"/v1/complaints/{case_id}", headers=api.headers(*INTAKE)).json()
    assert case["waiting_for_complainant"] is True
    assert {s["state"] for s in case["service_levels"] if s["completed_at"] is None} == {"paused"}
    assert track(api, tracking_number, pin).json()["waiting_for_complainant"] is True
    sla = api.container.catalog.live("sla")
    api.client.get(
        "/v1/sla/alerts",
        params={"after_position": api.stored_events()},
        headers=api.headers(*HEAD),
    )
    assert {r.paused for r in sla.stages(UUID(case_id))} == {True}

    replied = public_command(api, tracking_number, pin, "replies", {"message": "Foto terlampir"})
    assert replied.status_code == 200, replied.text
    assert replied.json() == {
        "tracking_number": tracking_number,
        "status": "acknowledged",
        "waiting_for_complainant": False,
    }
    case = api.client.get(f"/v1/complaints/{case_id}", headers=api.headers(*INTAKE)).json()
    assert case["waiting_for_complainant"] is False
    assert "paused" not in {s["state"] for s in case["service_levels"]}
    events = history(api, case_id)
    assert events[-1]["type"] == "ComplainantReplied"
    assert events[-1]["actor"] == {"sub": "public", "unit": None}
    assert events[-1]["data"]["message"] == "Foto terlampir"
    api.client.get(
        "/v1/sla/alerts",
        params={"after_position": api.stored_events()},
        headers=api.headers(*HEAD),
    )
    assert {r.paused for r in sla.stages(UUID(case_id))} == {False}
    again = public_command(api, tracking_number, pin, "replies", {"message": "lagi"})
    assert again.status_code == 409


def test_public_commands_need_no_if_match_and_validate_their_bodies(api) -> None:
    tracking_number, pin = file(api)
    before = api.stored_events()
    for path, body in (
        ("replies", {"message": "x", "extra": 1}),
        ("replies", {"message": ""}),
        ("objection", {}),
        ("survey", {"scores": [4] * 9, "rating": 5}),
    ):
        answer = public_command(api, tracking_number, pin, path, body)
        assert answer.status_code == 422, (path, body, answer.text)
    wrong_pin = public_command(api, tracking_number, "ZZZZZZZZZZ", "replies", {"message": ""})
    assert wrong_pin.status_code == 404  # 404 before 422
    assert api.stored_events() == before


# --- survey and objection ------------------------------------------------------------------


def _closed_case(api: Api) -> tuple[str, str, str]:
    tracking_number, pin = file(api)
    case_id = case_id_of(api, tracking_number)
    officer(api, case_id, "acknowledge", {"message": "Diterima"}, INTAKE, ("ULPK-PUSAT",))
    officer(
        api, case_id, "close", {"outcome": "answered", "answer": "Jawaban"}, INTAKE, ("ULPK-PUSAT",)
    )
    return tracking_number, pin, case_id


def test_the_survey_is_answered_once_after_closure(api) -> None:
    tracking_number, pin = file(api)
    scores = {"scores": [4, 3, 4, 4, 3, 4, 4, 3, 4], "comment": "Cepat"}
    early = public_command(api, tracking_number, pin, "survey", scores)
    assert early.status_code == 409, early.text

    tracking_number, pin, case_id = _closed_case(api)
    for bad in (
        [4] * 8,
        [4] * 10,
        [4] * 8 + [5],
        [0] + [4] * 8,
        [True] + [4] * 8,
        ["4"] + [4] * 8,
        [3.5] + [4] * 8,
    ):
        answer = public_command(api, tracking_number, pin, "survey", {"scores": bad})
        assert answer.status_code == 422, (bad, answer.text)

    answered = public_command(api, tracking_number, pin, "survey", scores)
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "closed"
    twice = public_command(api, tracking_number, pin, "survey", scores)
    assert twice.status_code == 409
    view = track(api, tracking_number, pin).json()
    assert view["survey_answered"] is True
    assert view["timeline"][-1]["type"] == "survey_answered"
    assert "Cepat" not in json.dumps(view)  # the ratings are not shown back
    event = history(api, case_id)[-1]
    assert event["type"] == "SurveyAnswered"
    assert event["actor"] == {"sub": "public", "unit": None}
    assert event["data"]["scores"] == scores["scores"]


def test_an_objection_reopens_a_closed_case_as_the_public_actor(api) -> None:
    tracking_number, pin = file(api)
    early = public_command(api, tracking_number, pin, "objection", {"reason": "Belum dijawab"})
    assert early.status_code == 409

    tracking_number, pin, case_id = _closed_case(api)
    objected = public_command(
        api, tracking_number, pin, "objection", {"reason": "Jawaban tidak sesuai"}
    )
    assert objected.status_code == 200, objected.text
    assert objected.json()["status"] == "reopened"
    event = history(api, case_id)[-1]
    assert event["type"] == "Reopened" and event["actor"] == {"sub": "public", "unit": None}
    view = track(api, tracking_number, pin).json()
    assert view["timeline"][-1] == {
        "type": "reopened",
        "at": view["timeline"][-1]["at"],
        "text": "Jawaban tidak sesuai",
        "action": None,
        "outcome": None,
    }
    audit = api.client.get(
        "/v1/audit/log",
        params={"after_position": api.stored_events(), "complaint_id": case_id},
        headers=api.headers("auditor", units=AUDITOR_UNITS),
    )
    assert audit.status_code == 200, audit.text
    mine = audit.json()["entries"]
    assert mine[-1]["type"] == "Reopened"
    assert mine[-1]["actor"]["sub"] == "public"
    again = public_command(api, tracking_number, pin, "objection", {"reason": "lagi"})
    assert again.status_code == 409


def test_the_public_side_reaches_no_officer_command(api) -> None:
    tracking_number, pin, case_id = _closed_case(api)
    headers = {"X-Tracking-Pin": pin}
    for path in ("reopen", "close", "acknowledge"):
        answer = api.client.post(f"/v1/complaints/{case_id}/{path}", json={}, headers=headers)
        assert answer.status_code == 401
    assert api.client.get(f"/v1/complaints/{case_id}", headers=headers).status_code == 401
    # An officer's token is no PIN either: the public routes know no roles.
    officer_only = api.client.get(
        f"/v1/public/complaints/{tracking_number}", headers=api.headers(*HEAD)
    )
    assert officer_only.status_code == 422


def test_the_openapi_document_describes_the_public_routes(api) -> None:
    spec = api.client.get("/openapi.json").json()
    paths = spec["paths"]
    filed = paths["/v1/public/complaints"]["post"]
    assert {"201", "409", "413", "422", "429", "503"} <= set(filed["responses"])
    assert filed["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "PublicComplaintIn"
    )
    for path, codes in (
        ("/v1/public/complaints/{tracking_number}", {"200", "404", "422", "429"}),
        ("/v1/public/complaints/{tracking_number}/replies", {"200", "404", "409", "422", "429"}),
        ("/v1/public/complaints/{tracking_number}/survey", {"200", "404", "409", "422", "429"}),
        ("/v1/public/complaints/{tracking_number}/objection", {"200", "404", "409", "422", "429"}),
    ):
        operation = next(iter(paths[path].values()))
        assert codes <= set(operation["responses"]), path
    assert "PublicCaseOut" in spec["components"]["schemas"]


@pytest.mark.parametrize(
    "field, value",
    [
        ("status", "closed"),
        ("id", "00000000-0000-4000-8000-000000000001"),
        ("version", 99),
        ("handling_unit", "BBPOM-MAKASSAR"),
        ("actor", {"sub": "kepala", "unit": "ULPK-PUSAT"}),
        ("pin", "AAAAAAAAAA"),
    ],
)
def test_fields_a_complainant_may_not_set_are_422_and_change_nothing(api, field, value) -> None:
    tracking_number, pin, _ = _closed_case(api)
    before = api.stored_events()
    for path, body in (
        ("", public_body()),
        (f"/{tracking_number}/replies", {"message": "x"}),
        (f"/{tracking_number}/survey", {"scores": [4] * 9}),
        (f"/{tracking_number}/objection", {"reason": "x"}),
    ):
        answer = api.client.post(
            f"/v1/public/complaints{path}",
            json=body | {field: value},
            headers={"X-Tracking-Pin": pin},
        )
        assert answer.status_code == 422, (path, field, answer.text)
        assert field in {e["field"] for e in answer.json()["errors"]}
    assert api.stored_events() == before


def test_a_form_on_an_allowed_origin_may_send_the_pin_header(tmp_path: Path) -> None:
    origin = "https://aduan.pom.go.id"
    with service(tmp_path, cors_origins=origin) as (client, _):
        allowed = client.options(
            "/v1/public/complaints/0000-0000-000",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "x-tracking-pin",
            },
        )
        assert allowed.status_code == 200, allowed.text
        assert "x-tracking-pin" in allowed.headers["access-control-allow-headers"].lower()


def test_the_public_side_works_on_the_embedded_sqlite_default(sqlite_api) -> None:
    api = sqlite_api
    tracking_number, pin = file(api)
    again = api.client.post(
        "/v1/public/complaints", json=public_body(), headers={"Idempotency-Key": "k"}
    )
    repeat = api.client.post(
        "/v1/public/complaints", json=public_body(), headers={"Idempotency-Key": "k"}
    )
    assert repeat.json() == {**again.json(), "pin": None}
    view = track(api, tracking_number, pin)
    assert view.status_code == 200 and view.json()["timeline"][0]["type"] == "received"
    assert track(api, tracking_number, "WRONGPIN00").status_code == 404


@pytest.mark.parametrize("sub", ["public", "system"])
def test_no_token_may_pass_for_the_public_or_the_timer(api, sub: str) -> None:
    answer = api.client.post(
        "/v1/complaints",
        json={
            "kind": "complaint",
            "channel": "phone",
            "category": "kosmetik",
            "subject": "s",
            "description": "d",
            "intake_unit": "ULPK-PUSAT",
        },
        headers=api.headers(*INTAKE, sub=sub),
    )
    assert answer.status_code == 401
    assert "reserved" in answer.json()["detail"]


@pytest.fixture
def unlimited_api(postgres_url: str, postgres_schema: str, tmp_path: Path) -> Iterator[Api]:
    """The service on PostgreSQL without rate limits (for many malformed requests)."""
    yield from _limited(postgres_url, postgres_schema, tmp_path, rate_limit_per_minute=0)


def test_malformed_public_bodies_are_4xx_problems_and_store_nothing(unlimited_api) -> None:
    api = unlimited_api
    tracking_number, pin, _ = _closed_case(api)
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(["kind", "category", "subject", "message", "scores", "reason"])
                | st.text(max_size=6),
                inner,
                max_size=4,
            )
        ),
        max_leaves=10,
    )
    bodies = st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200))
    paths = st.sampled_from(
        [
            "",
            f"/{tracking_number}/replies",
            f"/{tracking_number}/survey",
            f"/{tracking_number}/objection",
        ]
    )

    @settings(
        max_examples=60,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(path=paths, raw=bodies)
    def check(path: str, raw: bytes) -> None:
        before = api.stored_events()
        answer = api.client.post(
            f"/v1/public/complaints{path}",
            content=raw,
            headers={"Content-Type": "application/json", "X-Tracking-Pin": pin},
        )
        if answer.status_code < 300:  # a well-formed body by chance (e.g. a full objection)
            return
        assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert api.stored_events() == before

    check()
