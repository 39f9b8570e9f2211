"""Bad input over HTTP: every rejection is problem+json, in API.md's order, and stores nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from httpx import Response

from infrastructure.tokens import SharedSecretTokens
from tests.support import complaint_body

PROBLEM_JSON = "application/problem+json"
INTAKE = ("intake_officer",)
TECH = ("technical_officer",)
PUSAT = ("ULPK-PUSAT",)
JKT = ("BBPOM-JAKARTA",)
MAKASSAR = ("BBPOM-MAKASSAR",)
LIMIT = 64 * 1024  # Settings.max_body_bytes


# --- helpers -----------------------------------------------------------------------------


def create_case(api, **overrides: Any) -> str:
    answer = api.client.post(
        "/v1/complaints", json=complaint_body(**overrides), headers=api.headers(*INTAKE)
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def command(
    api,
    case_id: str,
    path: str,
    payload: Any,
    *,
    roles: tuple[str, ...] = INTAKE,
    units: tuple[str, ...] = PUSAT,
    version: int | None = None,
    **kwargs: Any,
) -> Response:
    return api.client.post(
        f"/v1/complaints/{case_id}/{path}",
        json=payload,
        headers=api.headers(*roles, units=units, version=version),
        **kwargs,
    )


def acknowledged_case(api) -> str:
    """A case at version 2, status acknowledged, with ULPK-PUSAT."""
    case_id = create_case(api)
    answer = command(api, case_id, "acknowledge", {"message": "Diterima"}, version=1)
    assert answer.status_code == 200, answer.text
    return case_id


def routed_case(api) -> str:
    """A case at version 3, status routed, taken in by ULPK-PUSAT and handled by BBPOM-JAKARTA."""
    case_id = acknowledged_case(api)
    payload = {"to_unit": "BBPOM-JAKARTA", "note": "Periksa sarana"}
    answer = command(api, case_id, "route", payload, version=2)
    assert answer.status_code == 200, answer.text
    return case_id


def assert_problem(answer: Response, status: int, *fields: str) -> dict[str, Any]:
    """An RFC 9457 answer with ``status``; with fields, the errors name each of them."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    problem = answer.json()
    for member in ("type", "title", "detail"):
        assert isinstance(problem.get(member), str) and problem[member], (member, problem)
    assert problem["status"] == status
    if fields:
        named = {error["field"] for error in problem["errors"]}
        assert set(fields) <= named, (fields, problem["errors"])
        for error in problem["errors"]:
            assert error["pointer"].startswith("#") and error["detail"]
    return problem


def assert_rejected(api, send: Callable[[], Response], status: int, *fields: str) -> dict[str, Any]:
    """The request is answered with a problem and not a single event is stored."""
    before = api.stored_events()
    problem = assert_problem(send(), status, *fields)
    assert api.stored_events() == before, "a rejected request stored events"
    return problem


def without(body: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != field}


# --- 422: invalid input on a create -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(complaint_body(kind="grievance"), "kind", id="unknown-kind"),
        pytest.param(complaint_body(channel="carrier-pigeon"), "channel", id="unknown-channel"),
        pytest.param(complaint_body(category="narkotika"), "category", id="unknown-category"),
        pytest.param(complaint_body(intake_unit="BBPOM-MARS"), "intake_unit", id="unknown-unit"),
        pytest.param(complaint_body(status="closed"), "status", id="mass-assigned-status"),
        pytest.param(complaint_body(version=7), "version", id="mass-assigned-version"),
        pytest.param(
            complaint_body(received_at="2026-11-01T09:00:00"),
            "received_at",
            id="received-at-without-offset",
        ),
        pytest.param(
            complaint_body(reporter={"name": "Siti", "email": "siti-at-example"}),
            "reporter.email",
            id="invalid-reporter-email",
        ),
        pytest.param(complaint_body(subject="   "), "subject", id="blank-subject"),
        pytest.param(  # near year 1 it cannot be counted in working days: it stopped read models
            complaint_body(received_at="0001-01-01T00:00:00+14:00"),
            "received_at",
            id="received-at-year-1",
        ),
        pytest.param(
            complaint_body(received_at="1999-12-31T23:59:59Z"), "received_at", id="before-2000"
        ),
        pytest.param(without(complaint_body(), "category"), "category", id="missing-category"),
        pytest.param(without(complaint_body(), "intake_unit"), "intake_unit", id="missing-unit"),
    ],
)
def test_a_create_with_an_invalid_field_is_rejected_naming_the_field(
    api, body: dict[str, Any], field: str
) -> None:
    headers = api.headers(*INTAKE)
    assert_rejected(
        api, lambda: api.client.post("/v1/complaints", json=body, headers=headers), 422, field
    )


