"""Failed-attempt counters (wrong PINs): a fixed window per key, in Redis or in process.

A key with ``limit`` failures inside its window is blocked until the window, which starts at
its first failure, runs out. In Redis (``<prefix>attempts:<key>``, INCR with an expiry) every
process shares the count; while Redis is down each process counts on its own, so the limit
still holds per process, never not at all.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import redis

from infrastructure.ratelimit import RedisOutage


def _plain(key: str) -> str:
    if len(key) <= 200 and key.isprintable():
        return key
    return "h:" + hashlib.sha256(key.encode()).hexdigest()


class LocalAttempts:
    """Counts in this process (bounded: the least recently failed keys are forgotten first)."""

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        *,
        max_keys: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit <= 0 or window_seconds <= 0:
            raise ValueError("an attempt limit needs a positive limit and window")
        self.limit = limit
        self.window_seconds = window_seconds
        self._max_keys = max_keys
        self._monotonic = monotonic
        self._counts: OrderedDict[str, tuple[int, float]] = OrderedDict()  # count, window end
        self._lock = threading.Lock()

    def blocked(self, key: str) -> float:
        key = _plain(key)
        now = self._monotonic()
        with self._lock:
            count, ends = self._counts.get(key, (0, now))
            if ends <= now:
                self._counts.pop(key, None)
                return 0.0
            return ends - now if count >= self.limit else 0.0

    def failed(self, key: str) -> None:
        key = _plain(key)
        now = self._monotonic()
        with self._lock:
            count, ends = self._counts.pop(key, (0, now))
            if ends <= now:
                count, ends = 0, now + self.window_seconds
            self._counts[key] = (count + 1, ends)
            while len(self._counts) > self._max_keys:
                self._counts.popitem(last=False)


class RedisAttempts:
    """Counts shared by every process through Redis; ``fallback`` answers while it is down."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        fallback: LocalAttempts,
        *,
        retry_seconds: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self.fallback = fallback
        self._outage = RedisOutage("PIN attempts", retry_seconds=retry_seconds, monotonic=monotonic)

    def key(self, key: str) -> str:
        return f"{self._prefix}attempts:{_plain(key)}"

    def blocked(self, key: str) -> float:
        if self._outage.down():
            return self.fallback.blocked(key)
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.get(self.key(key))
            pipe.pttl(self.key(key))
            count, ttl_ms = pipe.execute()
        except redis.RedisError as error:
            self._outage.went_down(error)
            return self.fallback.blocked(key)
        self._outage.up()
        if count is None or int(count) < self.fallback.limit or ttl_ms is None or ttl_ms <= 0:
            return 0.0
        return ttl_ms / 1000.0

    def failed(self, key: str) -> None:
        if self._outage.down():
            self.fallback.failed(key)
            return
        try:
            pipe = self._client.pipeline(transaction=True)
            pipe.incr(self.key(key))
            # The window starts at the first failure: only a key without an expiry gets one.
            pipe.pexpire(self.key(key), int(self.fallback.window_seconds * 1000), nx=True)
            pipe.execute()
        except redis.RedisError as error:
            self._outage.went_down(error)
            self.fallback.failed(key)
            return
        self._outage.up()
