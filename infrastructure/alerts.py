"""SLA alerts in SQL (append-only, never part of a rebuild) and their webhook transport."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from infrastructure.readstore import Cursor, ReadDatabase
from projections.sla.alerts import Alert, Delivery

ALERTS = "aduan_sla_alerts"
OUTBOX = "aduan_sla_outbox"
CHUNK = 500  # ids per lookup: well under SQLite's limit of bound parameters

_ALERT_COLUMNS = "id, case_id, tracking_number, unit, stage, state, due_at, raised_at, restricted"
_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {ALERTS} (id UUID PRIMARY KEY, case_id UUID NOT NULL, "
    "tracking_number TEXT NOT NULL, unit TEXT NOT NULL, stage TEXT NOT NULL, "
    "state TEXT NOT NULL, due_at TIMESTAMPTZ NOT NULL, raised_at TIMESTAMPTZ NOT NULL, "
    "restricted BOOLEAN NOT NULL)",
    # The timer's anti-join looks alerts up by what they are about.
    f"CREATE UNIQUE INDEX IF NOT EXISTS {ALERTS}_about ON {ALERTS} (case_id, stage, state, due_at)",
    f"CREATE INDEX IF NOT EXISTS {ALERTS}_raised ON {ALERTS} (raised_at, id)",
    f"CREATE TABLE IF NOT EXISTS {OUTBOX} (alert_id UUID PRIMARY KEY REFERENCES {ALERTS} (id), "
    "attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TIMESTAMPTZ NOT NULL, "
    "delivered_at TIMESTAMPTZ, last_error TEXT)",
    f"CREATE INDEX IF NOT EXISTS {OUTBOX}_pending "
    f"ON {OUTBOX} (next_attempt_at) WHERE delivered_at IS NULL",
)


class SqlAlertStore:
    """The alert log and its outbox: fixed tables, written once per alert, never rebuilt."""

    def __init__(self, db: ReadDatabase) -> None:
        self.db = db
        with db.transaction() as cursor:
            for statement in _SCHEMA:
                cursor.execute(statement)

    def raise_alerts(self, alerts: Sequence[Alert]) -> list[Alert]:
        fresh = list({a.id: a for a in alerts}.values())
        if not fresh:
            return []
        with self.db.transaction() as cursor:
            known = self._known(cursor, [a.id for a in fresh])
            fresh = [a for a in fresh if a.id not in known]
            if not fresh:
                return []
            # A timer in another process may raise the same alert meanwhile: its row wins and
            # this one is skipped, so an alert still has one row and one outbox entry.
            cursor.executemany(
                f"INSERT INTO {ALERTS} ({_ALERT_COLUMNS}) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [
                    (
                        a.id,
                        a.case_id,
                        a.tracking_number,
                        a.unit,
                        a.stage,
                        a.state,
                        a.due_at,
                        a.raised_at,
                        a.restricted,
                    )
                    for a in fresh
                ],
            )
            cursor.executemany(
                f"INSERT INTO {OUTBOX} (alert_id, attempts, next_attempt_at) "
                "VALUES (%s, 0, %s) ON CONFLICT DO NOTHING",
                [(a.id, a.raised_at) for a in fresh],
            )
        return fresh

    def raised(self, ids: Sequence[UUID]) -> set[UUID]:
        with self.db.transaction() as cursor:
            return self._known(cursor, ids)

    def _known(self, cursor: Cursor, ids: Sequence[UUID]) -> set[UUID]:
        known: set[UUID] = set()
        for start in range(0, len(ids), CHUNK):
            condition, params = self.db.any_of("id", list(ids[start : start + CHUNK]))
            cursor.execute(f"SELECT id FROM {ALERTS} WHERE {condition}", params)
            known |= {_uuid(r[0]) for r in cursor.fetchall()}
        return known

    def alerts(self, limit: int = 1000) -> list[Alert]:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT {_ALERT_COLUMNS} FROM {ALERTS} ORDER BY raised_at, id LIMIT %s", (limit,)
            )
            return [_alert(r) for r in cursor.fetchall()]

    def due_deliveries(self, now: datetime, limit: int) -> list[Delivery]:
        columns = ", ".join(f"a.{c.strip()}" for c in _ALERT_COLUMNS.split(","))
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT {columns}, o.attempts, o.next_attempt_at, o.delivered_at, o.last_error "
                f"FROM {OUTBOX} o JOIN {ALERTS} a ON a.id = o.alert_id "
                "WHERE o.delivered_at IS NULL AND o.next_attempt_at <= %s "
                "ORDER BY o.next_attempt_at, o.alert_id LIMIT %s",
                (now, limit),
            )
            return [_delivery(r) for r in cursor.fetchall()]

    def delivered(self, alert: UUID, at: datetime) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"UPDATE {OUTBOX} SET attempts = attempts + 1, delivered_at = %s, "
                "last_error = NULL WHERE alert_id = %s",
                (at, alert),
            )

    def failed(self, alert: UUID, next_attempt_at: datetime, error: str) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"UPDATE {OUTBOX} SET attempts = attempts + 1, next_attempt_at = %s, "
                "last_error = %s WHERE alert_id = %s",
                (next_attempt_at, error, alert),
            )

    def delivery(self, alert: UUID) -> Delivery | None:
        columns = ", ".join(f"a.{c.strip()}" for c in _ALERT_COLUMNS.split(","))
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT {columns}, o.attempts, o.next_attempt_at, o.delivered_at, o.last_error "
                f"FROM {OUTBOX} o JOIN {ALERTS} a ON a.id = o.alert_id WHERE o.alert_id = %s",
                (alert,),
            )
            row = cursor.fetchone()
        return _delivery(row) if row else None


class UrllibTransport:
    """POSTs with the standard library: no extra dependency for one request at a time."""

    def __init__(self, timeout_seconds: float = 10.0) -> None:
        self.timeout_seconds = timeout_seconds
        # No proxy from stray environment variables: only settings configure the service.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout_seconds) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _alert(row: Sequence[Any]) -> Alert:
    return Alert(
        id=_uuid(row[0]),
        case_id=_uuid(row[1]),
        tracking_number=row[2],
        unit=row[3],
        stage=row[4],
        state=row[5],
        due_at=row[6],
        raised_at=row[7],
        restricted=bool(row[8]),
    )


def _delivery(row: Sequence[Any]) -> Delivery:
    return Delivery(_alert(row[:9]), int(row[9]), row[10], row[11], row[12])
