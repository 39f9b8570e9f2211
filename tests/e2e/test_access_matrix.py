"""Route x role x unit: every route of the app answers each role as the role table says.

The routes come from the app's own route table, so a new route without a row here fails the
suite: add it to ``EXPECTED`` (or, if it really is open to anyone, to ``PUBLIC``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from fastapi import FastAPI

from tests.support import complaint_body

ROLES = ("intake_officer", "technical_officer", "unit_head", "wbs_officer", "auditor", "admin")
AGENCY_WIDE = {"auditor", "admin"}
HOME = "ULPK-PUSAT"
ELSEWHERE = "BBPOM-MAKASSAR"
SETUP_ROLES = ("intake_officer", "technical_officer", "unit_head")
# Creates are rate-limited per caller: each setup request comes from a caller of its own.
_SETUP_CALLERS = itertools.count()

# Open to anyone on the network, on purpose.
PUBLIC = {
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
}
# The complainant's side: no token; a tracking number and its PIN open one case (their own
# tests: tests/e2e/test_http_public.py).
COMPLAINANT = {
    ("POST", "/v1/public/complaints"),
    ("GET", "/v1/public/complaints/{tracking_number}"),
    ("POST", "/v1/public/complaints/{tracking_number}/replies"),
    ("POST", "/v1/public/complaints/{tracking_number}/survey"),
    ("POST", "/v1/public/complaints/{tracking_number}/objection"),
    # The Open311 GeoReport v2 facade (tests/e2e/test_http_open311.py): public by the spec;
    # its lists show only what anyone may see, its POST may need an api_key instead.
    ("GET", "/open311/v2/discovery.json"),
    ("GET", "/open311/v2/services.json"),
    ("GET", "/open311/v2/services/{service_code}.json"),
    ("POST", "/open311/v2/requests.json"),
    ("GET", "/open311/v2/requests.json"),
    ("GET", "/open311/v2/requests/{service_request_id}.json"),
    # Messaging gateways (tests/e2e/test_http_inbound.py): no token, an HMAC signature with the
    # channel's shared secret instead; 404 while the channel has no secret.
    ("POST", "/v1/inbound/{channel}"),
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, included routers' routes too."""
    found: set[tuple[str, str]] = set()

    def walk(routes: Iterable[Any]) -> None:
        for route in routes:
            contexts = getattr(route, "effective_route_contexts", None)
            if contexts is not None:  # FastAPI keeps included routers as a node of their own
                walk(contexts())
                continue
            path = getattr(route, "path", None)
            if path is None:
                continue
            for method in (getattr(route, "methods", None) or {"GET"}) - {"HEAD"}:
                found.add((method, path))

    walk(app.routes)
    return found


# --- states a case is put in before a request ------------------------------------------------


@dataclass
class Target:
    """What a request acts on: the case (id, version) and other path parameters."""

    case_id: str = ""
    version: int = 1
    template_id: str = ""
    grant_id: str = ""


def _setup_headers(api, version: int | None = None, wbs: bool = False) -> dict[str, str]:
    roles = ("wbs_officer", "unit_head") if wbs else SETUP_ROLES
    sub = f"setup-{next(_SETUP_CALLERS)}"
    return api.headers(*roles, units=("*",), sub=sub, version=version)


