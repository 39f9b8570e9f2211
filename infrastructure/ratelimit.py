"""Rate limits: a token bucket per client, in Redis (shared by every process) or in process."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import redis

log = logging.getLogger("aduan.ratelimit")

# One atomic step of a token bucket: refill by the time since the last call (Redis's own clock,
# so every process agrees), take a token if there is one, and let an idle bucket expire once it
# would be full again anyway. Answers {allowed, seconds until a token is back}.
TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(wait)}
"""


def _bucket_key(key: str) -> str:
    # Keys come from callers (a token's sub, a client address): keep them short and plain.
    if len(key) <= 200 and key.isprintable():
        return key
    return "h:" + hashlib.sha256(key.encode()).hexdigest()


class LocalRateLimiter:
    """Token buckets in this process: Redis's fallback, and the limiter when there is no Redis.

    At most ``max_keys`` buckets are kept (least recently used go first; a forgotten bucket
    starts full again), so a flood of distinct clients cannot grow memory without bound.
    """

    blocking = False  # no I/O: the HTTP layer asks it on its event loop

    def __init__(
        self,
        per_minute: int,
        burst: int,
        *,
        max_keys: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute <= 0 or burst <= 0:
            raise ValueError("a rate limit needs a positive rate and burst")
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._max_keys = max_keys
        self._monotonic = monotonic
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: str) -> tuple[bool, float]:
        key = _bucket_key(key)
        now = self._monotonic()
        with self._lock:
            tokens, at = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + max(0.0, now - at) * self.rate)
            allowed = tokens >= 1
            wait = 0.0
            if allowed:
                tokens -= 1
            else:
                wait = (1 - tokens) / self.rate
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        return allowed, wait


class RedisOutage:
    """Whether Redis is taken to be down: after a failed call, for ``retry_seconds``, so an
    outage costs one timeout, not one per request. Logs the change each way once."""

    def __init__(
        self, what: str, *, retry_seconds: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._what = what
        self._retry_seconds = retry_seconds
        self._monotonic = monotonic
        self._down_until: float | None = None

    def down(self) -> bool:
        return self._down_until is not None and self._monotonic() < self._down_until

    def went_down(self, error: Exception) -> None:
        if self._down_until is None:
            log.warning("%s held per process: Redis unavailable (%s)", self._what, error)
        self._down_until = self._monotonic() + self._retry_seconds

    def up(self) -> None:
        if self._down_until is not None:
            log.info("%s shared through Redis again", self._what)
            self._down_until = None


class RedisRateLimiter:
    """Token buckets in Redis, shared by all processes; per process while Redis is down.

    Keys: ``<prefix>ratelimit:<key>``, each with a TTL of the time it takes to refill. When a
    call to Redis fails, the in-process ``fallback`` answers, and Redis is tried again only after
    ``retry_seconds``, so an outage costs one timeout, not one per request. The limit then holds
    per process (N processes let through up to N times the rate), never not at all.
    """

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        fallback: LocalRateLimiter,
        *,
        retry_seconds: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self.fallback = fallback
        self._script = client.register_script(TOKEN_BUCKET)
        self._outage = RedisOutage("rate limits", retry_seconds=retry_seconds, monotonic=monotonic)

    def key(self, key: str) -> str:
        return f"{self._prefix}ratelimit:{_bucket_key(key)}"

    def allow(self, key: str) -> tuple[bool, float]:
        if self._outage.down():
            return self.fallback.allow(key)
        try:
            allowed, wait = self._script(
                keys=[self.key(key)], args=[repr(self.fallback.rate), repr(self.fallback.burst)]
            )
        except redis.RedisError as error:
            self._outage.went_down(error)
            return self.fallback.allow(key)
        self._outage.up()
        return bool(int(allowed)), float(wait)
