"""The email connector's tables: which messages it took (by a hash of their Message-ID), and
the append-only outbox of acknowledgement emails with its projection position.

Its cursor and poll state live in the connectors' shared state table (``aduan_connector_state``,
row ``email``), kept by ``SqlLaporStore``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from application.email_intake import MailCounts
from application.lapor import OutboxCounts, OutboxEntry
from infrastructure.read_models import StalePosition
from infrastructure.readstore import ReadDatabase
from projections.lapor.outbox import OutboxChanges

MESSAGES = "aduan_email_messages"
CASES = "aduan_email_cases"
OUTBOX = "aduan_email_outbox"
POSITION = "aduan_email_outbox_position"
CHUNK = 500

_DDL = (
    f"CREATE TABLE IF NOT EXISTS {MESSAGES} (key TEXT PRIMARY KEY, outcome TEXT NOT NULL, "
    "case_id UUID, location TEXT NOT NULL, reason TEXT, processed_at TIMESTAMPTZ NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {CASES} (case_id UUID PRIMARY KEY, tracking_number TEXT NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {OUTBOX} (key TEXT PRIMARY KEY, seq BIGINT NOT NULL, "
    "case_id UUID NOT NULL, version INTEGER NOT NULL, tracking_number TEXT NOT NULL, "
    "kind TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, "
    "next_attempt_at TIMESTAMPTZ NOT NULL, delivered_at TIMESTAMPTZ, rejected_at TIMESTAMPTZ, "
    "last_error TEXT)",
    f"CREATE TABLE IF NOT EXISTS {POSITION} (id INTEGER PRIMARY KEY, position BIGINT NOT NULL)",
    f"INSERT INTO {POSITION} (id, position) VALUES (1, 0) ON CONFLICT DO NOTHING",
)
_ENTRY = "key, seq, case_id, version, tracking_number, kind, attempts, next_attempt_at"


class SqlEmailStore:
    """Processed messages (no content, no addresses: the case each became, or why not), and
    the outbox of acknowledgements (a fixed, append-only read model)."""

    name = "email-outbox"
    version = 1

    def __init__(self, db: ReadDatabase) -> None:
        self.db = db
        with db.transaction() as cursor:
            for statement in _DDL:
                cursor.execute(statement)

    def outcome(self, key: str) -> str | None:
        with self.db.transaction() as cursor:
            cursor.execute(f"SELECT outcome FROM {MESSAGES} WHERE key = %s", (key,))
            row = cursor.fetchone()
        return str(row[0]) if row else None

    def record(
        self,
        key: str,
        outcome: str,
        case_id: UUID | None,
        location: str,
        at: datetime,
        reason: str | None = None,
    ) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO {MESSAGES} (key, outcome, case_id, location, reason, processed_at) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET "
                "outcome = %s, case_id = %s, location = %s, reason = %s, processed_at = %s",
                (key, *(outcome, case_id, location, reason, at) * 2),
            )

    def counts(self) -> MailCounts:
        with self.db.transaction() as cursor:
            cursor.execute(f"SELECT outcome, COUNT(*) FROM {MESSAGES} GROUP BY outcome")
            found = {str(r[0]): int(r[1]) for r in cursor.fetchall()}
        return MailCounts(
            found.get("filed", 0),
            found.get("reply", 0),
            found.get("rejected", 0),
            found.get("ignored", 0),
        )

    def last_rejection(self) -> str | None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT reason FROM {MESSAGES} WHERE outcome = 'rejected' "
                "ORDER BY processed_at DESC LIMIT 1"
            )
            row = cursor.fetchone()
        return str(row[0]) if row and row[0] else None

    # --- the outbox projection's view -------------------------------------------------------

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
                    f"SELECT case_id, tracking_number FROM {CASES} WHERE {condition}", params
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
                raise StalePosition(f"the email outbox is already past {position}")
            if changes.cases:
                cursor.executemany(
                    f"INSERT INTO {CASES} (case_id, tracking_number) VALUES (%s, %s) "
                    "ON CONFLICT DO NOTHING",
                    list(changes.cases.items()),
                )
            if changes.messages:
                cursor.executemany(
                    f"INSERT INTO {OUTBOX} (key, seq, case_id, version, tracking_number, kind, "
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
                f"SELECT {_ENTRY} FROM {OUTBOX} WHERE delivered_at IS NULL "
                "AND rejected_at IS NULL AND next_attempt_at <= %s "
                "ORDER BY next_attempt_at, seq LIMIT %s",
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

    def outbox_counts(self) -> OutboxCounts:
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