def _step(api, case: dict, path: str, body: dict[str, Any], wbs: bool = False) -> dict:
    answer = api.client.post(
        f"/v1/complaints/{case['id']}/{path}",
        json=body,
        headers=_setup_headers(api, case["version"], wbs),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def case_in(api, status: str, unit: str = HOME, wbs: bool = False) -> dict:
    """A new case at ``unit`` in ``status`` (``waiting``: acknowledged, data requested)."""
    extra = {"channel": "wbs", "category": "yanblik_petugas"} if wbs else {}
    created = api.client.post(
        "/v1/complaints",
        json=complaint_body(intake_unit=unit, **extra),
        headers=_setup_headers(api, wbs=wbs),
    )
    assert created.status_code == 201, created.text
    case = created.json()
    if status == "received":
        return case
    case = _step(api, case, "acknowledge", {"message": "diterima"}, wbs)
    if status == "acknowledged":
        return case
    if status == "waiting":
        body = {"action": "request_data", "note": "mohon foto", "public": True}
        return _step(api, case, "follow-ups", body, wbs)
    case = _step(api, case, "route", {"to_unit": "BBPOM-JAKARTA", "note": "periksa"}, wbs)
    if status == "routed":
        return case
    return _step(api, case, "close", {"outcome": "answered", "answer": "sudah"}, wbs)


def _case(status: str) -> Callable[[Any], Target]:
    def build(api) -> Target:
        case = case_in(api, status)
        return Target(case_id=case["id"], version=case["version"])

    return build


def _template(api) -> Target:
    created = api.client.post(
        "/v1/admin/answer-templates",
        json={"category": "kosmetik", "title": "Izin edar", "body": "Terima kasih"},
        headers=api.headers("admin", units=("*",), sub="setup-admin"),
    )
    assert created.status_code == 201, created.text
    return Target(template_id=created.json()["id"], version=1)


def _grant(api) -> Target:
    created = api.client.post(
        "/v1/admin/grants",
        json={"sub": f"auditor-{api.stored_events()}", "unit": HOME},
        headers=api.headers("admin", units=("*",), sub="setup-admin"),
    )
    assert created.status_code == 201, created.text
    return Target(grant_id=created.json()["id"])


def _nothing(api) -> Target:
    return Target()


_ORIGINALS: list[str] = []


def _duplicate(api) -> Target:
    """A routed case, and (for the body) an original at the same intake unit."""
    _ORIGINALS.append(case_in(api, "received")["id"])
    return _case("routed")(api)


# --- the expected table --------------------------------------------------------------------

Codes = tuple[int, int, int, int, int, int]  # in the order of ROLES


@dataclass(frozen=True)
class Expect:
    """Status per role: for a caller serving the case's unit, and for one serving another."""

    served: Codes
    elsewhere: Codes
    setup: Callable[[Any], Target] = _nothing
    body: dict[str, Any] | Callable[[], dict[str, Any]] | None = None
    query: dict[str, Any] | None = None
    stream: bool = False  # a live feed: 2xx is checked by tests/e2e/test_queue_feed.py


CASE_READ = Expect((200, 200, 200, 200, 200, 404), (404, 404, 404, 404, 200, 404), _case("routed"))
UNIT_READ = (200, 200, 200, 200, 200, 403)
ALL_403: Codes = (403, 403, 403, 403, 403, 403)
AUDIT_READ: Codes = (403, 403, 403, 403, 200, 200)
ADMIN_ONLY: Codes = (403, 403, 403, 403, 403, 200)
ADMIN_CREATES: Codes = (403, 403, 403, 403, 403, 201)
ADMIN_DELETES: Codes = (403, 403, 403, 403, 403, 204)
COMMAND_ELSEWHERE: Codes = (404, 404, 404, 404, 403, 404)  # auditors see every case
PERIOD = {"year": 2026, "quarter": 4}

EXPECTED: dict[tuple[str, str], Expect] = {
    ("POST", "/v1/complaints"): Expect(
        (201, 403, 201, 403, 403, 403), ALL_403, body=complaint_body(intake_unit=HOME)
    ),
    ("GET", "/v1/complaints/{case_id}"): CASE_READ,
    ("GET", "/v1/complaints/{case_id}/history"): CASE_READ,
    ("POST", "/v1/complaints/{case_id}/acknowledge"): Expect(
        (200, 403, 200, 403, 403, 404),
        COMMAND_ELSEWHERE,
        _case("received"),
        {"message": "diterima"},
    ),
    ("POST", "/v1/complaints/{case_id}/route"): Expect(
        (200, 403, 200, 403, 403, 404),
        COMMAND_ELSEWHERE,
        _case("acknowledged"),
        {"to_unit": "BBPOM-JAKARTA", "note": "periksa"},
    ),
    ("POST", "/v1/complaints/{case_id}/follow-ups"): Expect(
        (403, 200, 200, 403, 403, 404),
        COMMAND_ELSEWHERE,
        _case("routed"),
        {"action": "clarification", "note": "klarifikasi", "public": False},
    ),
    ("POST", "/v1/complaints/{case_id}/complainant-replies"): Expect(
        (200, 200, 200, 403, 403, 404),
        COMMAND_ELSEWHERE,
        _case("waiting"),
        {"message": "foto dikirim"},
    ),
    ("POST", "/v1/complaints/{case_id}/close"): Expect(
        (403, 200, 200, 403, 403, 404),
        COMMAND_ELSEWHERE,
        _case("routed"),
        {"outcome": "answered", "answer": "sudah dijawab"},
    ),
    ("POST", "/v1/complaints/{case_id}/mark-duplicate"): Expect(
        (403, 200, 200, 403, 403, 404),
        COMMAND_ELSEWHERE,
        _duplicate,
        # BOLA tests send it with no setup: the case is hidden, so any id does there.
        lambda: {"original_id": _ORIGINALS[-1] if _ORIGINALS else str(uuid4())},
    ),
    ("GET", "/v1/complaints/{case_id}/possible-duplicates"): CASE_READ,
    ("GET", "/v1/answer-templates"): Expect(
        (200, 200, 200, 200, 200, 403), (200, 200, 200, 200, 200, 403)
    ),
    ("POST", "/v1/complaints/{case_id}/reopen"): Expect(
        (403, 403, 200, 403, 403, 404),
        COMMAND_ELSEWHERE,
        _case("closed"),
        {"reason": "pelapor keberatan"},
    ),
    ("POST", "/v1/complaints/{case_id}/erase-reporter"): Expect(
        (403, 403, 403, 403, 403, 200),
        (404, 404, 404, 404, 403, 200),
        _case("routed"),
        {"reason": "permintaan pelapor (UU 27/2022)"},
    ),
    ("GET", "/v1/queues/{unit}"): Expect(UNIT_READ, ALL_403),
    ("GET", "/v1/queues/{unit}/counts"): Expect(UNIT_READ, ALL_403),
    ("GET", "/v1/queues/{unit}/events"): Expect(UNIT_READ, ALL_403, stream=True),
    ("GET", "/v1/sla/alerts"): Expect(UNIT_READ, ALL_403, query={"unit": HOME}),
    ("GET", "/v1/sla/early-warning"): Expect(UNIT_READ, ALL_403, query={"unit": HOME}),
    ("GET", "/v1/reports/monev"): Expect(UNIT_READ, ALL_403, query=PERIOD | {"unit": HOME}),
    ("GET", "/v1/reports/monev/chart.png"): Expect(
        UNIT_READ, ALL_403, query=PERIOD | {"unit": HOME}
    ),
    ("GET", "/v1/reports/ikm"): Expect(UNIT_READ, ALL_403, query=PERIOD | {"unit": HOME}),
    ("GET", "/v1/reports/ikm/flagged"): Expect(
        (403, 403, 200, 403, 200, 403), ALL_403, query={"unit": HOME}
    ),
    ("GET", "/v1/audit/log"): Expect(AUDIT_READ, AUDIT_READ),
    ("GET", "/v1/audit/verify"): Expect(AUDIT_READ, AUDIT_READ),
    ("GET", "/v1/audit/access-log"): Expect(AUDIT_READ, AUDIT_READ),
    ("GET", "/v1/admin/closures"): Expect(ADMIN_ONLY, ADMIN_ONLY),
    ("POST", "/v1/admin/closures"): Expect(
        ADMIN_CREATES,
        ADMIN_CREATES,
        body={"days": ["2027-01-04"], "zone": "Asia/Jayapura", "reason": "gempa"},
    ),
    ("GET", "/v1/admin/sla-policies"): Expect(ADMIN_ONLY, ADMIN_ONLY),
    ("POST", "/v1/admin/sla-policies"): Expect(
        ADMIN_CREATES,
        ADMIN_CREATES,
        body={
            "acknowledge": 3,
            "route": 3,
            "first_follow_up": 5,
            "close": {
                "information_request": 5,
                "complaint": 14,
                "complaint_inspection": 60,
                "suggestion": 14,
            },
            "archive_after_silence": 10,
        },
    ),
    ("GET", "/v1/admin/answer-templates"): Expect(ADMIN_ONLY, ADMIN_ONLY),
    ("POST", "/v1/admin/answer-templates"): Expect(
        ADMIN_CREATES,
        ADMIN_CREATES,
        body={"category": "obat", "title": "Obat ilegal", "body": "Terima kasih"},
    ),
    ("GET", "/v1/admin/answer-templates/{template_id}"): Expect(ADMIN_ONLY, ADMIN_ONLY, _template),
    ("PUT", "/v1/admin/answer-templates/{template_id}"): Expect(
        ADMIN_ONLY,
        ADMIN_ONLY,
        _template,
        {"category": "kosmetik", "title": "Izin edar", "body": "Terima kasih banyak"},
    ),
    ("GET", "/v1/admin/grants"): Expect(ADMIN_ONLY, ADMIN_ONLY),
    ("POST", "/v1/admin/grants"): Expect(
        # A second grant of the same unit to the same auditor is a 422: a new auditor each time.
        ADMIN_CREATES,
        ADMIN_CREATES,
        body=lambda: {"sub": f"auditor-{next(_SETUP_CALLERS)}", "unit": "*"},
    ),
    ("DELETE", "/v1/admin/grants/{grant_id}"): Expect(ADMIN_DELETES, ADMIN_DELETES, _grant),
    ("GET", "/v1/admin/ikm-weights"): Expect(ADMIN_ONLY, ADMIN_ONLY),
    ("POST", "/v1/admin/ikm-weights"): Expect(
        ADMIN_CREATES,
        ADMIN_CREATES,
        body={"unit": HOME, "weights": None, "description": "bobot sama"},
    ),
}


def _units(role: str, served: bool) -> tuple[str, ...]:
    if not served:
        return (ELSEWHERE,)
    return ("*",) if role in AGENCY_WIDE else (HOME,)


def _path(template: str, target: Target) -> str:
    return template.format(
        case_id=target.case_id,
        unit=HOME,
        template_id=target.template_id,
        grant_id=target.grant_id,
    )


def _answer(api, method: str, path: str, expect: Expect, role: str, served: bool) -> int:
    target = expect.setup(api)
    headers = api.headers(role, units=_units(role, served), sub=f"{role}-x")
    if "{case_id}" in path or "{template_id}" in path:
        headers["If-Match"] = f'"{target.version}"'
    answer = api.client.request(
        method,
        _path(path, target),
        json=expect.body() if callable(expect.body) else expect.body,
        params=expect.query,
        headers=headers,
    )
    if answer.status_code >= 400:
        assert answer.headers["content-type"].startswith("application/problem+json"), path
    return answer.status_code


def test_every_route_is_in_the_access_table_or_public(api) -> None:
    routes = app_routes(api.client.app)
    forgotten = sorted(routes - set(EXPECTED) - PUBLIC - COMPLAINANT)
    assert not forgotten, f"routes with no row in the access table: {forgotten}"
    assert not PUBLIC & set(EXPECTED)


def test_public_routes_answer_without_a_token(api) -> None:
    for method, path in sorted(PUBLIC & app_routes(api.client.app)):
        assert api.client.request(method, path).status_code == 200, path


def test_every_route_answers_each_role_and_unit_as_the_role_table_says(api) -> None:
    routes = app_routes(api.client.app)
    wrong = []
    for (method, path), expect in sorted(EXPECTED.items()):
        if (method, path) not in routes:
            continue  # a row for a route another part of the service has not built yet
        for served, codes in ((True, expect.served), (False, expect.elsewhere)):
            for role, code in zip(ROLES, codes, strict=True):
                if expect.stream and code < 300:
                    continue
                got = _answer(api, method, path, expect, role, served)
                if got != code:
                    wrong.append(
                        f"{method} {path} {role} {'served' if served else 'other'}: "
                        f"expected {code}, got {got}"
                    )
                assert got not in (401, 500), (method, path, role, got)
    assert not wrong, "\n".join(wrong)


def test_every_route_but_the_public_ones_wants_a_token(api) -> None:
    for method, path in sorted(app_routes(api.client.app) - PUBLIC - COMPLAINANT):
        target = Target(case_id="00000000-0000-4000-8000-000000000000")
        target.template_id = target.grant_id = target.case_id
        answer = api.client.request(method, _path(path, target), json={})
        assert answer.status_code == 401, (method, path, answer.status_code)
