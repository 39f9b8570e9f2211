"""The event store: the library's environment for PostgreSQL or SQLite, and log positions."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

from eventsourcing.persistence import Recorder, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg import Connection, Cursor
from psycopg.sql import SQL, Identifier
from psycopg_pool import ConnectionPool

from application.ports import Positions
from infrastructure.keystore import KEYS
from infrastructure.settings import Settings


class KeyedPostgresApplicationRecorder(PostgresApplicationRecorder):
    """The library's recorder, plus the data keys of new cases in the events' own transaction.

    ``save(*aggregates, data_keys=[(key_id, wrapped, at), ...])`` reaches ``insert_events`` with
    the keys; the library's ``_insert_events`` hook (meant for statements that go with the
    events) inserts them into the key store's table, pipelined before the events: one round
    trip and one commit for a group-commit batch's keys and events, and a key is stored exactly
    when the events naming it are. Without ``data_keys`` it is the library's recorder.
    """

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self._insert_keys = SQL(
            "INSERT INTO {schema}.{table} (key_id, wrapped_key, created_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (key_id) DO NOTHING"
        ).format(schema=Identifier(datastore.schema), table=Identifier(KEYS))

    def _insert_events(
        self, curs: Cursor[Any], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        keys = kwargs.get("data_keys")
        if keys:
            curs.executemany(self._insert_keys, keys)


def ping_when_idle(pool: ConnectionPool[Any], idle_seconds: float = 1.0) -> None:
    """Check a connection at checkout (a round trip) only if it sat idle ``idle_seconds``.

    The pools check every connection they hand out (``POSTGRES_PRE_PING``, ``check=``), so a
    connection the server dropped (a restart) is replaced instead of failing a request. Under
    load that is one round trip per transaction, a group-commit batch's included, for a
    connection used a moment ago; a connection idle for a while is still checked. (psycopg_pool
    keeps its check in ``_check``; it is replaced here, the rest of the pool unchanged.)
    """
    if pool._check is None:
        return

    def check(conn: Connection[Any]) -> None:
        now = time.monotonic()
        if now - getattr(conn, "_aduan_checked_at", -idle_seconds) >= idle_seconds:
            ConnectionPool.check_connection(conn)
        conn._aduan_checked_at = now  # type: ignore[attr-defined]

    pool._check = check


def event_store_env(settings: Settings) -> dict[str, str]:
    """The library's settings for ``settings.database_url``; never the silent in-memory store."""
    url = settings.database_url
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    parts = urlsplit(url)
    schema = {"POSTGRES_SCHEMA": settings.postgres_schema} if settings.postgres_schema else {}
    return schema | {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/"),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_POOL_SIZE": str(settings.postgres_pool_size),
        "POSTGRES_MAX_OVERFLOW": str(settings.postgres_max_overflow),
        "POSTGRES_CONNECT_TIMEOUT": str(settings.postgres_connect_timeout),
        "POSTGRES_LOCK_TIMEOUT": str(settings.postgres_lock_timeout),
        "POSTGRES_PRE_PING": "y",
        "APPLICATION_RECORDER_TOPIC": (
            f"{KeyedPostgresApplicationRecorder.__module__}:"
            f"{KeyedPostgresApplicationRecorder.__qualname__}"
        ),
    }


class PostgresPositions:
    def __init__(self, recorder: PostgresApplicationRecorder) -> None:
        self._recorder = recorder
        self._statement = SQL(
            "SELECT originator_version, notification_id FROM {schema}.{table} "
            "WHERE originator_id = %s"
        ).format(
            schema=Identifier(recorder.datastore.schema),
            table=Identifier(recorder.events_table_name),
        )

    def positions(self, originator_id: UUID) -> dict[int, int]:
        with self._recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._statement, (originator_id,))
            return {row["originator_version"]: row["notification_id"] for row in cursor.fetchall()}


class SQLitePositions:
    def __init__(self, recorder: SQLiteApplicationRecorder) -> None:
        self._recorder = recorder
        self._statement = (
            f"SELECT originator_version, rowid FROM {recorder.events_table_name} "
            "WHERE originator_id = ?"
        )

    def positions(self, originator_id: UUID) -> dict[int, int]:
        with self._recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._statement, (originator_id.hex,))
            return {row[0]: row[1] for row in cursor.fetchall()}


class ScanPositions:
    """For the in-memory store of unit tests: a scan of the whole log."""

    def __init__(self, recorder: POPOApplicationRecorder) -> None:
        self._recorder = recorder

    def positions(self, originator_id: UUID) -> dict[int, int]:
        found: dict[int, int] = {}
        start = 1
        while True:
            batch = self._recorder.select_notifications(start=start, limit=1000)
            if not batch:
                return found
            for n in batch:
                if n.originator_id == originator_id:
                    found[n.originator_version] = n.id
            start = batch[-1].id + 1


def positions_for(recorder: Recorder) -> Positions:
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresPositions(recorder)
    if isinstance(recorder, SQLiteApplicationRecorder):
        return SQLitePositions(recorder)
    if isinstance(recorder, POPOApplicationRecorder):
        return ScanPositions(recorder)
    raise TypeError(f"no positions for {type(recorder).__name__}")


def read_database_path(settings: Settings) -> Path | None:
    """The SQLite file of the read models, beside the event store's; None on PostgreSQL."""
    url = settings.database_url
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url.removeprefix("sqlite:///"))
    return path.with_name(f"{path.stem}-read{path.suffix or '.db'}")
