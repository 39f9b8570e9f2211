"""An append-only outbox of a connector, in SQL: the cases it follows (each with the peer's
reference for it), the messages its projection derived from their events, the projection's
position, and each message's delivery state. The SP4N-LAPOR! and email connectors each keep one
(``aduan_<prefix>_cases``, ``aduan_<prefix>_outbox``, ``aduan_<prefix>_outbox_position``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from application.lapor import OutboxCounts, OutboxEntry
from infrastructure.read_models import StalePosition
from infrastructure.readstore import ReadDatabase
from projections.lapor.outbox import OutboxChanges

CHUNK = 500  # ids per lookup


class SqlOutbox:
    """The outbox read model (a fixed, append-only view) and its messages' delivery state.

    ``reference`` names the column holding the peer's reference of a case (LAPOR!'s tracking id,
    the tracking number an email quotes); ``label`` names the outbox in errors.
    """

    def __init__(self, db: ReadDatabase, *, prefix: str, reference: str, label: str) -> None:
        self.db = db
        self.cases = f"aduan_{prefix}_cases"
        self.outbox = f"aduan_{prefix}_outbox"
        self.position_table = f"aduan_{prefix}_outbox_position"
        self.reference = reference
        self.label = label
        self._entry = f"key, seq, case_id, version, {reference}, kind, attempts, next_attempt_at"

    def outbox_ddl(self) -> tuple[str, ...]:
        cases, outbox, position, reference = (
            self.cases,
            self.outbox,
            self.position_table,
            self.reference,
        )
        return (
            f"CREATE TABLE IF NOT EXISTS {cases} (case_id UUID PRIMARY KEY, "
            f"{reference} TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {outbox} (key TEXT PRIMARY KEY, seq BIGINT NOT NULL, "
            f"case_id UUID NOT NULL, version INTEGER NOT NULL, {reference} TEXT NOT NULL, "
            "kind TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL, "
            "attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TIMESTAMPTZ NOT NULL, "
            "delivered_at TIMESTAMPTZ, rejected_at TIMESTAMPTZ, last_error TEXT)",
            f"CREATE INDEX IF NOT EXISTS {outbox}_open ON {outbox} (case_id, seq) "
            "WHERE delivered_at IS NULL AND rejected_at IS NULL",
            f"CREATE TABLE IF NOT EXISTS {position} (id INTEGER PRIMARY KEY, "
            "position BIGINT NOT NULL)",
            f"INSERT INTO {position} (id, position) VALUES (1, 0) ON CONFLICT DO NOTHING",
        )

    # --- the projection's view --------------------------------------------------------------

    def position(self) -> int:
        with self.db.transaction() as cursor:
            cursor.execute(f"SELECT position FROM {self.position_table} WHERE id = 1")
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    def references(self, case_ids: Collection[UUID]) -> dict[UUID, str]:
        ids = list(case_ids)
        found: dict[UUID, str] = {}
        with self.db.transaction() as cursor:
            for start in range(0, len(ids), CHUNK):
                condition, params = self.db.any_of("case_id", ids[start : start + CHUNK])
                cursor.execute(
                    f"SELECT case_id, {self.reference} FROM {self.cases} WHERE {condition}",
                    params,
                )
                found.update({uuid_of(r[0]): r[1] for r in cursor.fetchall()})
        return found

    def commit(self, changes: OutboxChanges, position: int) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"UPDATE {self.position_table} SET position = %s WHERE id = 1 AND position < %s",
                (position, position),
            )
            if cursor.rowcount != 1:
                raise StalePosition(f"the {self.label} outbox is already past {position}")
            if changes.cases:
                cursor.executemany(
                    f"INSERT INTO {self.cases} (case_id, {self.reference}) VALUES (%s, %s) "
                    "ON CONFLICT DO NOTHING",
                    list(changes.cases.items()),
                )
            if changes.messages:
                cursor.executemany(
                    f"INSERT INTO {self.outbox} (key, seq, case_id, version, {self.reference}, "
                    "kind, created_at, next_attempt_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
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
        """For each case, its oldest undelivered message if due: a case's messages go in order."""
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT {self._entry} FROM {self.outbox} o "
                "WHERE o.delivered_at IS NULL AND o.rejected_at IS NULL "
                "AND o.next_attempt_at <= %s AND NOT EXISTS ("
                f"SELECT 1 FROM {self.outbox} e WHERE e.case_id = o.case_id AND e.seq < o.seq "
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
            cursor.execute(f"UPDATE {self.outbox} SET {assignments} WHERE key = %s", (*params, key))

    def outbox_counts(self) -> OutboxCounts:
        with self.db.transaction() as cursor:
            cursor.execute(
                "SELECT "
                "SUM(CASE WHEN delivered_at IS NULL AND rejected_at IS NULL AND attempts = 0 "
                "THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN delivered_at IS NULL AND rejected_at IS NULL AND attempts > 0 "
                "THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN rejected_at IS NOT NULL THEN 1 ELSE 0 END), "
                f"SUM(CASE WHEN delivered_at IS NOT NULL THEN 1 ELSE 0 END) FROM {self.outbox}"
            )
            row = cursor.fetchone() or (0, 0, 0, 0)
            cursor.execute(
                f"SELECT last_error FROM {self.outbox} WHERE last_error IS NOT NULL "
                "ORDER BY seq DESC LIMIT 1"
            )
            error = cursor.fetchone()
        pending, retrying, rejected, delivered = (int(v or 0) for v in row)
        return OutboxCounts(pending, retrying, rejected, delivered, error[0] if error else None)


def uuid_of(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _entry(row: Sequence[Any]) -> OutboxEntry:
    return OutboxEntry(
        key=row[0],
        seq=int(row[1]),
        case_id=uuid_of(row[2]),
        version=int(row[3]),
        tracking_id=row[4],
        kind=row[5],
        attempts=int(row[6]),
        next_attempt_at=row[7],
    )
