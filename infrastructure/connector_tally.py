"""How many inbound items each connector took in or refused, by outcome, for connectors status.

One row per (connector, outcome): a count, when the last one came, and for failures a short
detail (an exception's name, never personal data). Metrics are per process and lost on restart;
this is what ``aduan connectors status`` (another process) reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from infrastructure.readstore import ReadDatabase

TALLY = "aduan_connector_tally"

_DDL = (
    f"CREATE TABLE IF NOT EXISTS {TALLY} (connector TEXT NOT NULL, outcome TEXT NOT NULL, "
    "count BIGINT NOT NULL, last_at TIMESTAMPTZ NOT NULL, detail TEXT, "
    "PRIMARY KEY (connector, outcome))",
)


@dataclass(frozen=True)
class Tallied:
    count: int
    last_at: datetime
    detail: str | None


class SqlConnectorTally:
    def __init__(self, db: ReadDatabase) -> None:
        self.db = db
        with db.transaction() as cursor:
            for statement in _DDL:
                cursor.execute(statement)

    def count(self, connector: str, outcome: str, at: datetime, detail: str | None = None) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO {TALLY} (connector, outcome, count, last_at, detail) "
                "VALUES (%s, %s, 1, %s, %s) ON CONFLICT (connector, outcome) DO UPDATE SET "
                f"count = {TALLY}.count + 1, detail = excluded.detail, last_at = CASE "
                f"WHEN excluded.last_at > {TALLY}.last_at THEN excluded.last_at "
                f"ELSE {TALLY}.last_at END",
                (connector, outcome[:100], at, detail[:300] if detail else None),
            )

    def counts(self, connector: str) -> dict[str, Tallied]:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT outcome, count, last_at, detail FROM {TALLY} WHERE connector = %s",
                (connector,),
            )
            rows = cursor.fetchall()
        return {r[0]: Tallied(int(r[1]), r[2], r[3]) for r in rows}
