"""The duplicates view in SQL: pg_trgm similarity on PostgreSQL, token overlap on SQLite.

On PostgreSQL the view creates the ``pg_trgm`` extension when it is missing (in ``public``; a
trusted extension since PostgreSQL 13, so the database owner may) and indexes the text with a
trigram GIN index. Where the extension cannot be had, it falls back to token overlap, as SQLite.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Collection
from typing import Any
from uuid import UUID

import psycopg

from infrastructure.read_models import SqlView, rows_in
from infrastructure.readstore import Cursor, ReadDatabase
from projections.duplicates.view import (
    MAX_PER_REASON,
    TOKEN_THRESHOLD,
    TRIGRAM_THRESHOLD,
    Candidate,
    CaseRow,
    DuplicateChanges,
    DuplicateQuery,
    matches,
    merged,
    token_similarity,
    tokens,
)

log = logging.getLogger("aduan.duplicates")

COLUMNS = (
    "id, tracking_number, category, subject, received_at, intake_unit, handling_unit, "
    "restricted, anonymous, is_open, product_registration, email_match, phone_match, "
    "match_text, duplicate_of"
)
_NAMES = [c.strip() for c in COLUMNS.split(",")]
_FLAGS = ("restricted", "anonymous", "is_open")
_RECHECK_SECONDS = 60.0


class _Trigrams:
    """Where pg_trgm lives in each read database (None: not there), looked up now and then."""

    def __init__(self) -> None:
        self._found: weakref.WeakKeyDictionary[Any, tuple[float, str | None]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def schema(self, db: ReadDatabase, cursor: Cursor) -> str | None:
        if db.dialect != "postgresql":
            return None
        now = time.monotonic()
        with self._lock:
            cached = self._found.get(db)
        if cached is not None and (cached[1] is not None or now - cached[0] < _RECHECK_SECONDS):
            return cached[1]
        cursor.execute(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'pg_trgm'"
        )
        row = cursor.fetchone()
        found = str(row[0]) if row else None
        with self._lock:
            self._found[db] = (now, found)
        return found

    def forget(self, db: ReadDatabase) -> None:
        with self._lock:
            self._found.pop(db, None)


TRIGRAMS = _Trigrams()


class SqlDuplicateView(SqlView):
    name = "duplicates"
    tables = {
        "cases": (
            "CREATE TABLE {t} (id UUID PRIMARY KEY, tracking_number TEXT NOT NULL, "
            "category TEXT NOT NULL, subject TEXT NOT NULL, received_at TIMESTAMPTZ NOT NULL, "
            "intake_unit TEXT NOT NULL, handling_unit TEXT NOT NULL, "
            "restricted BOOLEAN NOT NULL, anonymous BOOLEAN NOT NULL, is_open BOOLEAN NOT NULL, "
            "product_registration TEXT, email_match TEXT, phone_match TEXT, "
            "match_text TEXT NOT NULL, duplicate_of UUID);"
            "CREATE INDEX {t}_category ON {t} (category, is_open);"
            "CREATE INDEX {t}_registration ON {t} (product_registration);"
            "CREATE INDEX {t}_email ON {t} (email_match);"
            "CREATE INDEX {t}_phone ON {t} (phone_match);"
            "CREATE INDEX {t}_duplicate_of ON {t} (duplicate_of)"
        ),
    }

    def create(self, cursor: Cursor, *, deferred_indexes: bool = False) -> None:
        if self.db.dialect == "postgresql":
            self._create_extension(cursor)
        super().create(cursor, deferred_indexes=deferred_indexes)

    def index_statements(self, cursor: Cursor) -> list[str]:
        """The DDL's indexes and, where pg_trgm is, the trigram GIN index of the text: the
        costliest to keep row by row, so a rebuild builds it once over all its rows."""
        statements = super().index_statements(cursor)
        schema = TRIGRAMS.schema(self.db, cursor)
        if schema is not None:
            table = self.t("cases")
            # Open cases only: the searches look at nothing else (their scope says ``is_open =
            # TRUE`` literally, which lets the planner use a partial index), and a closed
            # case's text is then never maintained in it.
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {table}_text ON {table} "
                f'USING gin (match_text "{schema}".gin_trgm_ops) WHERE is_open'
            )
        return statements

    def _create_extension(self, cursor: Cursor) -> None:
        """pg_trgm if missing; a refusal (no privilege, no contrib package) leaves the fallback."""
        cursor.execute("SAVEPOINT aduan_trgm")
        try:
            cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
            if cursor.fetchone() is None:
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
            cursor.execute("RELEASE SAVEPOINT aduan_trgm")
        except psycopg.Error as error:
            cursor.execute("ROLLBACK TO SAVEPOINT aduan_trgm")
            log.warning("pg_trgm not available (%s): text similarity uses token overlap", error)
        TRIGRAMS.forget(self.db)

    def write(self, cursor: Cursor, changes: DuplicateChanges) -> None:
        table = self.t("cases")
        if changes.rows:
            marks = ", ".join("%s" for _ in _NAMES)
            updates = ", ".join(f"{n} = excluded.{n}" for n in _NAMES[1:])
            cursor.executemany(
                f"INSERT INTO {table} ({COLUMNS}) VALUES ({marks}) "
                f"ON CONFLICT (id) DO UPDATE SET {updates}",
                [[getattr(row, n) for n in _NAMES] for row in changes.rows.values()],
            )
        for case_id, columns in changes.updates.items():
            names = sorted(columns)
            cursor.execute(
                f"UPDATE {table} SET {', '.join(f'{n} = %s' for n in names)} WHERE id = %s",
                [*(columns[n] for n in names), case_id],
            )
        for case_id in changes.erased:
            cursor.execute(
                f"UPDATE {table} SET email_match = NULL, phone_match = NULL, "
                "match_text = subject WHERE id = %s",
                [case_id],
            )

    # --- queries -----

    def _scope(self, query: DuplicateQuery) -> tuple[str, list[Any]]:
        where = ["is_open = TRUE", "id <> %s"]  # a literal: it matches the partial index
        params: list[Any] = [query.case_id]
        if query.units is not None:
            intake, intake_params = self.db.any_of("intake_unit", sorted(query.units))
            handling, handling_params = self.db.any_of("handling_unit", sorted(query.units))
            where.append(f"({intake} OR {handling})")
            params += [*intake_params, *handling_params]
        return " AND ".join(where), params

    def candidates(self, query: DuplicateQuery) -> list[Candidate]:
        table = self.t("cases")
        scope, params = self._scope(query)
        found: list[Candidate] = []
        with self.db.transaction() as cursor:
            keys = [
                ("product_registration", query.product_registration),
                ("email_match", query.email_match),
                ("phone_match", query.phone_match),
            ]
            for column, value in keys:
                if value is None:
                    continue
                cursor.execute(
                    f"SELECT {COLUMNS} FROM {table} WHERE {scope} AND {column} = %s "
                    "ORDER BY received_at DESC LIMIT %s",
                    [*params, value, MAX_PER_REASON],
                )
                found += [matches(_row(r), query, None) for r in cursor.fetchall()]
            schema = TRIGRAMS.schema(self.db, cursor)
            if schema is not None:
                found += self._trigram_matches(cursor, schema, query, scope, params)
            else:
                found += self._token_matches(cursor, query, scope, params)
        return merged(found)

    def _trigram_matches(
        self, cursor: Cursor, schema: str, query: DuplicateQuery, scope: str, params: list[Any]
    ) -> list[Candidate]:
        cursor.execute(
            "SELECT set_config('pg_trgm.similarity_threshold', %s, true)",
            [str(TRIGRAM_THRESHOLD)],
        )
        cursor.execute(
            f'SELECT {COLUMNS}, "{schema}".similarity(match_text, %s) AS s '
            f"FROM {self.t('cases')} WHERE {scope} AND category = %s "
            f'AND match_text OPERATOR("{schema}".%%) %s ORDER BY s DESC LIMIT %s',
            [query.text, *params, query.category, query.text, MAX_PER_REASON],
        )
        return [
            matches(_row(r[:-1]), query, round(float(r[-1]), 3)) for r in cursor.fetchall()
        ]

    def _token_matches(
        self, cursor: Cursor, query: DuplicateQuery, scope: str, params: list[Any]
    ) -> list[Candidate]:
        """Token overlap, computed here over the open cases of the category in scope."""
        cursor.execute(
            f"SELECT {COLUMNS} FROM {self.t('cases')} WHERE {scope} AND category = %s",
            [*params, query.category],
        )
        probe = tokens(query.text)
        found = []
        for raw in cursor.fetchall():
            row = _row(raw)
            similarity = token_similarity(probe, tokens(row.match_text))
            if similarity >= TOKEN_THRESHOLD:
                found.append(matches(row, query, round(similarity, 3)))
        found.sort(key=lambda c: -(c.similarity or 0))
        return found[:MAX_PER_REASON]

    def duplicates_of(self, case_id: UUID) -> list[CaseRow]:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT {COLUMNS} FROM {self.t('cases')} WHERE duplicate_of = %s "
                "ORDER BY received_at, id",
                [case_id],
            )
            return [_row(r) for r in cursor.fetchall()]

    def rows(self, ids: Collection[UUID]) -> dict[UUID, CaseRow]:
        with self.db.transaction() as cursor:
            found = rows_in(self.db, cursor, self.t("cases"), "id", list(ids), COLUMNS)
        return {row.id: row for row in map(_row, found)}


def _uuid(value: Any) -> UUID | None:
    if value is None:
        return None
    return value if isinstance(value, UUID) else UUID(str(value))


def _row(raw: tuple[Any, ...]) -> CaseRow:
    data = dict(zip(_NAMES, raw, strict=True))
    data["id"] = _uuid(data["id"])
    data["duplicate_of"] = _uuid(data["duplicate_of"])
    for flag in _FLAGS:
        data[flag] = bool(data[flag])
    return CaseRow(**data)
