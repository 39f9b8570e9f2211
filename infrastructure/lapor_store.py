"""The SP4N-LAPOR! connector's tables: its cases, its append-only outbox, its poll state, and
the report activity (reporter's comments, withdrawals) taken in."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from application.lapor import OutboxCounts, OutboxEntry
from infrastructure.read_models import StalePosition
from infrastructure.readstore import ReadDatabase
from projections.lapor.outbox import OutboxChanges

CASES = "aduan_lapor_cases"
OUTBOX = "aduan_lapor_outbox"
POSITION = "aduan_lapor_outbox_position"
STATE = "aduan_connector_state"
ACTIVITY = "aduan_lapor_activity"
CHUNK = 500

_DDL = (
    f"CREATE TABLE IF NOT EXISTS {CASES} (case_id UUID PRIMARY KEY, tracking_id TEXT NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {OUTBOX} (key TEXT PRIMARY KEY, seq BIGINT NOT NULL, "
    "case_id UUID NOT NULL, version INTEGER NOT NULL, tracking_id TEXT NOT NULL, "
    "kind TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, "
    "next_attempt_at TIMESTAMPTZ NOT NULL, delivered_at TIMESTAMPTZ, rejected_at TIMESTAMPTZ, "
    "last_error TEXT)",
    f"CREATE INDEX IF NOT EXISTS {OUTBOX}_open ON {OUTBOX} (case_id, seq) "
    "WHERE delivered_at IS NULL AND rejected_at IS NULL",
    f"CREATE TABLE IF NOT EXISTS {POSITION} (id INTEGER PRIMARY KEY, position BIGINT NOT NULL)",
    f"INSERT INTO {POSITION} (id, position) VALUES (1, 0) ON CONFLICT DO NOTHING",
    f"CREATE TABLE IF NOT EXISTS {STATE} (name TEXT PRIMARY KEY, cursor TEXT, "
    "last_poll_at TIMESTAMPTZ, last_success_at TIMESTAMPTZ, last_error TEXT, "
    "last_error_at TIMESTAMPTZ)",
    # Which activity items were taken in and what became of them: ids only, never their text.
    f"CREATE TABLE IF NOT EXISTS {ACTIVITY} (activity_id TEXT PRIMARY KEY, "
    "tracking_id TEXT NOT NULL, type TEXT NOT NULL, result TEXT NOT NULL, case_id UUID, "
    "processed_at TIMESTAMPTZ NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {ACTIVITY}_filed ON {ACTIVITY} (tracking_id, processed_at) "
    "WHERE result = 'filed'",
)
_ENTRY = "key, seq, case_id, version, tracking_id, kind, attempts, next_attempt_at"


@dataclass(frozen=True)
class PollState:
    cursor: str | None
    last_poll_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None


class SqlLaporStore:
    """The outbox read model (a fixed, append-only view) and the connector's delivery state."""

    name = "lapor-outbox"
    version = 1

    def __init__(self, db: ReadDatabase) -> None:
        self.db = db
        with db.transaction() as cursor:
            for statement in _DDL:
                cursor.execute(statement)

    # --- the projection's view --------------------------------------------------------------

    def position(self) -> int:
        with self.db.transaction() as cursor:
            cursor.execute(f"SELECT position FROM {POSITION} WHERE id = 1")
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    def references(self, case_ids: Collection[UUID]) -> dict[UUID, str]:
        ids = list(case_ids)
        found: dict[UUID, str] = {}
        with self.db.transaction() as cursor:
            for start in range(0, len(ids), CHUNK):
                condition, params = self.db.any_of("case_id", ids[start : start + CHUNK])
                cursor.execute(
                    f"SELECT case_id, tracking_id FROM {CASES} WHERE {condition}", params
                )
                found.update({_uuid(r[0]): r[1] for r in cursor.fetchall()})
        return found

    def commit(self, changes: OutboxChanges, position: int) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"UPDATE {POSITION} SET position = %s WHERE id = 1 AND position < %s",
                (position, position),
            )
            if cursor.rowcount != 1:
                raise StalePosition(f"the LAPOR! outbox is already past {position}")
            if changes.cases:
                cursor.executemany(
                    f"INSERT INTO {CASES} (case_id, tracking_id) VALUES (%s, %s) "
                    "ON CONFLICT DO NOTHING",
                    list(changes.cases.items()),
                )
            if changes.messages:
                cursor.executemany(
                    f"INSERT INTO {OUTBOX} (key, seq, case_id, version, tracking_id, kind, "
                    "created_at, next_attempt_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT DO NOTHING",
                    [
                        (
                            m.key,
                            m.seq,
                            m.case_id,
                            m.version,
                            m.tracking_id,
                            m.kind,
                            m.created_at,
                            m.created_at,
                        )
                        for m in changes.messages
                    ],
                )

    # --- the sender's outbox ----------------------------------------------------------------

    def due(self, now: datetime, limit: int) -> list[OutboxEntry]:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT {_ENTRY} FROM {OUTBOX} o "
                "WHERE o.delivered_at IS NULL AND o.rejected_at IS NULL "
                "AND o.next_attempt_at <= %s AND NOT EXISTS ("
                f"SELECT 1 FROM {OUTBOX} e WHERE e.case_id = o.case_id AND e.seq < o.seq "
                "AND e.delivered_at IS NULL AND e.rejected_at IS NULL) "
                "ORDER BY o.next_attempt_at, o.seq LIMIT %s",
                (now, limit),
            )
            return [_entry(r) for r in cursor.fetchall()]

    def delivered(self, key: str, at: datetime) -> None:
        self._update("attempts = attempts + 1, delivered_at = %s, last_error = NULL", (at,), key)

    def failed(self, key: str, next_attempt_at: datetime, error: str) -> None:
        self._update(
            "attempts = attempts + 1, next_attempt_at = %s, last_error = %s",
            (next_attempt_at, error),
            key,
        )

    def rejected(self, key: str, at: datetime, error: str) -> None:
        self._update("attempts = attempts + 1, rejected_at = %s, last_error = %s", (at, error), key)

    def _update(self, assignments: str, params: tuple[Any, ...], key: str) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(f"UPDATE {OUTBOX} SET {assignments} WHERE key = %s", (*params, key))

    def entries(self) -> list[tuple[str, str, str, int, bool, bool]]:
        """Every message: key, tracking id, kind, attempts, delivered, rejected (seq order)."""
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT key, tracking_id, kind, attempts, delivered_at IS NOT NULL, "
                f"rejected_at IS NOT NULL FROM {OUTBOX} ORDER BY seq"
            )
            rows = cursor.fetchall()
        return [(r[0], r[1], r[2], int(r[3]), bool(r[4]), bool(r[5])) for r in rows]

    def counts(self) -> OutboxCounts:
        with self.db.transaction() as cursor:
            cursor.execute(
                "SELECT "
                "SUM(CASE WHEN delivered_at IS NULL AND rejected_at IS NULL AND attempts = 0 "
                "THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN delivered_at IS NULL AND rejected_at IS NULL AND attempts > 0 "
                "THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN rejected_at IS NOT NULL THEN 1 ELSE 0 END), "
                f"SUM(CASE WHEN delivered_at IS NOT NULL THEN 1 ELSE 0 END) FROM {OUTBOX}"
            )
            row = cursor.fetchone() or (0, 0, 0, 0)
            cursor.execute(
                f"SELECT last_error FROM {OUTBOX} WHERE last_error IS NOT NULL "
                "ORDER BY seq DESC LIMIT 1"
            )
            error = cursor.fetchone()
        pending, retrying, rejected, delivered = (int(v or 0) for v in row)
        return OutboxCounts(pending, retrying, rejected, delivered, error[0] if error else None)

    # --- the importer's poll state ----------------------------------------------------------

    def cursor(self, name: str) -> str | None:
        return self.poll_state(name).cursor

    def poll_state(self, name: str) -> PollState:
        with self.db.transaction() as cursor:
            cursor.execute(
                "SELECT cursor, last_poll_at, last_success_at, last_error, last_error_at "
                f"FROM {STATE} WHERE name = %s",
                (name,),
            )
            row = cursor.fetchone()
        return PollState(*row) if row else PollState(None, None, None, None, None)

    def polled(self, name: str, cursor: str | None, at: datetime) -> None:
        with self.db.transaction() as c:
            c.execute(
                f"INSERT INTO {STATE} (name, cursor, last_poll_at, last_success_at) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET cursor = %s, "
                "last_poll_at = %s, last_success_at = %s",
                (name, cursor, at, at, cursor, at, at),
            )

    def poll_failed(self, name: str, at: datetime, error: str) -> None:
        with self.db.transaction() as c:
            c.execute(
                f"INSERT INTO {STATE} (name, last_poll_at, last_error, last_error_at) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET last_poll_at = %s, "
                "last_error = %s, last_error_at = %s",
                (name, at, error, at, at, error, at),
            )

    # --- the report activity taken in -------------------------------------------------------

    def processed(self, activity_ids: Collection[str]) -> set[str]:
        ids = list(activity_ids)
        found: set[str] = set()
        with self.db.transaction() as cursor:
            for start in range(0, len(ids), CHUNK):
                condition, params = self.db.any_of("activity_id", ids[start : start + CHUNK])
                cursor.execute(f"SELECT activity_id FROM {ACTIVITY} WHERE {condition}", params)
                found.update(r[0] for r in cursor.fetchall())
        return found

    def record_activity(
        self,
        activity_id: str,
        tracking_id: str,
        type_: str,
        result: str,
        case_id: UUID | None,
        at: datetime,
    ) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO {ACTIVITY} (activity_id, tracking_id, type, result, case_id, "
                "processed_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (activity_id, tracking_id, type_[:100], result, case_id, at),
            )

    def latest_filed(self, tracking_id: str) -> UUID | None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT case_id FROM {ACTIVITY} WHERE tracking_id = %s AND result = 'filed' "
                "AND case_id IS NOT NULL ORDER BY processed_at DESC, activity_id DESC LIMIT 1",
                (tracking_id,),
            )
            row = cursor.fetchone()
        return _uuid(row[0]) if row else None

    def activity(self) -> list[tuple[str, str, str, str, UUID | None]]:
        """Every item taken in: activity id, tracking id, type, result, case id."""
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT activity_id, tracking_id, type, result, case_id FROM {ACTIVITY} "
                "ORDER BY processed_at, activity_id"
            )
            rows = cursor.fetchall()
        return [(r[0], r[1], r[2], r[3], _uuid(r[4]) if r[4] else None) for r in rows]


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _entry(row: Sequence[Any]) -> OutboxEntry:
    return OutboxEntry(
        key=row[0],
        seq=int(row[1]),
        case_id=_uuid(row[2]),
        version=int(row[3]),
        tracking_id=row[4],
        kind=row[5],
        attempts=int(row[6]),
        next_attempt_at=row[7],
    )
