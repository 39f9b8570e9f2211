"""The circuit breaker's states, on a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import psycopg_pool
import pytest
from eventsourcing.persistence import OperationalError

from application.errors import StoreUnavailable
from infrastructure.breaker import CircuitBreaker, is_outage


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_what_counts_as_the_database_being_gone() -> None:
    wrapped = OperationalError("couldn't get a connection")
    wrapped.__cause__ = psycopg_pool.PoolTimeout("couldn't get a connection after 1.00 sec")
    assert is_outage(wrapped)
    assert is_outage(psycopg.OperationalError("connection refused"))  # no SQLSTATE
    assert is_outage(psycopg.InterfaceError("the connection is closed"))
    assert is_outage(psycopg.errors.AdminShutdown())
    assert is_outage(psycopg.errors.ConnectionFailure())
    # The server answered: not an outage.
    assert not is_outage(psycopg.errors.LockNotAvailable())
    assert not is_outage(psycopg.errors.UniqueViolation())
    assert not is_outage(ValueError("a bug of ours"))


def guarded(breaker: CircuitBreaker, outcome: BaseException | None):  # type: ignore[no-untyped-def]
    @contextmanager
    def connect() -> Iterator[str]:
        if outcome is not None:
            raise outcome
        yield "connection"

    with breaker.guard(connect)() as connection:
        return connection


def test_opens_after_failures_in_a_row_fails_fast_then_one_probe_closes_it() -> None:
    clock = Clock()
    changes: list[str] = []
    breaker = CircuitBreaker(failures=2, open_seconds=5, clock=clock, on_change=changes.append)
    gone = psycopg_pool.PoolTimeout()
    with pytest.raises(psycopg_pool.PoolTimeout):
        guarded(breaker, gone)
    assert breaker.state == "closed"
    assert guarded(breaker, None) == "connection"  # a success resets the count
    for _ in range(2):
        with pytest.raises(psycopg_pool.PoolTimeout):
            guarded(breaker, gone)
    assert breaker.state == "open"
    clock.now += 1
    with pytest.raises(StoreUnavailable) as refused:
        guarded(breaker, None)  # would succeed, but is never tried
    assert refused.value.retry_after == pytest.approx(4)
    assert breaker.retry_after() == 4

    clock.now += 4
    assert breaker.state == "half_open"
    probe = breaker.before()
    assert probe
    with pytest.raises(StoreUnavailable):
        breaker.before()  # one probe at a time
    breaker.failed(probe)
    assert breaker.state == "open"
    clock.now += 5
    assert guarded(breaker, None) == "connection"
    assert breaker.state == "closed"
    assert changes == ["open", "half_open", "open", "half_open", "closed"]
    assert breaker.stats.opened == 2
    assert breaker.stats.probes == 2
    assert breaker.stats.rejected == 2


def test_a_database_error_is_an_answer_and_a_stuck_probe_is_replaced() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, open_seconds=1, probe_seconds=10, clock=clock)
    with pytest.raises(psycopg.OperationalError):
        guarded(breaker, psycopg.OperationalError("server closed the connection"))
    clock.now += 1
    with pytest.raises(psycopg.errors.UniqueViolation):
        guarded(breaker, psycopg.errors.UniqueViolation())  # the probe got an answer
    assert breaker.state == "closed"

    with pytest.raises(psycopg.OperationalError):
        guarded(breaker, psycopg.OperationalError("gone again"))
    clock.now += 1
    assert breaker.before()  # a probe that never reports back
    with pytest.raises(StoreUnavailable):
        breaker.before()
    clock.now += 11
    assert breaker.before()
