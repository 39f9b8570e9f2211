"""The queue view in SQL."""

from __future__ import annotations

import pickle
from collections import Counter
from collections.abc import Collection
from typing import Any
from uuid import UUID

from domain.complaint import Complaint
from infrastructure.read_models import SqlView, pickled, rows_in
from infrastructure.readstore import Cursor
from projections.queues.view import QueueChanges, QueueItem, QueueQuery

COLUMNS = (
    "id, tracking_number, status, kind, category, channel, subject, received_at, intake_unit, "
    "handling_unit, assignee, restricted, confidential, waiting_for_complainant, next_stage, "
    "next_due_at, next_due_soon_at, version"
)
_NAMES = [c.strip() for c in COLUMNS.split(",")]
_LOOKUP_CHUNK = 5000  # ids per lookup of the items' old buckets (SQLite's variable limit)


class SqlQueueView(SqlView):
    name = "queues"
    tables = {
        "items": (
            "CREATE TABLE {t} (id UUID PRIMARY KEY, tracking_number TEXT NOT NULL, "
            "status TEXT NOT NULL, kind TEXT NOT NULL, category TEXT NOT NULL, "
            "channel TEXT NOT NULL, subject TEXT NOT NULL, received_at TIMESTAMPTZ NOT NULL, "
            "intake_unit TEXT NOT NULL, handling_unit TEXT NOT NULL, assignee TEXT, "
            "restricted BOOLEAN NOT NULL, confidential BOOLEAN NOT NULL, "
            "waiting_for_complainant BOOLEAN NOT NULL, next_stage TEXT, "
            "next_due_at TIMESTAMPTZ, next_due_soon_at TIMESTAMPTZ, version INTEGER NOT NULL, "
            "sort_key BIGINT NOT NULL, state BYTEA NOT NULL);"
            # A page is the first rows of a unit in (sort_key, id) order whatever the statuses
            # asked for: closed items sort last (NO_DUE), so open ones come first.
            "CREATE INDEX {t}_order ON {t} (handling_unit, sort_key, id);"
            "CREATE INDEX {t}_counts ON {t} (handling_unit, restricted, status)"
        ),
        # How many items each (unit, restricted, status) has, kept in the transaction that
        # writes the items: the counts query reads a few rows instead of every item of the unit
        # (tens of milliseconds for a busy unit at a million cases; bench/README.md, Scale).
        "counts": (
            "CREATE TABLE {t} (handling_unit TEXT NOT NULL, restricted BOOLEAN NOT NULL, "
            "status TEXT NOT NULL, n BIGINT NOT NULL, "
            "PRIMARY KEY (handling_unit, restricted, status))"
        ),
    }

    def case_states(self, ids: Collection[UUID]) -> dict[UUID, Complaint]:
        return self.cached_states(ids, self._load_states)

    def _load_states(self, ids: list[UUID]) -> dict[UUID, Complaint]:
        with self.db.transaction() as cursor:
            rows = rows_in(self.db, cursor, self.t("items"), "id", ids, "id, state")
        return {_uuid(r[0]): pickle.loads(bytes(r[1])) for r in rows}

    def write(self, cursor: Cursor, changes: QueueChanges) -> None:
        rows = []
        for case_id, item in changes.items.items():
            state = pickled(changes.states[case_id])
            rows.append([getattr(item, n) for n in _NAMES] + [item.sort_key, state])
        if not rows:
            return
        delta = self._count_delta(cursor, changes)
        columns = f"{COLUMNS}, sort_key, state"
        types = self.types(cursor, "items", columns)
        self.db.upsert_rows(cursor, self.t("items"), columns, "id", rows, types)
        counts = self.t("counts")
        cursor.executemany(
            f"INSERT INTO {counts} (handling_unit, restricted, status, n) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (handling_unit, restricted, status) "
            f"DO UPDATE SET n = {counts}.n + excluded.n",
            [(*bucket, n) for bucket, n in sorted(delta.items()) if n],
        )
        if any(n < 0 for n in delta.values()):
            # An emptied bucket goes, so the table is the same whatever the batches were.
            cursor.execute(f"DELETE FROM {counts} WHERE n = 0")

    def _count_delta(self, cursor: Cursor, changes: QueueChanges) -> Counter[tuple[str, bool, str]]:
        """What the batch changes in each count: its items' old buckets out, new ones in."""
        delta: Counter[tuple[str, bool, str]] = Counter()
        ids = list(changes.items)
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            chunk = ids[start : start + _LOOKUP_CHUNK]
            columns = "handling_unit, restricted, status"
            for unit, restricted, status in rows_in(
                self.db, cursor, self.t("items"), "id", chunk, columns
            ):
                delta[(unit, bool(restricted), status)] -= 1
        for item in changes.items.values():
            delta[(item.handling_unit, item.restricted, item.status)] += 1
        return delta

    def items(self, ids: Collection[UUID]) -> dict[UUID, QueueItem]:
        with self.db.transaction() as cursor:
            rows = rows_in(self.db, cursor, self.t("items"), "id", list(ids), COLUMNS)
        return {item.id: item for item in map(_item, rows)}

    def page(self, query: QueueQuery) -> list[QueueItem]:
        statuses, status_params = self.db.any_of("status", sorted(query.statuses))
        where = ["handling_unit = %s", statuses]
        params: list[Any] = [query.unit, *status_params]
        if not query.include_restricted:
            where.append("restricted = %s")
            params.append(False)
        if query.assignee is not None:
            where.append("assignee = %s")
            params.append(query.assignee)
        if query.after is not None:
            where.append("(sort_key > %s OR (sort_key = %s AND id > %s))")
            params += [query.after[0], query.after[0], query.after[1]]
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT {COLUMNS} FROM {self.t('items')} WHERE {' AND '.join(where)} "
                "ORDER BY sort_key, id LIMIT %s",
                [*params, query.limit],
            )
            return [_item(r) for r in cursor.fetchall()]

    def counts(self, unit: str, include_restricted: bool) -> dict[str, int]:
        where = "handling_unit = %s" + ("" if include_restricted else " AND restricted = %s")
        params: list[Any] = [unit] if include_restricted else [unit, False]
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT status, SUM(n) FROM {self.t('counts')} WHERE {where} GROUP BY status",
                params,
            )
            return {r[0]: int(r[1]) for r in cursor.fetchall() if r[1]}


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _item(row: tuple[Any, ...]) -> QueueItem:
    data = dict(zip(_NAMES, row, strict=True))
    data["id"] = _uuid(data["id"])
    for flag in ("restricted", "confidential", "waiting_for_complainant"):
        data[flag] = bool(data[flag])
    return QueueItem(**data)
