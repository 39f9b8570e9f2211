"""Broken object-level authorisation and mass assignment: ids and bodies a caller should not own.

Every route that takes a case id is tried with another unit's case and with a whistle-blowing
case; every route that takes a body is tried with fields a client must never set.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.e2e.test_access_matrix import (
    ELSEWHERE,
    EXPECTED,
    HOME,
    ROLES,
    Target,
    _path,
    _units,
    app_routes,
    case_in,
)

CASE_ROLES = ("intake_officer", "technical_officer", "unit_head", "wbs_officer")
ORDINARY_ROLES = ("intake_officer", "technical_officer")
# The status each route's own success needs, so a 404 can only come from whose case it is.
STATUS_FOR = {
    "acknowledge": "received",
    "route": "acknowledged",
    "follow-ups": "routed",
    "complainant-replies": "waiting",
    "close": "routed",
    "reopen": "closed",
}
EXTRA_FIELDS = {
    "status": "closed",
    "version": 99,
    "id": "00000000-0000-4000-8000-000000000001",
    "handling_unit": ELSEWHERE,
}


def _case_routes(api) -> list[tuple[str, str]]:
    found = sorted((m, p) for m, p in app_routes(api.client.app) if "{case_id}" in p)
    assert found, "no route takes a case id?"
    return found


def _status_for(path: str) -> str:
    return STATUS_FOR.get(path.rsplit("/", 1)[-1], "routed")


def _try(api, method: str, path: str, case: dict, roles, units) -> int:
    expect = EXPECTED[(method, path)]
    body = expect.body() if callable(expect.body) else expect.body
    headers = api.headers(*roles, units=units, sub="penyusup", version=case["version"])
    target = Target(case_id=case["id"], version=case["version"])
    answer = api.client.request(method, _path(path, target), json=body, headers=headers)
    return answer.status_code


def test_another_units_case_is_404_on_every_route_that_takes_a_case_id(api) -> None:
    for method, path in _case_routes(api):
        case = case_in(api, _status_for(path), unit=ELSEWHERE)
        before = api.stored_events()
        # Every case role at once, for the home unit only: still not their case.
        got = _try(api, method, path, case, CASE_ROLES, (HOME,))
        assert got == 404, (method, path, got)
        assert api.stored_events() == before


def test_a_wbs_case_is_404_for_ordinary_officers_of_its_own_unit(api) -> None:
    for method, path in _case_routes(api):
        case = case_in(api, _status_for(path), wbs=True)
        before = api.stored_events()
        for role in ORDINARY_ROLES:
            got = _try(api, method, path, case, (role,), (HOME, "BBPOM-JAKARTA"))
            assert got == 404, (method, path, role, got)
        assert api.stored_events() == before


def test_a_wbs_case_is_404_for_wbs_officers_and_unit_heads_of_other_units(api) -> None:
    for method, path in _case_routes(api):
        case = case_in(api, _status_for(path), wbs=True)
        got = _try(api, method, path, case, ("wbs_officer", "unit_head"), (ELSEWHERE,))
        assert got == 404, (method, path, got)


def test_the_wbs_officer_of_the_unit_does_act_on_the_same_request(api) -> None:
    case = case_in(api, "received", wbs=True)
    path = "/v1/complaints/{case_id}/acknowledge"
    assert _try(api, "POST", path, case, ("wbs_officer",), (HOME,)) == 200


def test_an_unknown_case_id_is_404_like_a_hidden_one(api) -> None:
    ghost = {"id": "00000000-0000-4000-8000-00000000dead", "version": 1}
    for method, path in _case_routes(api):
        assert _try(api, method, path, ghost, CASE_ROLES, (HOME,)) == 404, path


@pytest.mark.parametrize(
    "path",
    [
        "/v1/queues/{unit}",
        "/v1/queues/{unit}/counts",
        "/v1/sla/early-warning?unit={unit}",
        "/v1/sla/alerts?unit={unit}",
        "/v1/reports/monev?year=2026&quarter=4&unit={unit}",
    ],
)
def test_another_unit_is_403_and_an_unknown_unit_404(api, path) -> None:
    for role in CASE_ROLES:
        headers = api.headers(role, units=(HOME,))
        assert api.client.get(path.format(unit=ELSEWHERE), headers=headers).status_code == 403
        assert api.client.get(path.format(unit="NOWHERE"), headers=headers).status_code == 404


def test_wbs_cases_stay_out_of_ordinary_officers_lists_and_reports(api) -> None:
    wbs = case_in(api, "received", wbs=True)
    ethics = api.client.post(
        "/v1/complaints",
        json={**EXPECTED[("POST", "/v1/complaints")].body, "category": "etika_pegawai"},
        headers=api.headers("wbs_officer", units=(HOME,), sub="wbs-pusat"),
    )
    assert ethics.status_code == 201, ethics.text
    wait = {"after_position": ethics.json()["position"]}
    hidden = {wbs["id"], ethics.json()["id"]}
    api.clock.advance(timedelta(days=6))  # both past their first deadline: alerts too
    for role in ORDINARY_ROLES:
        headers = api.headers(role, units=(HOME,))
        queue = api.client.get(f"/v1/queues/{HOME}", params=wait, headers=headers).json()
        assert not hidden & {i["id"] for i in queue["items"]}
        counts = api.client.get(f"/v1/queues/{HOME}/counts", params=wait, headers=headers)
        assert counts.json()["total_open"] == 0
        alerts = api.client.get("/v1/sla/alerts", params=wait | {"unit": HOME}, headers=headers)
        assert not hidden & {i["id"] for i in alerts.json()["items"]}
        warning = api.client.get(
            "/v1/sla/early-warning", params=wait | {"unit": HOME}, headers=headers
        ).json()
        assert warning["excluded_restricted"] == 4  # acknowledge and route stages of each
        report = api.client.get(
            "/v1/reports/monev",
            params=wait | {"year": 2026, "quarter": 4, "unit": HOME},
            headers=headers,
        ).json()
        assert report["excluded_restricted"] == 2
    head = api.headers("unit_head", units=(HOME,))
    queue = api.client.get(f"/v1/queues/{HOME}", params=wait, headers=head).json()
    assert hidden <= {i["id"] for i in queue["items"]}


# --- mass assignment -------------------------------------------------------------------------


def _body_routes(api) -> list[tuple[str, str]]:
    document = api.client.get("/openapi.json").json()
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            # The complainant's routes know no roles: tests/e2e/test_http_public.py and
            # test_http_open311.py (unknown fields: 400) have theirs; the messaging gateways'
            # (an HMAC signature, no role) too: tests/e2e/test_http_inbound.py.
            public = path.startswith(("/v1/public/", "/open311/", "/v1/inbound/"))
            if "requestBody" in operation and not public:
                found.append((method.upper(), path))
    assert found
    return sorted(found)


def _allowed_role(method: str, path: str) -> str:
    expect = EXPECTED[(method, path)]
    return next(r for r, code in zip(ROLES, expect.served, strict=True) if code < 300)


def test_every_route_with_a_body_has_a_valid_body_to_try(api) -> None:
    missing = [r for r in _body_routes(api) if EXPECTED.get(r) is None or not EXPECTED[r].body]
    assert not missing, f"routes taking a body with no valid body to try: {missing}"


@pytest.mark.parametrize("field", sorted(EXTRA_FIELDS))
def test_fields_a_client_may_not_set_are_422_and_change_nothing(api, field) -> None:
    for method, path in _body_routes(api):
        expect = EXPECTED[(method, path)]
        role = _allowed_role(method, path)
        target = expect.setup(api)
        body = expect.body() if callable(expect.body) else dict(expect.body or {})
        headers = api.headers(role, units=_units(role, True), sub=f"{role}-mass")
        if "{case_id}" in path or "{template_id}" in path:
            headers["If-Match"] = f'"{target.version}"'
        url = _path(path, target)
        before = api.stored_events()
        answer = api.client.request(
            method, url, json=body | {field: EXTRA_FIELDS[field]}, headers=headers
        )
        assert answer.status_code == 422, (method, path, field, answer.text)
        assert field in {e["field"] for e in answer.json()["errors"]}, (path, answer.json())
        assert api.stored_events() == before, (method, path, field)
        # The same request without the extra field goes through: the field alone was refused.
        plain = api.client.request(method, url, json=body, headers=headers)
        assert plain.status_code < 300, (method, path, plain.text)
