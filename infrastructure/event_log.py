"""The application's log as read models read it, and how their workers wake and take turns."""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any, NamedTuple
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql

from infrastructure.readstore import PostgresReadDatabase
from projections.runner import LoggedEvent

log = logging.getLogger("aduan.projections")


class ApplicationLog:
    """Reads notifications from the event store; decodes each only when a projection asks."""

    def __init__(self, app: Application) -> None:
        self._recorder = app.recorder
        self._mapper = app.mapper

    def read(self, after: int, limit: int) -> list[LoggedEvent]:
        notifications = self._recorder.select_notifications(  # type: ignore[attr-defined]
            start=after + 1, limit=limit
        )
        mapper = self._mapper
        return [
            LoggedEvent(
                n.id,
                n.originator_id,
                n.originator_version,
                n.topic,
                n.state,
                lambda n=n: mapper.to_domain_event(n),
            )
            for n in notifications
        ]

    def head(self) -> int:
        return self._recorder.max_notification_id() or 0  # type: ignore[attr-defined]


class _Stored(NamedTuple):
    """A row of the events table, read as a stored event by ``Mapper.to_domain_event``."""

    id: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


class PostgresEventLog(ApplicationLog):
    """Reads the PostgreSQL events table directly: tuples in binary, no row objects per event.

    The library's reader builds a frozen dataclass from a dict row for every event; read models
    take in whole batches, most of which they only hash or skip, so that cost is left out here.
    """

    def __init__(self, app: Application, db: PostgresReadDatabase) -> None:
        super().__init__(app)
        recorder = app.recorder
        if not isinstance(recorder, PostgresApplicationRecorder):
            raise TypeError("needs the PostgreSQL event store")
        self._db = db
        self._select = sql.SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {}.{} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(
            sql.Identifier(recorder.datastore.schema), sql.Identifier(recorder.events_table_name)
        )
        self._select_tuples = sql.SQL(
            "SELECT notification_id, uuid_send(originator_id), originator_version, topic, state "
            "FROM {}.{} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(
            sql.Identifier(recorder.datastore.schema), sql.Identifier(recorder.events_table_name)
        )

    def read_tuples(self, after: int, limit: int) -> list[tuple[Any, ...]]:
        """``read`` as plain tuples, the originator id as its 16 bytes (the audit verifier)."""
        with self._db.pool.connection() as conn, conn.cursor(binary=True) as cursor:
            cursor.execute(self._select_tuples, (after, limit))
            return cursor.fetchall()

    def read(self, after: int, limit: int) -> list[LoggedEvent]:
        with self._db.pool.connection() as conn, conn.cursor(binary=True) as cursor:
            cursor.execute(self._select, (after, limit))
            rows = cursor.fetchall()
        to_domain_event = self._mapper.to_domain_event
        return [
            LoggedEvent(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                # The mapper reads only these four fields: a tuple with their names does, rather
                # than a frozen dataclass per event.
                lambda row=row: to_domain_event(_Stored._make(row)),  # type: ignore[arg-type]
            )
            for row in rows
        ]


class PostgresListener:
    """LISTENs to the event store's NOTIFY and wakes a ticker; reconnects when it drops."""

    def __init__(self, app: Application, db: PostgresReadDatabase, wake: Any) -> None:
        recorder = app.recorder
        if not isinstance(recorder, PostgresApplicationRecorder):
            raise TypeError("LISTEN needs the PostgreSQL event store")
        self._channel = recorder.channel_name
        self._db = db
        self._wake = wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aduan-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._db.connect(autocommit=True) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.25, stop_after=1):
                            self._wake()
            except psycopg.Error as error:
                log.warning("LISTEN connection lost (%s); polling until it is back", error)
                self._stop.wait(2.0)


class PostgresLocks:
    """Session advisory locks, one per background job, held on a connection of their own."""

    def __init__(self, db: PostgresReadDatabase) -> None:
        self._db = db
        self._conn: psycopg.Connection[Any] | None = None
        self._held: set[str] = set()
        self._lock = threading.Lock()

    def _key(self, name: str) -> int:
        scope = f"aduan:{self._db.schema or 'public'}:{name}"
        return int.from_bytes(hashlib.sha256(scope.encode()).digest()[:8], "big", signed=True)

    def try_acquire(self, name: str) -> bool:
        with self._lock:
            if name in self._held:
                return True
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self._db.connect(autocommit=True)
                    self._held.clear()
                row = self._conn.execute(
                    "SELECT pg_try_advisory_lock(%s)", (self._key(name),)
                ).fetchone()
            except psycopg.Error as error:
                log.warning("advisory lock for %s unavailable: %s", name, error)
                self._conn = None
                self._held.clear()
                return False
            if row and row[0]:
                self._held.add(name)
                return True
            return False

    def holds(self, name: str) -> bool:
        with self._lock:
            return name in self._held and self._conn is not None and not self._conn.closed

    def release_all(self) -> None:
        with self._lock:
            if self._conn is not None and not self._conn.closed:
                self._conn.close()
            self._conn = None
            self._held.clear()


class LocalLocks:
    """One process owns everything (the embedded SQLite default)."""

    def __init__(self) -> None:
        self._held: set[str] = set()

    def try_acquire(self, name: str) -> bool:
        self._held.add(name)
        return True

    def holds(self, name: str) -> bool:
        return name in self._held

    def release_all(self) -> None:
        self._held.clear()
