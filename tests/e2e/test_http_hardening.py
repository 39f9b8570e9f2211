"""Abuse limits and hardening over HTTP: rate limits, page and body caps, bare error bodies,
security headers, CORS."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
import redis
from eventsourcing.persistence import OperationalError
from fastapi.testclient import TestClient

from infrastructure.settings import Settings
from interfaces.bootstrap import Container, bootstrap
from tests.conftest import REDIS_URL
from tests.e2e.conftest import SECRET, Api
from tests.support import complaint_body

INTAKE = ("intake_officer",)
JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"


@contextmanager
def service(tmp_path: Path, **settings: Any) -> Iterator[tuple[TestClient, Container]]:
    """The service on SQLite, API only, with some settings changed."""
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path}/aduan.db",
        "jwt_secret": SECRET,
        "var_dir": tmp_path,
    }
    container = bootstrap(Settings(**(values | settings)))
    try:
        with TestClient(container.http_app(), raise_server_exceptions=False) as client:
            yield client, container
    finally:
        container.close()


def bearer(container: Container, sub: str = "siti", *roles: str) -> dict[str, str]:
    token = container.tokens.issue(sub, roles or INTAKE, ["ULPK-PUSAT"])
    return {"Authorization": f"Bearer {token}"}


def create(client: TestClient, headers: dict[str, str]) -> Any:
    return client.post("/v1/complaints", json=complaint_body(), headers=headers)


def assert_security_headers(response: Any) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["content-security-policy"] == JSON_POLICY
    assert "no-store" in headers["cache-control"]
    assert "strict-transport-security" not in headers


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


# Rate limits


def assert_rate_limited(response: Any) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["type"] == "/problems/rate-limited"
    assert_security_headers(response)


def test_creating_cases_is_rate_limited_per_caller_with_retry_after(tmp_path: Path) -> None:
    with service(tmp_path, rate_limit_per_minute=1, rate_limit_burst=2) as (client, container):
        siti = bearer(container, "siti")
        assert [create(client, siti).status_code for _ in range(2)] == [201, 201]
        assert_rate_limited(create(client, siti))
        assert create(client, bearer(container, "budi")).status_code == 201


def test_a_rate_limited_caller_is_refused_before_the_body_is_read(tmp_path: Path) -> None:
    with service(tmp_path, rate_limit_per_minute=1, rate_limit_burst=1) as (client, container):
        siti = bearer(container, "siti")
        assert create(client, siti).status_code == 201
        before = container.complaints.recorder.max_notification_id()
        assert_rate_limited(client.post("/v1/complaints", content=b"{", headers=siti))
        assert container.complaints.recorder.max_notification_id() == before
        # No token is still 401, whatever the bucket holds.
        assert client.post("/v1/complaints", json=complaint_body()).status_code == 401


def test_rate_limits_are_shared_through_redis(tmp_path: Path) -> None:
    prefix = f"aduan-test-{secrets.token_hex(6)}:"
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        settings = {
            "rate_limit_per_minute": 1,
            "rate_limit_burst": 1,
            "redis_url": REDIS_URL,
            "redis_prefix": prefix,
        }
        with (
            service(tmp_path / "a", **settings) as (first, one),
            service(tmp_path / "b", **settings) as (second, other),
        ):
            assert create(first, bearer(one, "siti")).status_code == 201
            # Another process with the same secret: the same caller, the same bucket.
            assert_rate_limited(create(second, bearer(other, "siti")))
        assert [k.decode() for k in connection.scan_iter(match=f"{prefix}*")] == [
            f"{prefix}ratelimit:create-complaint:sub:siti"
        ]
    finally:
        keys = list(connection.scan_iter(match=f"{prefix}*"))
        if keys:
            connection.delete(*keys)
        connection.close()


def test_with_redis_unreachable_the_limit_holds_in_process_and_nothing_fails(
    tmp_path: Path,
) -> None:
    down = {"redis_url": closed_port_url(), "rate_limit_per_minute": 1, "rate_limit_burst": 2}
    with service(tmp_path, **down) as (client, container):
        siti = bearer(container, "siti")
        assert [create(client, siti).status_code for _ in range(2)] == [201, 201]
        assert_rate_limited(create(client, siti))


def test_a_zero_rate_turns_the_limit_off(tmp_path: Path) -> None:
    with service(tmp_path, rate_limit_per_minute=0, rate_limit_burst=1) as (client, container):
        siti = bearer(container, "siti")
        assert [create(client, siti).status_code for _ in range(3)] == [201, 201, 201]


# Page and body caps


def test_every_limit_parameter_of_the_route_table_has_a_maximum(sqlite_api: Api) -> None:
    document = sqlite_api.client.get("/openapi.json").json()
    limits = [
        (path, method, parameter["schema"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "limit"
    ]
    assert len(limits) >= 3
    assert [(path, method) for path, method, schema in limits if "maximum" not in schema] == []


@pytest.mark.parametrize(
    ("path", "roles", "too_many"),
    [
        ("/v1/queues/ULPK-PUSAT", ("unit_head",), 201),
        ("/v1/audit/log", ("auditor",), 1001),
        ("/v1/sla/alerts", ("unit_head",), 5001),
    ],
)
def test_asking_for_a_page_beyond_the_cap_is_422(
    sqlite_api: Api, path: str, roles: tuple[str, ...], too_many: int
) -> None:
    units = ("*",) if "auditor" in roles else ("ULPK-PUSAT",)
    headers = sqlite_api.headers(*roles, units=units)
    answer = sqlite_api.client.get(path, params={"limit": too_many}, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"].endswith("limit")
    assert sqlite_api.client.get(path, params={"limit": too_many - 1}, headers=headers).is_success


def test_a_body_beyond_the_size_cap_is_413(sqlite_api: Api) -> None:
    size = sqlite_api.container.settings.max_body_bytes
    body = complaint_body(description="x" * size)
    answer = sqlite_api.client.post(
        "/v1/complaints", json=body, headers=sqlite_api.headers(*INTAKE)
    )
    assert answer.status_code == 413
    assert_security_headers(answer)


# Error bodies

LEAKS = ("Traceback", "SELECT", "queue_items", "/work/", ".py", "psycopg", "password")


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("boom in /work/main/application/complaints.py line 12"),
        psycopg.errors.UndefinedTable(
            'relation "queue_items_g1" does not exist\nLINE 1: SELECT * FROM queue_items_g1'
        ),
        psycopg.OperationalError("connection to postgresql://aduan:password@db failed"),
        OperationalError("SELECT notification_id FROM aduan_events: server closed"),
    ],
    ids=["runtime", "sql", "connection", "event-store"],
)
def test_an_internal_error_answers_without_traceback_sql_or_paths(
    sqlite_api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, error
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise error

    monkeypatch.setattr(sqlite_api.container.complaints, "case", broken)
    answer = sqlite_api.client.get(f"/v1/complaints/{uuid4()}", headers=sqlite_api.headers(*INTAKE))
    assert answer.status_code in (500, 503)
    assert answer.headers["content-type"] == "application/problem+json"
    assert set(answer.json()) <= {"type", "title", "status", "detail", "instance"}
    assert not [leak for leak in LEAKS if leak in answer.text]
    assert_security_headers(answer)
    # The details go to the log, for the operator.
    assert any(r.exc_info or "unavailable" in r.getMessage() for r in caplog.records)


# Security headers, HSTS, CORS


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz"),
        ("GET", "/v1/queues/ULPK-PUSAT"),  # 401: no token
        ("GET", "/v1/nowhere"),  # 404
        ("POST", "/healthz"),  # 405
        ("GET", "/openapi.json"),
    ],
)
def test_every_answer_carries_the_security_headers(sqlite_api: Api, method: str, path: str) -> None:
    assert_security_headers(sqlite_api.client.request(method, path))


def test_the_docs_pages_keep_their_scripts_and_still_get_the_other_headers(
    sqlite_api: Api,
) -> None:
    for path in ("/docs", "/redoc"):
        page = sqlite_api.client.get(path)
        assert page.status_code == 200
        assert "content-security-policy" not in page.headers
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["x-frame-options"] == "DENY"


def test_hsts_is_sent_only_when_the_service_is_behind_https(tmp_path: Path) -> None:
    with service(tmp_path, behind_https=True) as (client, _):
        assert "max-age=" in client.get("/healthz").headers["strict-transport-security"]


def preflight(client: TestClient, origin: str) -> Any:
    return client.options(
        "/v1/complaints",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )


def test_cors_is_off_unless_configured(sqlite_api: Api) -> None:
    origin = "https://evil.example"
    assert "access-control-allow-origin" not in preflight(sqlite_api.client, origin).headers
    plain = sqlite_api.client.get("/healthz", headers={"Origin": origin})
    assert "access-control-allow-origin" not in plain.headers


def test_cors_allows_exactly_the_configured_origins(tmp_path: Path) -> None:
    origins = "https://aduan.pom.go.id, https://ulpk.pom.go.id/"
    with service(tmp_path, cors_origins=origins) as (client, container):
        allowed = preflight(client, "https://ulpk.pom.go.id")
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://ulpk.pom.go.id"
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        assert allowed.headers["x-content-type-options"] == "nosniff"
        refused = preflight(client, "https://evil.example")
        assert "access-control-allow-origin" not in refused.headers
        made = client.post(
            "/v1/complaints",
            json=complaint_body(),
            headers=bearer(container) | {"Origin": "https://aduan.pom.go.id"},
        )
        assert made.status_code == 201
        assert made.headers["access-control-allow-origin"] == "https://aduan.pom.go.id"
        assert "etag" in made.headers["access-control-expose-headers"].lower()
