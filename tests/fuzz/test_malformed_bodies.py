"""Malformed bodies on each command route: a 4xx problem+json, never a 5xx, nothing stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from interfaces.http.routes.admin import (
    AnswerTemplateIn,
    ClosureIn,
    GrantIn,
    IkmWeightsIn,
    SlaPolicyIn,
)
from interfaces.http.schemas import (
    AcknowledgeIn,
    CloseIn,
    ComplainantReplyIn,
    EraseReporterIn,
    FollowUpIn,
    NewComplaintIn,
    ReopenIn,
    RouteIn,
)
from tests.fuzz.conftest import Service
from tests.support import complaint_body

PROBLEM_JSON = "application/problem+json"
# Every role that handles cases, for every unit: the 403 of a role never hides the body's 422.
OFFICER = ("intake_officer", "technical_officer", "unit_head")
ADMIN = ("admin",)
BODIES = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
# Keys the models know, so that objects also get past "unknown field" into the fields' own rules.
known_keys = st.sampled_from(
    [
        "kind",
        "channel",
        "category",
        "subject",
        "description",
        "reporter",
        "intake_unit",
        "message",
        "unit",
        "action",
        "outcome",
        "reason",
        "days",
        "zone",
        "title",
        "body",
        "sub",
        "note",
    ]
)
json_objects = st.dictionaries(known_keys | st.text(max_size=8), json_values, max_size=6)
any_json = json_values | json_objects


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    model: type[BaseModel]
    roles: tuple[str, ...]
    versioned: bool = True

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ROUTES = [
    Route("POST", "/v1/complaints", NewComplaintIn, OFFICER, versioned=False),
    Route("POST", "/v1/complaints/{case}/acknowledge", AcknowledgeIn, OFFICER),
    Route("POST", "/v1/complaints/{case}/route", RouteIn, OFFICER),
    Route("POST", "/v1/complaints/{case}/follow-ups", FollowUpIn, OFFICER),
    Route("POST", "/v1/complaints/{case}/complainant-replies", ComplainantReplyIn, OFFICER),
    Route("POST", "/v1/complaints/{case}/close", CloseIn, OFFICER),
    Route("POST", "/v1/complaints/{case}/reopen", ReopenIn, OFFICER),
    Route("POST", "/v1/complaints/{case}/erase-reporter", EraseReporterIn, ADMIN),
    Route("POST", "/v1/admin/closures", ClosureIn, ADMIN, versioned=False),
    Route("POST", "/v1/admin/sla-policies", SlaPolicyIn, ADMIN, versioned=False),
    Route("POST", "/v1/admin/answer-templates", AnswerTemplateIn, ADMIN, versioned=False),
    Route("PUT", "/v1/admin/answer-templates/{template}", AnswerTemplateIn, ADMIN),
    Route("POST", "/v1/admin/grants", GrantIn, ADMIN, versioned=False),
    Route("POST", "/v1/admin/ikm-weights", IkmWeightsIn, ADMIN, versioned=False),
]


@dataclass
class Target:
    service: Service
    client: TestClient
    case_id: str
    template_id: str


@pytest.fixture(scope="module")
def target(service: Service) -> Iterator[Target]:
    """A case and an answer template, each at version 1, for the routes that act on one."""
    client = TestClient(service.app)
    case = client.post(
        "/v1/complaints",
        json=complaint_body(),
        headers=service.bearer("intake_officer", units=("ULPK-PUSAT",)),
    )
    assert case.status_code == 201, case.text
    template = client.post(
        "/v1/admin/answer-templates",
        json={"category": "kosmetik", "title": "Jawaban", "body": "Terima kasih."},
        headers=service.bearer(*ADMIN, units=("*",)),
    )
    assert template.status_code == 201, template.text
    yield Target(service, client, str(case.json()["id"]), str(template.json()["id"]))


def _valid(model: type[BaseModel], raw: bytes) -> bool:
    try:
        model.model_validate(json.loads(raw))
    except (ValueError, ValidationError):  # JSONDecodeError and UnicodeDecodeError included
        return False
    return True


def _send(target: Target, route: Route, raw: bytes) -> None:
    if _valid(route.model, raw):
        return  # a well-formed body by chance is not what this test is about
    service = target.service
    headers = {**service.bearer(*route.roles, units=("*",)), "Content-Type": "application/json"}
    if route.versioned:
        headers["If-Match"] = '"1"'
    path = route.path.format(case=target.case_id, template=target.template_id)
    before = service.stored_events()
    answer = target.client.request(route.method, path, content=raw, headers=headers)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
    assert answer.headers["content-type"].startswith(PROBLEM_JSON), answer.headers
    assert answer.json()["status"] == answer.status_code
    assert service.stored_events() == before


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_any_json_value_as_a_body_is_a_4xx_problem_and_stores_nothing(
    target: Target, route: Route
) -> None:
    @BODIES
    @given(value=any_json)
    def check(value: Any) -> None:
        _send(target, route, json.dumps(value).encode())

    check()


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_any_bytes_as_a_body_are_a_4xx_problem_and_store_nothing(
    target: Target, route: Route
) -> None:
    @BODIES
    @given(raw=st.binary(max_size=512))
    def check(raw: bytes) -> None:
        _send(target, route, raw)

    check()
