"""The audit chain in SQL: one permanent append-only table, never rebuilt into a generation."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from infrastructure.readstore import ReadDatabase
from projections.audit.chain import GENESIS
from projections.audit.view import AuditChanges, AuditEntry, Checkpoint

CHAIN = "aduan_audit_chain"
CHECKPOINTS = "aduan_audit_checkpoints"
COLUMNS = (
    "seq, position, complaint_id, originator_id, version, type, recorded_at, actor_sub, "
    "actor_unit, event_hash, prev_hash, hash"
)
_DDL = (
    f"CREATE TABLE IF NOT EXISTS {CHAIN} (seq BIGINT PRIMARY KEY, position BIGINT NOT NULL "
    "UNIQUE, complaint_id UUID NOT NULL, originator_id UUID NOT NULL, version INTEGER NOT NULL, "
    "type TEXT NOT NULL, recorded_at TIMESTAMPTZ NOT NULL, actor_sub TEXT, actor_unit TEXT, "
    "event_hash TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
    # "A case as of a time" is an index lookup: the last version recorded at or before it.
    f"CREATE INDEX IF NOT EXISTS {CHAIN}_case_time ON {CHAIN} (complaint_id, recorded_at)",
    f"CREATE TABLE IF NOT EXISTS {CHECKPOINTS} (seq BIGINT NOT NULL, head TEXT NOT NULL, "
    "position BIGINT NOT NULL, signed_at TIMESTAMPTZ NOT NULL, public_key TEXT NOT NULL, "
    "signature TEXT NOT NULL, PRIMARY KEY (seq, signed_at))",
)


_TUPLES = (
    "SELECT seq, position, uuid_send(complaint_id), uuid_send(originator_id), version, type, "
    f"recorded_at, actor_sub, actor_unit, event_hash, prev_hash, hash FROM {CHAIN} "
    "WHERE seq > %s ORDER BY seq LIMIT %s"
)


class ChainMoved(RuntimeError):
    """The chain's head is not where this batch continues it: rolled back, never rewritten."""


class SqlAuditView:
    name = "audit"
    version = 1

    def __init__(self, db: ReadDatabase) -> None:
        self.db = db
        self._types: list[str] | None = None
        with db.transaction() as cursor:
            for statement in _DDL:
                cursor.execute(statement)

    def position(self) -> int:
        with self.db.transaction() as cursor:
            cursor.execute(f"SELECT position FROM {CHAIN} ORDER BY seq DESC LIMIT 1")
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    def head(self) -> AuditEntry | None:
        with self.db.transaction() as cursor:
            cursor.execute(f"SELECT {COLUMNS} FROM {CHAIN} ORDER BY seq DESC LIMIT 1")
            row = cursor.fetchone()
        return _entry(row) if row else None

    def commit(self, changes: AuditChanges, position: int) -> None:
        """Append the batch; its last entry's position is the view's position, in one go."""
        if not changes.entries:
            return
        if changes.entries[-1].position != position:
            raise ValueError("an audit batch ends at its last entry's position")
        first = changes.entries[0]
        with self.db.transaction() as cursor:
            cursor.execute(f"SELECT seq, hash FROM {CHAIN} ORDER BY seq DESC LIMIT 1")
            row = cursor.fetchone()
            seq, head = (int(row[0]), row[1]) if row else (0, GENESIS)
            if first.seq != seq + 1 or first.prev_hash != head:
                raise ChainMoved(f"the chain is at seq {seq}; batch starts at {first.seq}")
            if self._types is None:
                self._types = self.db.column_types(cursor, CHAIN, COLUMNS)
            rows = [_row(e) for e in changes.entries]
            self.db.append_rows(cursor, CHAIN, COLUMNS, rows, self._types)

    def entries(
        self, after: int = 0, limit: int = 1000, complaint_id: UUID | None = None
    ) -> list[AuditEntry]:
        where = "seq > %s"
        params: list[Any] = [after]
        if complaint_id is not None:
            where += " AND complaint_id = %s"
            params.append(complaint_id)
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT {COLUMNS} FROM {CHAIN} WHERE {where} ORDER BY seq LIMIT %s",
                [*params, limit],
            )
            return [_entry(r) for r in cursor.fetchall()]

    def entry_tuples(self, after: int, limit: int) -> list[tuple[Any, ...]] | None:
        """``entries`` as plain tuples (ids as their 16 bytes) for the verifier's fast path;
        None where there is none (SQLite)."""
        if self.db.dialect != "postgresql":
            return None
        with self.db.pool.connection() as conn, conn.cursor(binary=True) as cursor:  # type: ignore[attr-defined]
            cursor.execute(_TUPLES, (after, limit))
            return cursor.fetchall()

    def entry(self, seq: int) -> AuditEntry | None:
        with self.db.transaction() as cursor:
            cursor.execute(f"SELECT {COLUMNS} FROM {CHAIN} WHERE seq = %s", (seq,))
            row = cursor.fetchone()
        return _entry(row) if row else None

    def version_at(self, complaint_id: UUID, at: datetime) -> int | None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT MAX(version) FROM {CHAIN} WHERE complaint_id = %s AND recorded_at <= %s "
                "AND originator_id = %s",
                (complaint_id, at, complaint_id),
            )
            row = cursor.fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def record_checkpoint(self, checkpoint: Checkpoint) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO {CHECKPOINTS} (seq, head, position, signed_at, public_key, "
                "signature) VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    checkpoint.seq,
                    checkpoint.head,
                    checkpoint.position,
                    checkpoint.signed_at,
                    checkpoint.public_key,
                    checkpoint.signature,
                ),
            )

    def checkpoints(self) -> list[Checkpoint]:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT seq, head, position, signed_at, public_key, signature FROM {CHECKPOINTS} "
                "ORDER BY seq, signed_at"
            )
            return [
                Checkpoint(int(r[0]), r[1], int(r[2]), r[3], r[4], r[5]) for r in cursor.fetchall()
            ]


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _row(entry: AuditEntry) -> tuple[Any, ...]:
    return (
        entry.seq,
        entry.position,
        entry.complaint_id,
        entry.originator_id,
        entry.version,
        entry.type,
        entry.recorded_at,
        entry.actor_sub,
        entry.actor_unit,
        entry.event_hash,
        entry.prev_hash,
        entry.hash,
    )


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    return AuditEntry(
        seq=int(row[0]),
        position=int(row[1]),
        complaint_id=_uuid(row[2]),
        originator_id=_uuid(row[3]),
        version=int(row[4]),
        type=row[5],
        recorded_at=row[6],
        actor_sub=row[7],
        actor_unit=row[8],
        event_hash=row[9],
        prev_hash=row[10],
        hash=row[11],
    )
