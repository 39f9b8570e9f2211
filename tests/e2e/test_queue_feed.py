"""The live feed of a unit's queue, over a real HTTP server, in-process and through Redis."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis

from infrastructure.settings import Settings
from interfaces.bootstrap import Container
from tests.conftest import REDIS_URL
from tests.e2e.conftest import SECRET
from tests.support import complaint_body
from tests.support_server import serve_over_http


@pytest.fixture(params=["local", "redis"])
def served(
    request: pytest.FixtureRequest, postgres_url: str, postgres_schema: str, tmp_path: Path
) -> Iterator[tuple[str, Container]]:
    """The whole service on a loopback port, its feed in-process or through Redis."""
    with _serve(request.param == "redis", postgres_url, postgres_schema, tmp_path) as running:
        yield running


@pytest.fixture
def served_with_redis(
    postgres_url: str, postgres_schema: str, tmp_path: Path
) -> Iterator[tuple[str, Container]]:
    with _serve(True, postgres_url, postgres_schema, tmp_path) as running:
        yield running


@contextmanager
def _serve(
    with_redis: bool, postgres_url: str, postgres_schema: str, tmp_path: Path
) -> Iterator[tuple[str, Container]]:
    redis_url = None
    if with_redis:
        redis_url = REDIS_URL
        try:
            redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
        except redis.RedisError as error:
            pytest.fail(f"Redis is not reachable at {redis_url}: {error}")
    settings = Settings(
        database_url=postgres_url,
        postgres_schema=postgres_schema,
        jwt_secret=SECRET,
        var_dir=tmp_path,
        redis_url=redis_url,
        redis_prefix=f"aduan-test-{secrets.token_hex(4)}:",
        projection_poll_seconds=0.2,
    )
    with serve_over_http(settings) as running:
        yield running


def _headers(container: Container, *roles: str, units=("ULPK-PUSAT",)) -> dict[str, str]:
    return {"Authorization": f"Bearer {container.tokens.issue('siti', roles, units)}"}


def _next_event(lines: Iterator[str]) -> dict:
    event = None
    for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event == "queue-change":
            return json.loads(line.removeprefix("data: "))
    raise AssertionError("the feed ended")


def test_a_new_case_is_announced_on_its_units_feed(served) -> None:
    base, container = served
    intake = _headers(container, "intake_officer")
    with (
        httpx.Client(base_url=base, timeout=10) as client,
        client.stream("GET", "/v1/queues/ULPK-PUSAT/events", headers=intake) as feed,
    ):
        assert feed.status_code == 200
        assert feed.headers["content-type"].startswith("text/event-stream")
        lines = feed.iter_lines()
        assert next(lines).startswith("retry:")
        created = client.post("/v1/complaints", json=complaint_body(), headers=intake).json()
        message = _next_event(lines)
    assert message["id"] == created["id"]
    assert message["status"] == "received" and message["position"] >= created["position"]


def test_the_feed_is_authorised_like_the_queue(served) -> None:
    base, container = served
    with httpx.Client(base_url=base, timeout=10) as client:
        other = client.get(
            "/v1/queues/BBPOM-JAKARTA/events", headers=_headers(container, "intake_officer")
        )
        anonymous = client.get("/v1/queues/ULPK-PUSAT/events")
    assert other.status_code == 403
    assert other.headers["content-type"] == "application/problem+json"
    assert anonymous.status_code == 401


def test_a_change_another_process_publishes_through_redis_reaches_the_feed(
    served_with_redis,
) -> None:
    base, container = served_with_redis
    assert container.settings.redis_url is not None
    intake = _headers(container, "intake_officer")
    other_process = redis.Redis.from_url(container.settings.redis_url)
    message = {"id": "from-a-worker", "status": "routed", "restricted": False, "position": 7}
    with (
        httpx.Client(base_url=base, timeout=10) as client,
        client.stream("GET", "/v1/queues/ULPK-PUSAT/events", headers=intake) as feed,
    ):
        lines = feed.iter_lines()
        next(lines)
        channel = f"{container.settings.redis_prefix}queue:ULPK-PUSAT"
        assert other_process.publish(channel, json.dumps(message)) == 1
        assert _next_event(lines) == message
