"""The email connector's tables: which messages it took (by a hash of their Message-ID), and
the append-only outbox of acknowledgement emails with its projection position
(``infrastructure/outbox_tables.py``, as the SP4N-LAPOR! connector's).

Its cursor and poll state live in the connectors' shared state table (``aduan_connector_state``,
row ``email``), kept by ``SqlLaporStore``.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from application.email_intake import MailCounts
from infrastructure.outbox_tables import SqlOutbox
from infrastructure.readstore import ReadDatabase

MESSAGES = "aduan_email_messages"

_DDL = (
    f"CREATE TABLE IF NOT EXISTS {MESSAGES} (key TEXT PRIMARY KEY, outcome TEXT NOT NULL, "
    "case_id UUID, location TEXT NOT NULL, reason TEXT, processed_at TIMESTAMPTZ NOT NULL)",
)


class SqlEmailStore(SqlOutbox):
    """Processed messages (no content, no addresses: the case each became, or why not), and
    the outbox of acknowledgements (a fixed, append-only read model)."""

    name = "email-outbox"
    version = 1

    def __init__(self, db: ReadDatabase) -> None:
        super().__init__(db, prefix="email", reference="tracking_number", label="email")
        with db.transaction() as cursor:
            for statement in (*self.outbox_ddl(), *_DDL):
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
