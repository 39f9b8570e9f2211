"""Where read models live: PostgreSQL (beside the event store) or a SQLite file, one SQL dialect.

Statements are written once with ``%s`` placeholders and portable SQL (``ON CONFLICT``, row
comparisons); the SQLite side rewrites placeholders and converts times, UUIDs and booleans.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

import psycopg
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

_ISO = "%Y-%m-%dT%H:%M:%S.%f+00:00"


class Cursor(Protocol):
    rowcount: int

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any: ...

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> Any: ...

    def fetchall(self) -> list[tuple[Any, ...]]: ...

    def fetchone(self) -> tuple[Any, ...] | None: ...


class ReadDatabase(Protocol):
    dialect: str

    def transaction(self) -> Any:
        """A context manager giving a cursor; commits on success, rolls back on error."""
        ...

    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """A condition ``column`` is one of ``values``, with its parameters."""
        ...

    def append_rows(
        self,
        cursor: Any,
        table: str,
        columns: str,
        rows: Sequence[Sequence[Any]],
        types: Sequence[str] | None = None,
    ) -> None:
        """Insert many new rows (no conflicts expected) the fastest way the store has.

        ``types`` (from ``column_types``) lets PostgreSQL take them in binary."""
        ...

    def upsert_rows(
        self,
        cursor: Any,
        table: str,
        columns: str,
        key: str,
        rows: Sequence[Sequence[Any]],
        types: Sequence[str] | None = None,
    ) -> None:
        """Insert rows, replacing (every other column of) the row with the same ``key``."""
        ...

    def column_types(self, cursor: Any, table: str, columns: str) -> list[str] | None:
        """The SQL types of ``columns`` of ``table``, for ``append_rows``/``upsert_rows``."""
        ...

    def close(self) -> None: ...


# Below this many rows an upsert is sent as one statement per row (pipelined); above, the rows
# go into a temporary table with one binary COPY and are merged with one INSERT ... SELECT.
STAGED_UPSERT_ROWS = 64


def _upsert_statement(table: str, columns: str, key: str, values: str) -> str:
    names = [c.strip() for c in columns.split(",")]
    updates = ", ".join(f"{n} = excluded.{n}" for n in names if n != key)
    return f"INSERT INTO {table} ({columns}) {values} ON CONFLICT ({key}) DO UPDATE SET {updates}"


class PostgresReadDatabase:
    dialect = "postgresql"

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 4,
        connect_timeout: int = 5,
    ) -> None:
        options = f"-c search_path={schema}" if schema else None
        kwargs: dict[str, Any] = {"connect_timeout": connect_timeout, "row_factory": tuple_row}
        if options:
            kwargs["options"] = options
        self.conninfo = conninfo
        self.schema = schema
        self.pool = ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            kwargs=kwargs,
            timeout=connect_timeout,
            # A connection the server dropped (restart, failover) is replaced, not handed out:
            # requests (the key store on every create) then recover by themselves.
            check=ConnectionPool.check_connection,
            open=True,
            name="aduan-read",
        )

    def connect(self, **extra: Any) -> psycopg.Connection[tuple[Any, ...]]:
        """A connection of its own (advisory locks, LISTEN), outside the pool."""
        options = f"-c search_path={self.schema}" if self.schema else None
        params: dict[str, Any] = {"row_factory": tuple_row, "connect_timeout": 5, **extra}
        if options:
            params["options"] = options
        return psycopg.connect(self.conninfo, **params)

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Cursor[tuple[Any, ...]]]:
        with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            yield cursor

    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(%s)", [list(values)]

    def append_rows(
        self,
        cursor: Any,
        table: str,
        columns: str,
        rows: Sequence[Sequence[Any]],
        types: Sequence[str] | None = None,
    ) -> None:
        if types is None:
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)

    def upsert_rows(
        self,
        cursor: Any,
        table: str,
        columns: str,
        key: str,
        rows: Sequence[Sequence[Any]],
        types: Sequence[str] | None = None,
    ) -> None:
        if not rows:
            return
        if len(rows) < STAGED_UPSERT_ROWS or types is None:
            marks = ", ".join("%s" for _ in columns.split(","))
            cursor.executemany(_upsert_statement(table, columns, key, f"VALUES ({marks})"), rows)
            return
        # A temporary table of this transaction: it goes on commit, and with a rollback.
        stage = f"aduan_stage_{table}"
        cursor.execute(
            f"CREATE TEMPORARY TABLE {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        self.append_rows(cursor, stage, columns, rows, types)
        cursor.execute(_upsert_statement(table, columns, key, f"SELECT {columns} FROM {stage}"))
        cursor.execute(f"DROP TABLE {stage}")

    def column_types(self, cursor: Any, table: str, columns: str) -> list[str] | None:
        cursor.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            (table,),
        )
        found = dict(cursor.fetchall())
        return [found[c.strip()] for c in columns.split(",")]

    def close(self) -> None:
        self.pool.close()


def _adapt_datetime(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_ISO)


def _convert_datetime(raw: bytes) -> datetime:
    return datetime.fromisoformat(raw.decode())


sqlite3.register_adapter(datetime, _adapt_datetime)
sqlite3.register_adapter(UUID, str)
sqlite3.register_converter("TIMESTAMPTZ", _convert_datetime)
sqlite3.register_converter("UUID", lambda raw: UUID(raw.decode()))
sqlite3.register_converter("BOOLEAN", lambda raw: raw not in (b"0", b""))


class _SQLiteCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        return self._cursor.execute(statement.replace("%s", "?"), tuple(params))

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> Any:
        return self._cursor.executemany(statement.replace("%s", "?"), [tuple(r) for r in rows])

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._cursor.fetchall()

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._cursor.fetchone()  # type: ignore[no-any-return]


class SQLiteReadDatabase:
    """One connection, serialised by a lock: the embedded default runs in one process."""

    dialect = "sqlite"

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            str(path),
            check_same_thread=False,
            isolation_level=None,
            detect_types=sqlite3.PARSE_DECLTYPES,
            timeout=10,
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[_SQLiteCursor]:
        with self._lock:
            cursor = self._conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield _SQLiteCursor(cursor)
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def append_rows(
        self,
        cursor: Any,
        table: str,
        columns: str,
        rows: Sequence[Sequence[Any]],
        types: Sequence[str] | None = None,
    ) -> None:
        marks = ", ".join("%s" for _ in columns.split(","))
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)

    def upsert_rows(
        self,
        cursor: Any,
        table: str,
        columns: str,
        key: str,
        rows: Sequence[Sequence[Any]],
        types: Sequence[str] | None = None,
    ) -> None:
        if rows:
            marks = ", ".join("%s" for _ in columns.split(","))
            cursor.executemany(_upsert_statement(table, columns, key, f"VALUES ({marks})"), rows)

    def column_types(self, cursor: Any, table: str, columns: str) -> list[str] | None:
        return None

    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        if not values:
            return "1 = 0", []
        return f"{column} IN ({', '.join('%s' for _ in values)})", list(values)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
