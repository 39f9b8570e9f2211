"""How the Open311 facade counts its POSTs: every outcome in the metrics, 429s not in the tally,
and counting never failing a request."""

from __future__ import annotations

from datetime import datetime

import pytest

from application.errors import IdempotencyKeyReused, RequestInFlight, StoreUnavailable
from application.open311 import Open311
from interfaces.http.problems import Problem
from interfaces.http.routes.open311 import _refusal
from tests.support import MONDAY


class Recorder:
    def __init__(self, broken: bool = False) -> None:
        self.counted: list[tuple[str, str, str | None]] = []
        self.inbound: list[tuple[str, str, str]] = []
        self.broken = broken

    def count(self, connector: str, outcome: str, at: datetime, detail: str | None = None) -> None:
        if self.broken:
            raise OSError("the read database is gone")
        self.counted.append((connector, outcome, detail))

    def connector_inbound(self, connector: str, kind: str, result: str) -> None:
        self.inbound.append((connector, kind, result))


def test_a_rate_limited_post_is_in_the_metrics_only() -> None:
    seen = Recorder()
    facade = Open311(listing=None, tally=seen, metrics=seen)  # type: ignore[arg-type]
    facade.outcome("filed", MONDAY)
    facade.outcome("rate_limited", MONDAY)
    facade.outcome("error", MONDAY, "StoreUnavailable")
    assert seen.inbound == [
        ("open311", "request", "filed"),
        ("open311", "request", "rate_limited"),
        ("open311", "request", "error"),
    ]
    assert seen.counted == [("open311", "filed", None), ("open311", "error", "StoreUnavailable")]


def test_counting_never_fails_the_request() -> None:
    broken = Recorder(broken=True)
    Open311(listing=None, tally=broken, metrics=broken).outcome("filed", MONDAY)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (Problem(400, "x", "x", "x"), "invalid"),
        (Problem(422, "x", "x", "x"), "invalid"),
        (Problem(403, "x", "x", "x"), "api_key"),
        (Problem(404, "x", "x", "x"), "unknown_service"),
        (Problem(413, "x", "x", "x"), "too_large"),
        (Problem(429, "x", "x", "x"), "rate_limited"),
        (Problem(503, "x", "x", "x"), "error"),
        (IdempotencyKeyReused("x"), "idempotency_key_reused"),
        (RequestInFlight("x"), "in_flight"),
        (StoreUnavailable(), "error"),
        (RuntimeError("x"), "error"),
    ],
)
def test_each_refusal_has_its_reason(error: Exception, reason: str) -> None:
    assert _refusal(error) == reason
