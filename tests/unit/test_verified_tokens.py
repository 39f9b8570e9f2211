"""A verified token is answered from memory only until it expires, and a bad one never is."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from application.access import Principal, Role
from application.errors import AuthenticationFailed
from infrastructure.tokens import SharedSecretTokens, VerifiedTokens

SECRET = "s" * 40


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_kept_token_expires_with_its_exp_and_the_oldest_go_first() -> None:
    clock = Clock()
    kept = VerifiedTokens(max_tokens=2, clock=clock)
    siti = Principal("siti", frozenset({Role.INTAKE_OFFICER}), frozenset({"ULPK-PUSAT"}))
    kept.put("a", siti, until=1_010.0)
    kept.put("b", siti, until=1_010.0)
    assert kept.get("a") == siti  # now the most recently used
    kept.put("c", siti, until=1_010.0)
    assert kept.get("b") is None and kept.get("a") == siti and kept.get("c") == siti
    clock.now = 1_010.0
    assert kept.get("a") is None


def test_an_expired_token_is_refused_even_after_it_was_accepted() -> None:
    tokens = SharedSecretTokens(SECRET, "aduan-dev", "aduan", leeway_seconds=0)
    issued = datetime.now(UTC) - timedelta(hours=1)
    token = tokens.issue(
        "siti", ["intake_officer"], ["*"], ttl=timedelta(hours=1, seconds=2), now=issued
    )
    assert tokens.authenticate(token).sub == "siti"
    assert tokens.authenticate(token).sub == "siti"  # from memory
    time.sleep(2.1)
    with pytest.raises(AuthenticationFailed):
        tokens.authenticate(token)
    with pytest.raises(AuthenticationFailed):
        tokens.authenticate(token[:-2] + "xx")