def test_a_receipt_time_in_the_future_is_rejected_naming_received_at(api) -> None:
    tomorrow = (api.clock.now() + timedelta(days=1)).isoformat()
    body = complaint_body(received_at=tomorrow)
    headers = api.headers(*INTAKE)
    assert_rejected(
        api,
        lambda: api.client.post("/v1/complaints", json=body, headers=headers),
        422,
        "received_at",
    )


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"kind": "complaint",', id="truncated-json"),
        pytest.param(b"kind=complaint&channel=phone", id="form-encoded"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b"", id="empty"),
        pytest.param(b'[{"kind": "complaint"}]', id="json-array"),
        pytest.param(b'"a string"', id="json-string"),
        pytest.param(b"null", id="json-null"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_rejected_naming_the_body(api, content: bytes) -> None:
    headers = api.headers(*INTAKE) | {"Content-Type": "application/json"}
    assert_rejected(
        api,
        lambda: api.client.post("/v1/complaints", content=content, headers=headers),
        422,
        "(body)",
    )


# --- 422: invalid input on a command ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "payload", "roles", "units", "field"),
    [
        pytest.param(
            "route",
            {"to_unit": "BBPOM-MARS", "note": "x"},
            INTAKE,
            PUSAT,
            "to_unit",
            id="route-to-an-unknown-unit",
        ),
        pytest.param(
            "route",
            {"note": "x"},
            INTAKE,
            PUSAT,
            "to_unit",
            id="route-without-a-unit",
        ),
        pytest.param(
            "follow-ups",
            {"action": "dance", "note": "x"},
            TECH,
            JKT,
            "action",
            id="follow-up-with-an-unknown-action",
        ),
        pytest.param(
            "follow-ups",
            {"action": "inspection", "note": "x", "public": "maybe"},
            TECH,
            JKT,
            "public",
            id="follow-up-with-a-non-boolean-public",
        ),
        pytest.param(
            "close",
            {"outcome": "solved", "answer": "x"},
            TECH,
            JKT,
            "outcome",
            id="close-with-an-unknown-outcome",
        ),
        pytest.param(
            "close",
            {"outcome": "answered", "answer": " "},
            TECH,
            JKT,
            "answer",
            id="close-with-a-blank-answer",
        ),
        pytest.param(
            "close",
            {"outcome": "answered", "answer": "x", "status": "closed"},
            TECH,
            JKT,
            "status",
            id="close-with-a-mass-assigned-status",
        ),
    ],
)
def test_a_command_with_an_invalid_field_is_rejected_naming_the_field(
    api, path: str, payload: dict[str, Any], roles, units, field: str
) -> None:
    case_id = routed_case(api)
    assert_rejected(
        api,
        lambda: command(api, case_id, path, payload, roles=roles, units=units, version=3),
        422,
        field,
    )
    assert (
        api.client.get(f"/v1/complaints/{case_id}", headers=api.headers(*INTAKE)).json()["version"]
        == 3
    )


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        pytest.param({"outcome": "duplicate", "answer": "x"}, "required", id="missing"),
        pytest.param(
            {"outcome": "answered", "answer": "x", "duplicate_of": str(uuid4())},
            "only allowed",
            id="not-a-duplicate",
        ),
    ],
)
def test_duplicate_of_goes_with_the_duplicate_outcome_only_naming_the_field(
    api, payload: dict[str, Any], detail: str
) -> None:
    case_id = routed_case(api)
    problem = assert_rejected(
        api,
        lambda: command(api, case_id, "close", payload, roles=TECH, units=JKT, version=3),
        422,
        "duplicate_of",
    )
    assert detail in problem["errors"][0]["detail"]


