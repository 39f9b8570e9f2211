"""SLA alerts: raised once each (a deterministic id), kept append-only with a delivery outbox."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import NAMESPACE_URL, UUID, uuid5

from projections.sla.view import SlaRow

ALERT_NAMESPACE = uuid5(NAMESPACE_URL, "urn:aduan:sla-alert")


def alert_id(case_id: UUID, stage: str, state: str, due_at: datetime) -> UUID:
    """One alert, one id: the same stage, state and due instant always give the same id."""
    instant = due_at.astimezone(UTC).isoformat(timespec="microseconds")
    return uuid5(ALERT_NAMESPACE, f"{case_id}|{stage}|{state}|{instant}")


@dataclass(frozen=True)
class Alert:
    id: UUID
    case_id: UUID
    tracking_number: str
    unit: str
    stage: str
    state: str
    due_at: datetime
    raised_at: datetime
    restricted: bool

    @classmethod
    def of(cls, row: SlaRow, state: str, raised_at: datetime) -> Alert:
        return cls(
            id=alert_id(row.case_id, row.stage, state, row.due_at),
            case_id=row.case_id,
            tracking_number=row.tracking_number,
            unit=row.unit,
            stage=row.stage,
            state=state,
            due_at=row.due_at,
            raised_at=raised_at,
            restricted=row.restricted,
        )


@dataclass(frozen=True)
class Delivery:
    """An alert's place in the outbox."""

    alert: Alert
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None


class AlertStore(Protocol):
    def raise_alerts(self, alerts: Sequence[Alert]) -> list[Alert]:
        """Record each alert not recorded yet, with its outbox entry, in one transaction.

        Returns the alerts that were new; the others were raised before and change nothing.
        """
        ...

    def raised(self, ids: Sequence[UUID]) -> set[UUID]:
        """Which of these alert ids are recorded."""
        ...

    def alerts(self, limit: int = 1000) -> list[Alert]:
        """Recorded alerts, oldest first."""
        ...

    def due_deliveries(self, now: datetime, limit: int) -> list[Delivery]:
        """Undelivered alerts whose next attempt is due at ``now``, the longest waiting first."""
        ...

    def delivered(self, alert: UUID, at: datetime) -> None: ...

    def failed(self, alert: UUID, next_attempt_at: datetime, error: str) -> None: ...

    def delivery(self, alert: UUID) -> Delivery | None: ...


class MemoryAlertStore:
    """The alert log and outbox in memory, for fast tests."""

    def __init__(self) -> None:
        self._alerts: dict[UUID, Alert] = {}
        self._outbox: dict[UUID, Delivery] = {}
        self._lock = threading.Lock()

    def raise_alerts(self, alerts: Sequence[Alert]) -> list[Alert]:
        new = []
        with self._lock:
            for alert in alerts:
                if alert.id in self._alerts:
                    continue
                self._alerts[alert.id] = alert
                self._outbox[alert.id] = Delivery(alert, 0, alert.raised_at, None, None)
                new.append(alert)
        return new

    def raised(self, ids: Sequence[UUID]) -> set[UUID]:
        with self._lock:
            return {i for i in ids if i in self._alerts}

    def alerts(self, limit: int = 1000) -> list[Alert]:
        with self._lock:
            return list(self._alerts.values())[:limit]

    def due_deliveries(self, now: datetime, limit: int) -> list[Delivery]:
        with self._lock:
            due = [
                d
                for d in self._outbox.values()
                if d.delivered_at is None and d.next_attempt_at <= now
            ]
        due.sort(key=lambda d: (d.next_attempt_at, str(d.alert.id)))
        return due[:limit]

    def delivered(self, alert: UUID, at: datetime) -> None:
        with self._lock:
            entry = self._outbox[alert]
            self._outbox[alert] = replace(entry, attempts=entry.attempts + 1, delivered_at=at)

    def failed(self, alert: UUID, next_attempt_at: datetime, error: str) -> None:
        with self._lock:
            entry = self._outbox[alert]
            self._outbox[alert] = replace(
                entry,
                attempts=entry.attempts + 1,
                next_attempt_at=next_attempt_at,
                last_error=error,
            )

    def delivery(self, alert: UUID) -> Delivery | None:
        with self._lock:
            return self._outbox.get(alert)


def backoff(attempts: int, base: timedelta, cap: timedelta) -> timedelta:
    """Wait before the next attempt after ``attempts`` failures: doubling, capped."""
    return min(base * 2 ** min(max(attempts - 1, 0), 32), cap)
