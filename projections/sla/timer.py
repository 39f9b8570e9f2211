"""The SLA timer and the notifier: alerts on time with no new event, delivered at least once."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from domain.tracking_number import display
from projections.sla.alerts import Alert, AlertStore, Delivery, backoff
from projections.sla.view import SlaView

log = logging.getLogger("aduan.sla")


class SlaTimer:
    """Raises each alert the open stages call for at ``now``, once, whatever the events."""

    def __init__(
        self,
        view: Callable[[], SlaView],
        alerts: AlertStore,
        on_raised: Callable[[Alert], None] | None = None,
        batch_size: int = 5000,
    ) -> None:
        self.view = view
        self.alerts = alerts
        self.on_raised = on_raised
        self.batch_size = batch_size

    def tick(self, now: datetime) -> list[Alert]:
        """One scan of the live SLA view at ``now``; returns the alerts it raised."""
        view = self.view()
        raised: list[Alert] = []
        while True:
            pending = view.unalerted(now, self.batch_size)
            new = self.alerts.raise_alerts([Alert.of(row, state, now) for row, state in pending])
            raised += new
            for alert in new:
                if self.on_raised is not None:
                    self.on_raised(alert)
            # Another timer may have raised the same alerts meanwhile: stop rather than spin.
            if len(pending) < self.batch_size or not new:
                return raised


def alert_payload(alert: Alert) -> dict[str, Any]:
    """What a webhook receives: no personal data, only where and what is due."""
    return {
        "id": str(alert.id),
        "case_id": str(alert.case_id),
        "tracking_number": display(alert.tracking_number),
        "unit": alert.unit,
        "stage": alert.stage,
        "state": alert.state,
        "due_at": alert.due_at.isoformat(),
        "raised_at": alert.raised_at.isoformat(),
        "restricted": alert.restricted,
    }


class Transport(Protocol):
    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST ``body``; the response status, or an exception when no answer came."""
        ...


@dataclass(frozen=True)
class DrainResult:
    delivered: int
    failed: int


class Notifier:
    """Drains the outbox to a webhook: at least once, de-duplicated by the receiver on alert id."""

    def __init__(
        self,
        alerts: AlertStore,
        transport: Transport,
        url: str,
        *,
        first_retry: timedelta = timedelta(seconds=10),
        longest_wait: timedelta = timedelta(hours=1),
        batch_size: int = 100,
        on_delivered: Callable[[Alert], None] | None = None,
    ) -> None:
        if first_retry <= timedelta(0):
            raise ValueError("the first retry must wait some time")
        self.alerts = alerts
        self.transport = transport
        self.url = url
        self.first_retry = first_retry
        self.longest_wait = longest_wait
        self.batch_size = batch_size
        self.on_delivered = on_delivered

    def drain(self, now: datetime) -> DrainResult:
        """Try every delivery due at ``now`` once (a failed one waits until its next attempt)."""
        delivered = failed = 0
        while True:
            batch = self.alerts.due_deliveries(now, self.batch_size)
            for entry in batch:
                if self._attempt(entry, now):
                    delivered += 1
                else:
                    failed += 1
            if len(batch) < self.batch_size:
                return DrainResult(delivered, failed)

    def _attempt(self, entry: Delivery, now: datetime) -> bool:
        alert = entry.alert
        body = json.dumps(alert_payload(alert)).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": str(alert.id)}
        try:
            status = self.transport.post(self.url, body, headers)
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except Exception as problem:  # any failure to deliver is retried later
            error = f"{type(problem).__name__}: {problem}"
        if error is None:
            self.alerts.delivered(alert.id, now)
            if self.on_delivered is not None:
                self.on_delivered(alert)
            return True
        attempt = entry.attempts + 1
        wait = backoff(attempt, self.first_retry, self.longest_wait)
        self.alerts.failed(alert.id, now + wait, error[:500])
        log.warning("alert %s not delivered (attempt %s): %s", alert.id, attempt, error)
        return False