# --- 413: body too large ----------------------------------------------------------------------


def _chunks(payload: bytes) -> Iterator[bytes]:
    for start in range(0, len(payload), 8192):
        yield payload[start : start + 8192]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_over_the_size_limit_is_rejected_with_413(api, framing: str) -> None:
    oversized = json.dumps(complaint_body(description="x" * LIMIT)).encode()
    assert len(oversized) > LIMIT
    headers = api.headers(*INTAKE) | {"Content-Type": "application/json"}
    content = oversized if framing == "content-length" else _chunks(oversized)
    assert_rejected(
        api, lambda: api.client.post("/v1/complaints", content=content, headers=headers), 413
    )


def test_a_command_body_over_the_size_limit_is_rejected_with_413(api) -> None:
    case_id = create_case(api)
    payload = {"message": "x" * LIMIT}
    assert_rejected(api, lambda: command(api, case_id, "acknowledge", payload, version=1), 413)


# --- 401: no token or a bad token -------------------------------------------------------------


def _token_signed_with_another_secret(api) -> str:
    tokens = api.container.tokens
    other = SharedSecretTokens("another-secret-" + "y" * 32, tokens.issuer, tokens.audience)
    return other.issue("siti", INTAKE, PUSAT)


def _expired_token(api) -> str:
    long_ago = datetime.now(UTC) - timedelta(days=2)
    return str(api.container.tokens.issue("siti", INTAKE, PUSAT, now=long_ago))


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(lambda api: None, id="no-token"),
        pytest.param(lambda api: "Basic c2l0aTpwYXNz", id="basic-scheme"),
        pytest.param(lambda api: "Bearer", id="bearer-without-token"),
        pytest.param(lambda api: f"Token {api.token(*INTAKE)}", id="wrong-scheme"),
        pytest.param(lambda api: "Bearer not.a.jwt", id="malformed-token"),
        pytest.param(
            lambda api: f"Bearer {_token_signed_with_another_secret(api)}", id="another-secret"
        ),
        pytest.param(lambda api: f"Bearer {_expired_token(api)}", id="expired-token"),
    ],
)
def test_a_request_without_a_valid_token_is_rejected_with_401(
    api, authorization: Callable[[Any], str | None]
) -> None:
    value = authorization(api)
    headers = {} if value is None else {"Authorization": value}
    problem = assert_rejected(
        api,
        lambda: api.client.post("/v1/complaints", json=complaint_body(), headers=headers),
        401,
    )
    assert problem["type"].endswith("unauthenticated")


def test_a_401_tells_the_client_to_send_a_bearer_token(api) -> None:
    answer = api.client.get(f"/v1/complaints/{uuid4()}")
    assert_problem(answer, 401)
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


# --- 404 and 405 ------------------------------------------------------------------------------


def test_an_unknown_route_answers_404_problem_json(api) -> None:
    assert_rejected(api, lambda: api.client.get("/v1/nowhere", headers=api.headers(*INTAKE)), 404)
    assert_rejected(
        api,
        lambda: api.client.post("/v1/complaints/x/y/z", json={}, headers=api.headers(*INTAKE)),
        404,
    )


def test_a_wrong_method_answers_405_problem_json(api) -> None:
    case_id = create_case(api)
    headers = api.headers(*INTAKE, version=1)
    assert_rejected(
        api, lambda: api.client.delete(f"/v1/complaints/{case_id}", headers=headers), 405
    )
    assert_rejected(
        api, lambda: api.client.get(f"/v1/complaints/{case_id}/acknowledge", headers=headers), 405
    )
    assert_rejected(api, lambda: api.client.put("/v1/complaints", json={}, headers=headers), 405)


def test_a_case_that_does_not_exist_answers_404(api) -> None:
    missing = uuid4()
    headers = api.headers(*INTAKE)
    assert_rejected(api, lambda: api.client.get(f"/v1/complaints/{missing}", headers=headers), 404)
    assert_rejected(
        api, lambda: api.client.get(f"/v1/complaints/{missing}/history", headers=headers), 404
    )
    assert_rejected(
        api, lambda: command(api, str(missing), "acknowledge", {"message": "ok"}, version=1), 404
    )


