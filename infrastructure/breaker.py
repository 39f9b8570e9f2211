"""A circuit breaker in front of PostgreSQL: once the database cannot be reached, fail fast.

Without it, every call to a stopped database waits for the pool's checkout timeout, and the
library's recorder methods retry that ten times (``@retry(..., max_attempts=10)``): a command
answered 503 only after ~10x ``ADUAN_POSTGRES_CONNECT_TIMEOUT``. The breaker sits where a
connection is taken from a pool (the event store's and the read store's), so that:

- **closed**: calls go through; a failure to reach the database (no connection within the pool
  timeout, a connection lost, the server shutting down) counts; ``failures`` of them in a row
  open the breaker. Any answer from the database (even an SQL error) resets the count.
- **open** for ``open_seconds``: every call fails at once with ``StoreUnavailable`` (503 with
  Retry-After), before asking a pool; the library does not retry it (it retries only its own
  Operational/InterfaceError), so nothing reaches the database.
- **half-open** after that: one call (the probe) goes through; the others still fail fast. The
  probe's success closes the breaker, its failure opens it again for another period.

A transaction either commits or not, so a call failed by the breaker has written nothing.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
import psycopg_pool

from application.errors import StoreUnavailable

log = logging.getLogger("aduan.breaker")

T = TypeVar("T")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
STATES = (CLOSED, OPEN, HALF_OPEN)

# SQLSTATEs that say the server is (going) away rather than that it refused a statement.
_GONE_STATES = ("57P01", "57P02", "57P03")  # admin_shutdown, crash_shutdown, cannot_connect_now


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` (or what it was raised from) says the database cannot be reached."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, psycopg_pool.PoolTimeout | psycopg.InterfaceError):
            return True
        if isinstance(current, psycopg.OperationalError):
            state = current.sqlstate
            # No SQLSTATE: the client library's own error (refused, reset, closed by the server).
            return state is None or state.startswith("08") or state in _GONE_STATES
        current = current.__cause__ or current.__context__
    return False


@dataclass
class BreakerStats:
    """What the breaker has done since the process started (for metrics and tests)."""

    opened: int = 0  # times it went from closed (or half-open) to open
    rejected: int = 0  # calls failed fast without touching the database
    probes: int = 0  # calls let through while half-open
    failures: int = 0  # calls that could not reach the database


class CircuitBreaker:
    """One breaker per database server, shared by every pool that talks to it."""

    def __init__(
        self,
        *,
        failures: int = 1,
        open_seconds: float = 2.0,
        probe_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        if failures < 1:
            raise ValueError("failures must be at least 1")
        self.failures = failures
        self.open_seconds = open_seconds
        # A probe that never reports (its thread stuck) stops blocking the next one after this.
        self.probe_seconds = probe_seconds
        self.clock = clock  # monotonic seconds; tests replace it
        self.on_change = on_change
        self.stats = BreakerStats()
        self._lock = threading.Lock()
        self._state = CLOSED
        self._in_a_row = 0
        self._opened_at = 0.0
        self._probe_since: float | None = None

    @property
    def state(self) -> str:
        with self._lock:
            if self._state == OPEN and self.clock() >= self._opened_at + self.open_seconds:
                return HALF_OPEN
            return self._state

    def before(self) -> bool:
        """Let a call through (True when it is the probe) or raise StoreUnavailable."""
        with self._lock:
            if self._state == CLOSED:
                return False
            now = self.clock()
            if self._state == OPEN:
                reopen_at = self._opened_at + self.open_seconds
                if now < reopen_at:
                    self.stats.rejected += 1
                    raise StoreUnavailable(retry_after=reopen_at - now)
                self._move(HALF_OPEN)
            stuck = self._probe_since is not None and now - self._probe_since > self.probe_seconds
            if self._probe_since is None or stuck:
                self._probe_since = now
                self.stats.probes += 1
                return True
            self.stats.rejected += 1
            raise StoreUnavailable(retry_after=self.open_seconds)

    def succeeded(self, probe: bool) -> None:
        with self._lock:
            self._in_a_row = 0
            if probe:
                self._probe_since = None
            if self._state != CLOSED and (probe or self._state == HALF_OPEN):
                log.warning("database reachable again: breaker closed")
                self._move(CLOSED)

    def failed(self, probe: bool) -> None:
        with self._lock:
            self.stats.failures += 1
            self._in_a_row += 1
            if probe:
                self._probe_since = None
            if probe or (self._state == CLOSED and self._in_a_row >= self.failures):
                if self._state == CLOSED:
                    log.warning("database unreachable: breaker open for %.1f s", self.open_seconds)
                self._opened_at = self.clock()
                if self._state != OPEN:
                    self.stats.opened += 1
                self._move(OPEN)

    def release(self, probe: bool) -> None:
        """A call ended without telling whether the database answered."""
        if probe:
            with self._lock:
                self._probe_since = None

    def _move(self, state: str) -> None:
        if state == self._state:
            return
        self._state = state
        if self.on_change is not None:
            self.on_change(state)

    def retry_after(self) -> int:
        """Whole seconds until the next probe may go (at least 1)."""
        with self._lock:
            left = self._opened_at + self.open_seconds - self.clock()
        return max(1, math.ceil(left))

    def guard(
        self, connect: Callable[..., AbstractContextManager[T]]
    ) -> Callable[..., AbstractContextManager[T]]:
        """``connect`` (a function giving a connection's context manager) behind the breaker."""

        @contextmanager
        def guarded(*args: Any, **kwargs: Any) -> Iterator[T]:
            probe = self.before()
            try:
                with connect(*args, **kwargs) as connection:
                    yield connection
            except BaseException as error:
                if not isinstance(error, Exception):  # cancelled, interrupted: no verdict
                    self.release(probe)
                elif is_outage(error):
                    self.failed(probe)
                elif probe or self._in_a_row:
                    # The database answered (an SQL error, a clash, or the caller's own error).
                    self.succeeded(probe)
                raise
            else:
                self.succeeded(probe)

        return guarded


def guard_pool(pool: psycopg_pool.ConnectionPool[Any], breaker: CircuitBreaker) -> None:
    """Put ``pool.connection`` behind the breaker, and bound how long the pool keeps retrying a
    lost connection in the background. psycopg_pool backs off 1, 2, 4 ... s for up to 5 min by
    default, and while one attempt to grow waits its turn no checkout starts another: after a
    long outage the pool might not try again for minutes. Once it gives up (after twice the open
    period, at least 5 s), the next checkout, the breaker's probe, starts a fresh attempt."""
    pool.connection = breaker.guard(pool.connection)  # type: ignore[method-assign,assignment]
    pool.reconnect_timeout = min(pool.reconnect_timeout, max(breaker.open_seconds * 2, 5.0))
