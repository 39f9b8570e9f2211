"""The access log of confidential and restricted cases: an append-only SQL table, or memory."""

from __future__ import annotations

import threading
from dataclasses import replace
from uuid import UUID

from application.ports import AccessRecord
from infrastructure.readstore import ReadDatabase

ACCESS_LOG = "aduan_access_log"
_COLUMNS = "at, sub, roles, complaint_id, route"


def _schema(dialect: str) -> tuple[str, ...]:
    seq = (
        "BIGSERIAL PRIMARY KEY" if dialect == "postgresql" else "INTEGER PRIMARY KEY AUTOINCREMENT"
    )
    tables = (
        f"CREATE TABLE IF NOT EXISTS {ACCESS_LOG} (seq {seq}, at TIMESTAMPTZ NOT NULL, "
        "sub TEXT NOT NULL, roles TEXT NOT NULL, complaint_id UUID NOT NULL, route TEXT NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS {ACCESS_LOG}_case ON {ACCESS_LOG} (complaint_id, seq)",
    )
    if dialect != "postgresql":
        return (
            *tables,
            f"CREATE TRIGGER IF NOT EXISTS {ACCESS_LOG}_no_update BEFORE UPDATE ON {ACCESS_LOG} "
            "BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END",
            f"CREATE TRIGGER IF NOT EXISTS {ACCESS_LOG}_no_delete BEFORE DELETE ON {ACCESS_LOG} "
            "BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END",
        )
    # Rows are never changed or removed, even by a careless statement.
    return (
        *tables,
        f"CREATE OR REPLACE FUNCTION {ACCESS_LOG}_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the access log is append-only'; END $$",
        f"DROP TRIGGER IF EXISTS {ACCESS_LOG}_append_only ON {ACCESS_LOG}",
        f"CREATE TRIGGER {ACCESS_LOG}_append_only BEFORE UPDATE OR DELETE ON {ACCESS_LOG} "
        f"FOR EACH ROW EXECUTE FUNCTION {ACCESS_LOG}_append_only()",
    )


class SqlAccessLog:
    def __init__(self, db: ReadDatabase) -> None:
        self.db = db
        with db.transaction() as cursor:
            for statement in _schema(db.dialect):
                cursor.execute(statement)

    def record(self, entry: AccessRecord) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO {ACCESS_LOG} ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s)",
                (entry.at, entry.sub, ",".join(entry.roles), entry.complaint_id, entry.route),
            )

    def entries(self, complaint_id: UUID | None, after: int, limit: int) -> list[AccessRecord]:
        where, params = "seq > %s", [after]
        if complaint_id is not None:
            where += " AND complaint_id = %s"
            params.append(complaint_id)  # type: ignore[arg-type]
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT seq, {_COLUMNS} FROM {ACCESS_LOG} WHERE {where} ORDER BY seq LIMIT %s",
                (*params, limit),
            )
            rows = cursor.fetchall()
        return [
            AccessRecord(
                seq=seq,
                at=at,
                sub=sub,
                roles=tuple(r for r in roles.split(",") if r),
                complaint_id=case if isinstance(case, UUID) else UUID(str(case)),
                route=route,
            )
            for seq, at, sub, roles, case, route in rows
        ]


class MemoryAccessLog:
    def __init__(self) -> None:
        self.records: list[AccessRecord] = []
        self._lock = threading.Lock()

    def record(self, entry: AccessRecord) -> None:
        with self._lock:
            self.records.append(replace(entry, seq=len(self.records) + 1))

    def entries(self, complaint_id: UUID | None, after: int, limit: int) -> list[AccessRecord]:
        found = [
            r
            for r in self.records
            if r.seq is not None
            and r.seq > after
            and (complaint_id is None or r.complaint_id == complaint_id)
        ]
        return found[:limit]