def test_a_case_outside_the_officers_units_answers_404(api) -> None:
    case_id = create_case(api)
    stranger = api.headers("unit_head", units=MAKASSAR)
    assert_rejected(api, lambda: api.client.get(f"/v1/complaints/{case_id}", headers=stranger), 404)
    assert_rejected(
        api,
        lambda: command(
            api,
            case_id,
            "acknowledge",
            {"message": "ok"},
            roles=("unit_head",),
            units=MAKASSAR,
            version=1,
        ),
        404,
    )


# --- the check order: 401 → 404 → 403 → 428/412 → 413/422 → 409 ------------------------------


def test_an_unauthenticated_request_for_a_hidden_case_answers_401(api) -> None:
    case_id = create_case(api)
    for target in (case_id, str(uuid4())):
        assert_rejected(
            api,
            lambda target=target: api.client.post(
                f"/v1/complaints/{target}/acknowledge", content=b"[not json"
            ),
            401,
        )


@pytest.mark.parametrize(
    "if_match",
    [
        pytest.param({}, id="no-if-match"),
        pytest.param({"If-Match": '"9"'}, id="stale-if-match"),
        pytest.param({"If-Match": "W/garbage"}, id="malformed-if-match"),
    ],
)
@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"[not json", id="bad-json"),
        pytest.param(b'{"message": "ok", "status": "closed"}', id="unknown-field"),
        pytest.param(b'{"message": "' + b"x" * LIMIT + b'"}', id="too-large"),
    ],
)
def test_a_hidden_case_answers_404_whatever_else_is_wrong_with_the_request(
    api, if_match: dict[str, str], content: bytes
) -> None:
    case_id = create_case(api)
    headers = api.headers("unit_head", units=MAKASSAR) | if_match
    for target in (case_id, str(uuid4())):
        problem = assert_rejected(
            api,
            lambda target=target: api.client.post(
                f"/v1/complaints/{target}/acknowledge", content=content, headers=headers
            ),
            404,
        )
        assert problem["type"].endswith("not-found")


@pytest.mark.parametrize(
    "if_match",
    [
        pytest.param({}, id="no-if-match"),
        pytest.param({"If-Match": '"7"'}, id="stale-if-match"),
        pytest.param({"If-Match": "W/garbage"}, id="malformed-if-match"),
    ],
)
def test_a_role_that_may_not_act_answers_403_before_any_if_match_or_body_problem(
    api, if_match: dict[str, str]
) -> None:
    case_id = create_case(api)
    technical_officer = api.headers(*TECH, units=PUSAT) | if_match
    problem = assert_rejected(
        api,
        lambda: api.client.post(
            f"/v1/complaints/{case_id}/acknowledge", json={"mesage": ""}, headers=technical_officer
        ),
        403,
    )
    assert problem["type"].endswith("forbidden")


def test_a_missing_if_match_with_a_bad_body_answers_428_not_422(api) -> None:
    case_id = create_case(api)
    problem = assert_rejected(
        api, lambda: command(api, case_id, "acknowledge", {"message": "", "status": "x"}), 428
    )
    assert problem["type"].endswith("precondition-required")
    assert_rejected(
        api,
        lambda: api.client.post(
            f"/v1/complaints/{case_id}/acknowledge",
            content=b"x" * (LIMIT + 1),
            headers=api.headers(*INTAKE),
        ),
        428,
    )


@pytest.mark.parametrize("if_match", ['"2"', '"0"', "W/garbage"])
def test_a_stale_or_malformed_if_match_with_a_bad_body_answers_412_not_422(
    api, if_match: str
) -> None:
    case_id = create_case(api)
    headers = api.headers(*INTAKE) | {"If-Match": if_match}
    problem = assert_rejected(
        api,
        lambda: api.client.post(
            f"/v1/complaints/{case_id}/acknowledge", json={"mesage": 1}, headers=headers
        ),
        412,
    )
    assert problem["type"].endswith("stale-version")


