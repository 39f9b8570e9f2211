"""Wrapped data keys in SQL (PostgreSQL or the embedded SQLite file), and in memory for tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from infrastructure.readstore import ReadDatabase

KEYS = "aduan_reporter_keys"
_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {KEYS} (key_id UUID PRIMARY KEY, wrapped_key BYTEA, "
    "created_at TIMESTAMPTZ NOT NULL, erased_at TIMESTAMPTZ)",
)


class SqlKeyStore:
    """One row per data key; erasing a key clears ``wrapped_key`` and keeps the row and date.

    PostgreSQL keeps the old row version until VACUUM (and in WAL and backups); that copy is
    still wrapped by the master key, which is why README's erasure notes pair retention of
    backups with rotation of ADUAN_MASTER_KEY.
    """

    def __init__(self, db: ReadDatabase) -> None:
        self.db = db
        with db.transaction() as cursor:
            for statement in _SCHEMA:
                cursor.execute(statement)

    def add(self, key_id: UUID, wrapped: bytes, at: datetime) -> None:
        self.add_many([(key_id, wrapped, at)])

    def add_many(self, keys: list[tuple[UUID, bytes, datetime]]) -> None:
        with self.db.transaction() as cursor:
            cursor.executemany(
                f"INSERT INTO {KEYS} (key_id, wrapped_key, created_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (key_id) DO NOTHING",
                keys,
            )

    def get(self, key_id: UUID) -> bytes | None:
        with self.db.transaction() as cursor:
            cursor.execute(f"SELECT wrapped_key FROM {KEYS} WHERE key_id = %s", (key_id,))
            row = cursor.fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def get_many(self, key_ids: list[UUID]) -> dict[UUID, bytes | None]:
        found: dict[UUID, bytes | None] = dict.fromkeys(key_ids)
        if not key_ids:
            return found
        condition, params = self.db.any_of("key_id", key_ids)
        with self.db.transaction() as cursor:
            cursor.execute(f"SELECT key_id, wrapped_key FROM {KEYS} WHERE {condition}", params)
            for key_id, wrapped in cursor.fetchall():
                found[UUID(str(key_id))] = None if wrapped is None else bytes(wrapped)
        return found

    def erase(self, key_id: UUID, at: datetime) -> bool:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"UPDATE {KEYS} SET wrapped_key = NULL, erased_at = %s "
                "WHERE key_id = %s AND wrapped_key IS NOT NULL",
                (at, key_id),
            )
            return cursor.rowcount > 0

    def rewrap(self, change: Callable[[UUID, bytes], bytes]) -> int:
        lock = " FOR UPDATE" if self.db.dialect == "postgresql" else ""
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT key_id, wrapped_key FROM {KEYS} WHERE wrapped_key IS NOT NULL{lock}"
            )
            rows = [(UUID(str(k)), bytes(w)) for k, w in cursor.fetchall()]
            changed = [(change(key_id, wrapped), key_id) for key_id, wrapped in rows]
            cursor.executemany(f"UPDATE {KEYS} SET wrapped_key = %s WHERE key_id = %s", changed)
        return len(changed)


class MemoryKeyStore:
    """The key store of unit tests."""

    def __init__(self) -> None:
        self.rows: dict[UUID, tuple[bytes | None, datetime, datetime | None]] = {}
        self._lock = threading.Lock()

    def add(self, key_id: UUID, wrapped: bytes, at: datetime) -> None:
        with self._lock:
            self.rows.setdefault(key_id, (wrapped, at, None))

    def add_many(self, keys: list[tuple[UUID, bytes, datetime]]) -> None:
        for key in keys:
            self.add(*key)

    def get(self, key_id: UUID) -> bytes | None:
        row = self.rows.get(key_id)
        return None if row is None else row[0]

    def get_many(self, key_ids: list[UUID]) -> dict[UUID, bytes | None]:
        return {key_id: self.get(key_id) for key_id in key_ids}

    def erase(self, key_id: UUID, at: datetime) -> bool:
        with self._lock:
            row = self.rows.get(key_id)
            if row is None or row[0] is None:
                return False
            self.rows[key_id] = (None, row[1], at)
            return True

    def rewrap(self, change: Callable[[UUID, bytes], bytes]) -> int:
        with self._lock:
            live = {k: r for k, r in self.rows.items() if r[0] is not None}
            for key_id, (wrapped, created, erased) in live.items():
                assert wrapped is not None
                self.rows[key_id] = (change(key_id, wrapped), created, erased)
            return len(live)
