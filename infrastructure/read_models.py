"""Builds of read models: versioned tables, their positions, and the switch-over to a new build.

Each read model is built into tables of its own generation (``rm_<name>_<table>_g<N>``). A
build's position lives in ``aduan_read_models`` and is written in the same transaction as its
rows. A new version of a projection, or ``aduan projections rebuild``, starts a new generation
beside the live one; queries keep reading the live one until the new build reaches the head of
the log, then it becomes live and the old tables are dropped: no downtime.

A generation built beside a live one (far behind the head: a rebuild, a new version) is created
with its tables and primary keys only; the secondary indexes (``CREATE INDEX`` in the DDL, and
what a view adds, such as the trigram GIN index of ``duplicates``) are built once over all its
rows when it has caught up: by ``rebuild_together`` before its last catch-up, and in any case by
``Catalog.promote`` before it goes live, so queries never read a generation without them; an
interrupted build resumed later still gets them there (``IF NOT EXISTS``: idempotent). The first
generation of a read model, live at once because nothing else is, is created with its indexes:
queries read it while it is built (from a small log at first start, nothing is lost; a fresh read
database over a long log is the case for ``aduan projections rebuild``).
"""

from __future__ import annotations

import pickle
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from infrastructure.readstore import Cursor, ReadDatabase

REGISTRY = "aduan_read_models"

# A secondary index in a view's DDL (not UNIQUE: a unique index is a constraint, created with
# its table). Named, so that ``IF NOT EXISTS`` makes building it again a no-op.
_SECONDARY_INDEX = re.compile(r"CREATE\s+INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?(?=\w)", re.IGNORECASE)


_PICKLED: dict[int, tuple[weakref.ref[Any], int, bytes]] = {}
_PICKLED_MAX = 20000


def pickled(state: Any) -> bytes:
    """A case state's bytes; the read models at one position store the very same state object,
    so it is pickled once for all of them (keyed by identity and version)."""
    version = getattr(state, "_version", None)
    found = _PICKLED.get(id(state))
    if version is not None and found is not None and found[0]() is state and found[1] == version:
        return found[2]
    data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    if version is not None:
        if len(_PICKLED) >= _PICKLED_MAX:
            _PICKLED.clear()
        _PICKLED[id(state)] = (weakref.ref(state), version, data)
    return data


class StalePosition(RuntimeError):
    """Another worker already committed past this batch: it is rolled back, not applied twice."""


class SqlView:
    """Base of the SQL views: tables of one generation, and the tracking position."""

    name: ClassVar[str]
    tables: ClassVar[dict[str, str]]  # table -> column definitions and indexes ("{t}" = table)

    # Case states this view committed, kept for the next batches so that they need not be read
    # back and unpickled; bounded, so memory stays flat however long the log.
    state_cache_size: ClassVar[int] = 5000

    def __init__(self, db: ReadDatabase, generation: int) -> None:
        self.db = db
        self.generation = generation
        self._states: OrderedDict[Any, Any] = OrderedDict()
        self._lent = False
        self._types: dict[tuple[str, str], list[str] | None] = {}

    def types(self, cursor: Cursor, table: str, columns: str) -> list[str] | None:
        """The SQL types of ``columns`` of this generation's ``table`` (looked up once)."""
        key = (table, columns)
        if key not in self._types:
            self._types[key] = self.db.column_types(cursor, self.t(table), columns)
        return self._types[key]

    def cached_states(
        self, ids: Collection[Any], load: Callable[[list[Any]], dict[Any, Any]]
    ) -> dict[Any, Any]:
        """The states of ``ids``: from the cache, else ``load``ed. The caller may change them."""
        if self._lent:  # the last batch took states out and never committed them
            self._states.clear()
        found = {i: self._states[i] for i in ids if i in self._states}
        missing = [i for i in ids if i not in found]
        if missing:
            found.update(load(missing))
        self._lent = True
        return found

    def _remember(self, changes: Any) -> None:
        states = getattr(changes, "states", None) or {}
        for case_id, state in states.items():
            self._states[case_id] = state
            self._states.move_to_end(case_id)
        while len(self._states) > self.state_cache_size:
            self._states.popitem(last=False)
        self._lent = False

    def t(self, table: str) -> str:
        return f"rm_{self.name}_{table}_g{self.generation}"

    def statements(self) -> tuple[list[str], list[str]]:
        """This generation's DDL split in two: what ``create`` runs (tables, their primary keys,
        unique indexes, which are constraints upserts may rely on) and the secondary indexes
        (``CREATE INDEX``, made idempotent with ``IF NOT EXISTS``)."""
        tables: list[str] = []
        indexes: list[str] = []
        for table, ddl in self.tables.items():
            for statement in ddl.split(";"):
                statement = statement.strip().format(t=self.t(table))
                if not statement:
                    continue
                secondary = _SECONDARY_INDEX.match(statement)
                if secondary is None:
                    tables.append(statement)
                    continue
                rest = statement[secondary.end() :]
                if re.match(r"ON\s", rest, re.IGNORECASE):
                    raise ValueError(f"{self.name}: name the index, or it is built twice: {rest}")
                indexes.append(f"CREATE INDEX IF NOT EXISTS {rest}")
        return tables, indexes

    def index_statements(self, cursor: Cursor) -> list[str]:
        """The secondary indexes of this generation (a view may add ones its DDL cannot say)."""
        return self.statements()[1]

    def create(self, cursor: Cursor, *, deferred_indexes: bool = False) -> None:
        """This generation's tables; with ``deferred_indexes`` only their primary keys (a
        rebuild writes faster without the secondary indexes; ``create_indexes`` adds them once
        the build has caught up, before queries read it)."""
        for statement in self.statements()[0]:
            cursor.execute(statement)
        if not deferred_indexes:
            self.create_indexes(cursor)

    def create_indexes(self, cursor: Cursor) -> None:
        """The secondary indexes, built over the rows already there; a no-op when they are."""
        for statement in self.index_statements(cursor):
            cursor.execute(statement)

    def drop(self, cursor: Cursor) -> None:
        for table in self.tables:
            cursor.execute(f"DROP TABLE IF EXISTS {self.t(table)}")

    def position(self) -> int:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT position FROM {REGISTRY} WHERE name = %s AND generation = %s",
                (self.name, self.generation),
            )
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    def commit(self, changes: Any, position: int) -> None:
        try:
            with self.db.transaction() as cursor:
                if changes is not None:
                    self.write(cursor, changes)
                cursor.execute(
                    f"UPDATE {REGISTRY} SET position = %s, updated_at = %s "
                    "WHERE name = %s AND generation = %s AND position < %s",
                    (position, datetime.now(UTC), self.name, self.generation, position),
                )
                if cursor.rowcount != 1:
                    raise StalePosition(
                        f"{self.name} g{self.generation} is already past {position}"
                    )
        except BaseException:
            self._states.clear()
            self._lent = False
            raise
        self._remember(changes)

    def write(self, cursor: Cursor, changes: Any) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Build:
    name: str
    generation: int
    version: int
    position: int
    live: bool
    updated_at: datetime | None


