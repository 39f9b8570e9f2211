"""Redis goes away and comes back: commands, queries, rate limits and the live feed carry on."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import redis

from infrastructure.settings import Settings
from interfaces.bootstrap import Container
from tests.faults.conftest import SECRET
from tests.support import complaint_body
from tests.support_server import free_port, serve_over_http

BURST = 3
NO_DISK = ("--save", "", "--appendonly", "no", "--daemonize", "no")


class RedisServer:
    """A throwaway redis-server on a port of its own, with nothing written to disk."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", *NO_DISK],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    if server.process is not None:
        server.kill()


@pytest.fixture
def served(
    redis_server: RedisServer, postgres_url: str, postgres_schema: str, tmp_path: Path
) -> Iterator[tuple[str, Container]]:
    """The whole service (API and background work) on a loopback port, Redis for the feed."""
    settings = Settings(
        database_url=postgres_url,
        postgres_schema=postgres_schema,
        jwt_secret=SECRET,
        var_dir=tmp_path,
        redis_url=redis_server.url,
        rate_limit_per_minute=1,  # nothing refills while the test runs
        rate_limit_burst=BURST,
        projection_poll_seconds=0.2,
        postgres_pool_size=2,
    )
    with serve_over_http(settings) as running:
        yield running


def _headers(container: Container, sub: str = "siti", **extra: str) -> dict[str, str]:
    token = container.tokens.issue(sub, ("intake_officer",), ("ULPK-PUSAT",))
    return {"Authorization": f"Bearer {token}", **extra}


def _change_of(case_id: str, lines: Iterator[str]) -> dict:
    """The next change of this case on the feed (the changes of other cases pass by)."""
    event = None
    for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event == "queue-change":
            message = json.loads(line.removeprefix("data: "))
            if message["id"] == case_id:
                return message
    raise AssertionError("the feed ended")


def _publish_until_heard(url: str, channel: str, message: dict, listeners: int) -> None:
    """Publish once every listener has (re)subscribed: Redis answers how many heard it."""
    other_process = redis.Redis.from_url(url)
    deadline = time.monotonic() + 20
    while other_process.publish(channel, json.dumps(message)) < listeners:
        assert time.monotonic() < deadline, "the feed did not resubscribe within 20 s"
        time.sleep(0.1)
    other_process.close()


def test_without_redis_the_service_works_and_the_feed_comes_back_with_it(
    served: tuple[str, Container], redis_server: RedisServer
) -> None:
    base, container = served
    channel = f"{container.settings.redis_prefix}queue:ULPK-PUSAT"
    feed_url = "/v1/queues/ULPK-PUSAT/events"
    with ExitStack() as stack:
        client = stack.enter_context(httpx.Client(base_url=base, timeout=10))
        before = stack.enter_context(client.stream("GET", feed_url, headers=_headers(container)))
        before_lines = before.iter_lines()
        assert next(before_lines).startswith("retry:")
        warm_up = {"id": "warm-up", "status": "routed", "restricted": False, "position": 1}
        _publish_until_heard(redis_server.url, channel, warm_up, listeners=1)
        assert _change_of("warm-up", before_lines) == warm_up

        redis_server.kill()

        # A subscriber that arrives during the outage, next to one whose connection broke.
        during = stack.enter_context(client.stream("GET", feed_url, headers=_headers(container)))
        assert during.status_code == 200
        during_lines = during.iter_lines()
        assert next(during_lines).startswith("retry:")

        created = client.post("/v1/complaints", json=complaint_body(), headers=_headers(container))
        assert created.status_code == 201
        case = created.json()
        assert _change_of(case["id"], before_lines)["status"] == "received"
        assert _change_of(case["id"], during_lines)["status"] == "received"
        acknowledged = client.post(
            f"/v1/complaints/{case['id']}/acknowledge",
            json={"message": "Pengaduan diterima"},
            headers=_headers(container, **{"If-Match": '"1"'}),
        )
        assert acknowledged.status_code == 200
        shown = client.get(f"/v1/complaints/{case['id']}", headers=_headers(container))
        assert shown.status_code == 200 and shown.json()["status"] == "acknowledged"
        queue = client.get(
            "/v1/queues/ULPK-PUSAT",
            params={"after_position": acknowledged.json()["position"]},
            headers=_headers(container),
        )
        assert queue.status_code == 200

        burst = [
            client.post(
                "/v1/complaints", json=complaint_body(), headers=_headers(container, "rina")
            )
            for _ in range(BURST + 2)
        ]
        # Limited per process while Redis is away, never a 500.
        assert [r.status_code for r in burst] == [201] * BURST + [429] * 2
        assert burst[-1].headers["content-type"] == "application/problem+json"
        assert int(burst[-1].headers["retry-after"]) > 0

        redis_server.start()
        message = {"id": "from-a-worker", "status": "routed", "restricted": False, "position": 9}
        _publish_until_heard(redis_server.url, channel, message, listeners=2)
        assert _change_of("from-a-worker", before_lines) == message
        assert _change_of("from-a-worker", during_lines) == message
