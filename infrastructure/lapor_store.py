"""The SP4N-LAPOR! connector's tables: its cases, its append-only outbox, its poll state, and
the report activity (reporter's comments, withdrawals) taken in."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from application.lapor import OutboxCounts
from infrastructure.outbox_tables import CHUNK, SqlOutbox, uuid_of
from infrastructure.readstore import ReadDatabase

STATE = "aduan_connector_state"
ACTIVITY = "aduan_lapor_activity"

_DDL = (
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


@dataclass(frozen=True)
class PollState:
    cursor: str | None
    last_poll_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None


class SqlLaporStore(SqlOutbox):
    """The outbox read model (a fixed, append-only view) and the connector's delivery state."""

    name = "lapor-outbox"
    version = 1

    def __init__(self, db: ReadDatabase) -> None:
        super().__init__(db, prefix="lapor", reference="tracking_id", label="LAPOR!")
        with db.transaction() as cursor:
            for statement in (*self.outbox_ddl(), *_DDL):
                cursor.execute(statement)

    def entries(self) -> list[tuple[str, str, str, int, bool, bool]]:
        """Every message: key, tracking id, kind, attempts, delivered, rejected (seq order)."""
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT key, tracking_id, kind, attempts, delivered_at IS NOT NULL, "
                f"rejected_at IS NOT NULL FROM {self.outbox} ORDER BY seq"
            )
            rows = cursor.fetchall()
        return [(r[0], r[1], r[2], int(r[3]), bool(r[4]), bool(r[5])) for r in rows]

    def counts(self) -> OutboxCounts:
        return self.outbox_counts()

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
        return uuid_of(row[0]) if row else None

    def activity(self) -> list[tuple[str, str, str, str, UUID | None]]:
        """Every item taken in: activity id, tracking id, type, result, case id."""
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT activity_id, tracking_id, type, result, case_id FROM {ACTIVITY} "
                "ORDER BY processed_at, activity_id"
            )
            rows = cursor.fetchall()
        return [(r[0], r[1], r[2], r[3], uuid_of(r[4]) if r[4] else None) for r in rows]
