"""Token-bucket rate limits in real Redis, and the per-process fallback when Redis is away."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator

import pytest
import redis

from infrastructure.ratelimit import LocalRateLimiter, RedisRateLimiter
from tests.conftest import REDIS_URL


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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
    """A key prefix of this test's own; its keys are deleted afterwards."""
    name = f"aduan-test-{secrets.token_hex(6)}:"
    yield name
    keys = list(client.scan_iter(match=f"{name}*"))
    if keys:
        client.delete(*keys)


def limiter(client: redis.Redis, prefix: str, *, burst: int = 3) -> RedisRateLimiter:
    # One token a minute: nothing refills noticeably while a test runs.
    return RedisRateLimiter(client, prefix, LocalRateLimiter(1, burst))


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def test_the_redis_bucket_lets_a_burst_through_then_refuses_with_a_wait(
    client: redis.Redis, prefix: str
) -> None:
    limits = limiter(client, prefix)
    assert [limits.allow("create:sub:siti")[0] for _ in range(3)] == [True, True, True]
    allowed, wait = limits.allow("create:sub:siti")
    assert not allowed
    assert 0 < wait <= 60


def test_each_key_has_its_own_bucket(client: redis.Redis, prefix: str) -> None:
    limits = limiter(client, prefix, burst=1)
    assert limits.allow("create:sub:siti")[0]
    assert not limits.allow("create:sub:siti")[0]
    assert limits.allow("create:sub:budi")[0]


def test_processes_sharing_redis_share_one_bucket(client: redis.Redis, prefix: str) -> None:
    first, second = limiter(client, prefix, burst=2), limiter(client, prefix, burst=2)
    assert first.allow("intake:ip:10.0.0.7")[0]
    assert second.allow("intake:ip:10.0.0.7")[0]
    assert not first.allow("intake:ip:10.0.0.7")[0]
    assert not second.allow("intake:ip:10.0.0.7")[0]


def test_buckets_live_under_the_prefix_and_expire(client: redis.Redis, prefix: str) -> None:
    limits = limiter(client, prefix)
    limits.allow("create:sub:siti")
    keys = [k.decode() for k in client.scan_iter(match=f"{prefix}*")]
    assert keys == [f"{prefix}ratelimit:create:sub:siti"]
    # Full again after burst / rate = 180 s: the key need not outlive that (plus a second).
    assert 0 < client.pttl(keys[0]) <= 181_000


def test_an_odd_or_long_key_is_hashed_into_a_short_one(client: redis.Redis, prefix: str) -> None:
    limits = limiter(client, prefix, burst=1)
    odd = "create:sub:" + "\n" + "x" * 500
    assert limits.allow(odd)[0]
    assert not limits.allow(odd)[0]
    (key,) = [k.decode() for k in client.scan_iter(match=f"{prefix}*")]
    assert key.startswith(f"{prefix}ratelimit:h:") and len(key) < 120


def test_with_redis_down_the_limit_still_holds_per_process() -> None:
    down = redis.Redis.from_url(closed_port_url(), socket_timeout=0.5, socket_connect_timeout=0.5)
    limits = RedisRateLimiter(down, "aduan-test:", LocalRateLimiter(1, 2))
    assert limits.allow("create:sub:siti") == (True, 0.0)
    assert limits.allow("create:sub:siti")[0]
    allowed, wait = limits.allow("create:sub:siti")
    assert not allowed and wait > 0
    assert limits.allow("create:sub:budi")[0]


def test_after_a_failure_redis_is_retried_only_after_the_pause(
    client: redis.Redis, prefix: str
) -> None:
    clock = FakeMonotonic()
    limits = RedisRateLimiter(
        redis.Redis.from_url(closed_port_url(), socket_connect_timeout=0.5),
        prefix,
        LocalRateLimiter(1, 1, monotonic=clock),
        retry_seconds=5,
        monotonic=clock,
    )
    assert limits.allow("create:sub:siti")[0]  # Redis down: the local bucket answers
    limits._client = client  # Redis is back (a test-only swap of the connection)
    limits._script = client.register_script(limits._script.script)
    assert not limits.allow("create:sub:siti")[0]  # still the local bucket, within the pause
    clock.now += 5
    assert limits.allow("create:sub:siti")[0]  # Redis again, with a fresh bucket there
    assert list(client.scan_iter(match=f"{prefix}*"))


def test_the_local_bucket_refills_at_the_configured_rate() -> None:
    clock = FakeMonotonic()
    limits = LocalRateLimiter(60, 2, monotonic=clock)
    assert limits.allow("k")[0] and limits.allow("k")[0]
    allowed, wait = limits.allow("k")
    assert not allowed and wait == pytest.approx(1.0)
    clock.now += 1.0
    assert limits.allow("k")[0]
    clock.now += 3600
    assert [limits.allow("k")[0] for _ in range(3)] == [True, True, False]


def test_the_local_limiter_keeps_a_bounded_number_of_buckets() -> None:
    limits = LocalRateLimiter(1, 1, max_keys=2)
    for key in ("a", "b", "c"):
        assert limits.allow(key)[0]
    assert not limits.allow("c")[0]
    assert limits.allow("a")[0]  # forgotten as the least recently used: starts full
