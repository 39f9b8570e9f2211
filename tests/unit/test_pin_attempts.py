"""Wrong-PIN counters in process: a fixed window from the first failure, bounded memory."""

from __future__ import annotations

import pytest

from application.public import PUBLIC_CHANNELS
from infrastructure.attempts import LocalAttempts
from interfaces.http.public_schemas import PublicChannel


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_blocked_at_the_limit_until_its_window_ends() -> None:
    clock = FakeMonotonic()
    attempts = LocalAttempts(3, 900, monotonic=clock)
    for _ in range(2):
        attempts.failed("pin:number:X")
    assert attempts.blocked("pin:number:X") == 0
    clock.now += 100
    attempts.failed("pin:number:X")
    assert attempts.blocked("pin:number:X") == pytest.approx(800)  # from the first failure
    assert attempts.blocked("pin:number:Y") == 0
    clock.now += 800
    assert attempts.blocked("pin:number:X") == 0
    attempts.failed("pin:number:X")  # a new window
    assert attempts.blocked("pin:number:X") == 0


def test_only_so_many_keys_are_kept() -> None:
    attempts = LocalAttempts(1, 900, max_keys=2, monotonic=FakeMonotonic())
    for key in ("a", "b", "c"):
        attempts.failed(key)
    assert attempts.blocked("a") == 0  # forgotten first
    assert attempts.blocked("b") > 0 and attempts.blocked("c") > 0


def test_a_limit_needs_a_positive_count_and_window() -> None:
    with pytest.raises(ValueError):
        LocalAttempts(0, 900)
    with pytest.raises(ValueError):
        LocalAttempts(3, 0)


def test_the_public_channel_schema_lists_exactly_the_public_channels() -> None:
    assert {c.value for c in PublicChannel} == {c.value for c in PUBLIC_CHANNELS}