def test_a_stale_if_match_tells_the_current_version(api) -> None:
    case_id = create_case(api)
    problem = assert_rejected(
        api, lambda: command(api, case_id, "acknowledge", {"message": "ok"}, version=4), 412
    )
    assert problem["current_version"] == 1


@pytest.mark.parametrize(
    ("path", "payload", "version"),
    [
        pytest.param("acknowledge", {"message": "lagi"}, 2, id="acknowledge-twice"),
        pytest.param("reopen", {"reason": "x"}, 2, id="reopen-an-open-case"),
    ],
)
def test_a_valid_body_on_a_status_that_forbids_it_answers_409(
    api, path: str, payload: dict[str, Any], version: int
) -> None:
    case_id = acknowledged_case(api)
    roles = ("unit_head",)
    problem = assert_rejected(
        api, lambda: command(api, case_id, path, payload, roles=roles, version=version), 409
    )
    assert problem["current_status"] == "acknowledged"


def test_closing_a_case_that_was_only_received_answers_409(api) -> None:
    case_id = create_case(api)
    payload = {"outcome": "answered", "answer": "Sudah dijawab"}
    problem = assert_rejected(api, lambda: command(api, case_id, "close", payload, version=1), 409)
    assert problem["current_status"] == "received"


@pytest.mark.parametrize(
    ("path", "payload", "status", "field"),
    [
        pytest.param("acknowledge", {"message": ""}, 422, "message", id="blank-message"),
        pytest.param(
            "acknowledge", {"message": "x", "version": 9}, 422, "version", id="unknown-field"
        ),
        pytest.param("acknowledge", {"message": "x" * LIMIT}, 413, None, id="too-large"),
        pytest.param(
            "route", {"to_unit": "BBPOM-MARS", "note": "x"}, 422, "to_unit", id="unknown-unit"
        ),
        pytest.param(
            "follow-ups", {"action": "dance", "note": "x"}, 422, "action", id="unknown-action"
        ),
        pytest.param(
            "close",
            {"outcome": "duplicate", "answer": "x"},
            422,
            "duplicate_of",
            id="duplicate-without-duplicate-of",
        ),
    ],
)
def test_a_bad_body_on_a_status_that_forbids_it_answers_413_or_422_not_409(
    api, path: str, payload: dict[str, Any], status: int, field: str | None
) -> None:
    case_id = routed_case(api)
    close = {"outcome": "answered", "answer": "Selesai"}
    closed = command(api, case_id, "close", close, roles=TECH, units=JKT, version=3)
    assert closed.status_code == 200, closed.text
    fields = (field,) if field else ()
    assert_rejected(
        api,
        lambda: command(
            api, case_id, path, payload, roles=("unit_head",), units=PUSAT + JKT, version=4
        ),
        status,
        *fields,
    )


# --- idempotency ------------------------------------------------------------------------------


def test_reusing_an_idempotency_key_with_a_different_body_is_rejected_and_stores_nothing(
    api,
) -> None:
    headers = api.headers(*INTAKE) | {"Idempotency-Key": "form-7"}
    first = api.client.post("/v1/complaints", json=complaint_body(), headers=headers)
    assert first.status_code == 201, first.text
    for changed in (
        complaint_body(subject="Subjek lain"),
        complaint_body(needs_inspection=True),
        complaint_body(reporter=None),
    ):
        problem = assert_rejected(
            api,
            lambda changed=changed: api.client.post(
                "/v1/complaints", json=changed, headers=headers
            ),
            422,
        )
        assert problem["type"].endswith("idempotency-key-reused")
    again = api.client.post("/v1/complaints", json=complaint_body(), headers=headers)
    assert again.status_code == 201 and again.json() == first.json()


def test_a_malformed_idempotency_key_is_rejected_naming_the_header(api) -> None:
    headers = api.headers(*INTAKE) | {"Idempotency-Key": "x" * 300}
    assert_rejected(
        api,
        lambda: api.client.post("/v1/complaints", json=complaint_body(), headers=headers),
        422,
    )