ViewFactory = Callable[[ReadDatabase, int], SqlView]


class Catalog:
    """Which generation of each read model is live, and which one the workers build."""

    def __init__(
        self,
        db: ReadDatabase,
        views: dict[str, tuple[int, ViewFactory]],
        *,
        fixed: dict[str, Any] | None = None,
        live_cache_seconds: float = 1.0,
    ) -> None:
        self.db = db
        self.views = views
        # Append-only read models (the audit chain): one permanent table set, never rebuilt
        # into a new generation; their view object keeps its own position.
        self.fixed: dict[str, Any] = dict(fixed or {})
        self._live: dict[str, tuple[float, SqlView]] = {}
        self._cache_seconds = live_cache_seconds
        self._lock = threading.Lock()
        with db.transaction() as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {REGISTRY} ("
                "name TEXT NOT NULL, generation INTEGER NOT NULL, version INTEGER NOT NULL, "
                "position BIGINT NOT NULL DEFAULT 0, live BOOLEAN NOT NULL DEFAULT FALSE, "
                "updated_at TIMESTAMPTZ, PRIMARY KEY (name, generation))"
            )

        for name in views:
            self.target(name)

    def _lock_registry(self, cursor: Cursor) -> None:
        """Serialise changes of builds across processes (SQLite's write lock already does)."""
        if self.db.dialect == "postgresql":
            cursor.execute(f"LOCK TABLE {REGISTRY} IN SHARE ROW EXCLUSIVE MODE")

    def names(self) -> list[str]:
        return [*self.views, *self.fixed]

    def builds(self, name: str | None = None) -> list[Build]:
        if name in self.fixed:
            return [
                Build(name, 1, self.fixed[name].version, self.fixed[name].position(), True, None)
            ]
        with self.db.transaction() as cursor:
            where = "WHERE name = %s " if name else ""
            cursor.execute(
                "SELECT name, generation, version, position, live, updated_at "
                f"FROM {REGISTRY} {where}ORDER BY name, generation",
                (name,) if name else (),
            )
            rows = cursor.fetchall()
        return [Build(r[0], r[1], r[2], int(r[3]), bool(r[4]), r[5]) for r in rows]

    def target(self, name: str) -> Any:
        """The build workers should bring up to the head: the newest of the current version.

        Starts one when there is none (live at once when nothing else is live).
        """
        if name in self.fixed:
            return self.fixed[name]
        version, factory = self.views[name]
        with self.db.transaction() as cursor:
            self._lock_registry(cursor)
            cursor.execute(
                f"SELECT generation, version, live FROM {REGISTRY} WHERE name = %s "
                "ORDER BY generation DESC",
                (name,),
            )
            rows = cursor.fetchall()
            if rows and rows[0][1] == version:
                return factory(self.db, rows[0][0])
            generation = rows[0][0] + 1 if rows else 1
            view = factory(self.db, generation)
            live = not any(r[2] for r in rows)
            # Live at once (the first build, nothing else live): queries read it from now on, so
            # with its indexes. Beside a live one: without, until it is promoted.
            view.create(cursor, deferred_indexes=not live)
            cursor.execute(
                f"INSERT INTO {REGISTRY} (name, generation, version, position, live, updated_at) "
                "VALUES (%s, %s, %s, 0, %s, %s)",
                (name, generation, version, live, datetime.now(UTC)),
            )
            return view

    def start_rebuild(self, name: str, *, resume: bool = False) -> SqlView:
        """A fresh generation of the current version, built beside the live one.

        With ``resume``, an unfinished build of the current version (the newest generation, not
        live: a rebuild that was interrupted, or a new version being built) is carried on from
        its committed position instead: its rows and position were committed together, batch by
        batch, so it continues with no event applied twice or skipped.
        """
        if name in self.fixed:
            raise ValueError(f"{name} is append-only: it is verified, never rebuilt")
        version, factory = self.views[name]
        with self.db.transaction() as cursor:
            self._lock_registry(cursor)
            if resume:
                cursor.execute(
                    f"SELECT generation, version, live FROM {REGISTRY} WHERE name = %s "
                    "ORDER BY generation DESC LIMIT 1",
                    (name,),
                )
                newest = cursor.fetchone()
                if newest is not None and newest[1] == version and not newest[2]:
                    return factory(self.db, newest[0])
            cursor.execute(f"SELECT MAX(generation) FROM {REGISTRY} WHERE name = %s", (name,))
            row = cursor.fetchone()
            generation = (row[0] or 0) + 1 if row else 1
            view = factory(self.db, generation)
            view.create(cursor, deferred_indexes=True)  # built by ``index`` or ``promote``
            cursor.execute(
                f"INSERT INTO {REGISTRY} (name, generation, version, position, live, updated_at) "
                "VALUES (%s, %s, %s, 0, FALSE, %s)",
                (name, generation, version, datetime.now(UTC)),
            )
        return view

    def index(self, view: SqlView) -> None:
        """Build the secondary indexes of ``view``'s generation (none while it was built far
        behind the head); a no-op where they are there already. Not under the registry's lock:
        the other read models keep committing meanwhile."""
        with self.db.transaction() as cursor:
            view.create_indexes(cursor)

    def promote(self, view: SqlView) -> None:
        """Make ``view``'s generation live, with all its indexes, and drop every other
        generation of its read model."""
        _, factory = self.views[view.name]
        self.index(view)  # committed before queries can be switched to it
        with self.db.transaction() as cursor:
            self._lock_registry(cursor)
            cursor.execute(
                f"SELECT generation FROM {REGISTRY} WHERE name = %s AND generation <> %s",
                (view.name, view.generation),
            )
            others = [r[0] for r in cursor.fetchall()]
            cursor.execute(
                f"UPDATE {REGISTRY} SET live = (generation = %s) WHERE name = %s",
                (view.generation, view.name),
            )
            for generation in others:
                factory(self.db, generation).drop(cursor)
            cursor.execute(
                f"DELETE FROM {REGISTRY} WHERE name = %s AND generation <> %s",
                (view.name, view.generation),
            )
        with self._lock:
            self._live.pop(view.name, None)

    def is_live(self, view: Any) -> bool:
        if view.name in self.fixed:
            return True
        return any(b.live for b in self.builds(view.name) if b.generation == view.generation)

    def live(self, name: str) -> Any:
        """The view queries read (cached for a moment; a switch-over shows within a second)."""
        if name in self.fixed:
            return self.fixed[name]
        now = time.monotonic()
        with self._lock:
            cached = self._live.get(name)
            if cached is not None and now - cached[0] < self._cache_seconds:
                return cached[1]
        live = [b for b in self.builds(name) if b.live]
        view = self.views[name][1](self.db, live[0].generation) if live else self.target(name)
        with self._lock:
            self._live[name] = (now, view)
        return view


def rows_in(
    db: ReadDatabase, cursor: Cursor, table: str, column: str, values: Sequence[Any], columns: str
) -> list[tuple[Any, ...]]:
    if not values:
        return []
    condition, params = db.any_of(column, values)
    cursor.execute(f"SELECT {columns} FROM {table} WHERE {condition}", params)
    return cursor.fetchall()


class CatalogReadSide:
    """The query side's access to the live SQL views."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def view(self, name: str) -> Any:
        return self.catalog.live(name)

    def names(self) -> list[str]:
        return sorted(self.catalog.names())
