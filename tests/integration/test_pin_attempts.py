"""Wrong-PIN counters shared through real Redis, and the per-process fallback without it."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator

import pytest
import redis

from infrastructure.attempts import LocalAttempts, RedisAttempts
from tests.conftest import REDIS_URL


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        connection.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {error}")
    yield connection
    connection.close()


@pytest.fixture
def prefix(client: redis.Redis) -> Iterator[str]:
    name = f"aduan-test-{secrets.token_hex(6)}:"
    yield name
    keys = list(client.scan_iter(match=f"{name}*"))
    if keys:
        client.delete(*keys)


def test_two_processes_share_one_count(client: redis.Redis, prefix: str) -> None:
    first = RedisAttempts(client, prefix, LocalAttempts(3, 60))
    second = RedisAttempts(client, prefix, LocalAttempts(3, 60))
    first.failed("pin:number:X")
    second.failed("pin:number:X")
    assert first.blocked("pin:number:X") == 0
    first.failed("pin:number:X")
    assert 0 < second.blocked("pin:number:X") <= 60
    ttl = client.pttl(first.key("pin:number:X"))
    assert 0 < ttl <= 60_000  # the window started at the first failure, and runs out
    assert second.blocked("pin:number:Y") == 0


def test_without_redis_each_process_still_counts() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.2, socket_connect_timeout=0.2)
    attempts = RedisAttempts(gone, "x:", LocalAttempts(2, 60))
    attempts.failed("k")
    attempts.failed("k")
    assert attempts.blocked("k") > 0
