"""The SLA view in SQL: open stages by due instant, and the timer's scan against the alert log."""

from __future__ import annotations

import pickle
from collections.abc import Collection
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.complaint import Complaint
from infrastructure.alerts import ALERTS
from infrastructure.read_models import SqlView, pickled, rows_in
from infrastructure.readstore import Cursor
from projections.sla.view import BREACHED, DUE_SOON, SlaChanges, SlaQuery, SlaRow

COLUMNS = "case_id, stage, tracking_number, unit, zone, due_at, due_soon_at, paused, restricted"
_NAMES = [c.strip() for c in COLUMNS.split(",")]


class SqlSlaView(SqlView):
    name = "sla"
    tables = {
        "stages": (
            "CREATE TABLE {t} (case_id UUID NOT NULL, stage TEXT NOT NULL, "
            "tracking_number TEXT NOT NULL, unit TEXT NOT NULL, zone TEXT NOT NULL, "
            "due_at TIMESTAMPTZ NOT NULL, due_soon_at TIMESTAMPTZ NOT NULL, "
            "paused BOOLEAN NOT NULL, restricted BOOLEAN NOT NULL, "
            "PRIMARY KEY (case_id, stage));"
            "CREATE INDEX {t}_soon ON {t} (paused, due_soon_at);"
            "CREATE INDEX {t}_due ON {t} (paused, due_at);"
            "CREATE INDEX {t}_unit ON {t} (unit, paused, due_soon_at)"
        ),
        "cases": "CREATE TABLE {t} (id UUID PRIMARY KEY, state BYTEA NOT NULL)",
    }

    def case_states(self, ids: Collection[UUID]) -> dict[UUID, Complaint]:
        return self.cached_states(ids, self._load_states)

    def _load_states(self, ids: list[UUID]) -> dict[UUID, Complaint]:
        with self.db.transaction() as cursor:
            rows = rows_in(self.db, cursor, self.t("cases"), "id", ids, "id, state")
        return {_uuid(r[0]): pickle.loads(bytes(r[1])) for r in rows}

    def write(self, cursor: Cursor, changes: SlaChanges) -> None:
        touched = list(changes.rows)
        if not touched:
            return
        condition, params = self.db.any_of("case_id", touched)
        cursor.execute(f"DELETE FROM {self.t('stages')} WHERE {condition}", params)
        rows = [[getattr(r, n) for n in _NAMES] for rs in changes.rows.values() for r in rs]
        if rows:
            marks = ", ".join("%s" for _ in _NAMES)
            cursor.executemany(f"INSERT INTO {self.t('stages')} ({COLUMNS}) VALUES ({marks})", rows)
        states = [[case_id, pickled(state)] for case_id, state in changes.states.items()]
        cursor.executemany(
            f"INSERT INTO {self.t('cases')} (id, state) VALUES (%s, %s) "
            "ON CONFLICT (id) DO UPDATE SET state = excluded.state",
            states,
        )

    def flagged(self, query: SlaQuery) -> list[SlaRow]:
        where = ["paused = %s", "due_soon_at <= %s"]
        params: list[Any] = [False, query.at]
        if query.units is not None:
            condition, unit_params = self.db.any_of("unit", sorted(query.units))
            where.append(condition)
            params += unit_params
        if not query.include_restricted:
            where.append("restricted = %s")
            params.append(False)
        if query.state == BREACHED:
            where.append("due_at < %s")
            params.append(query.at)
        elif query.state == DUE_SOON:
            where.append("due_at >= %s")
            params.append(query.at)
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT {COLUMNS} FROM {self.t('stages')} WHERE {' AND '.join(where)} "
                "ORDER BY due_at, case_id, stage LIMIT %s",
                [*params, query.limit],
            )
            return [_row(r) for r in cursor.fetchall()]

    def unalerted(self, now: datetime, limit: int) -> list[tuple[SlaRow, str]]:
        """Breached stages first, then due-soon ones, each without its alert in the log."""
        columns = ", ".join(f"s.{n}" for n in _NAMES)
        missing = (
            f"NOT EXISTS (SELECT 1 FROM {ALERTS} a WHERE a.case_id = s.case_id "
            "AND a.stage = s.stage AND a.state = %s AND a.due_at = s.due_at)"
        )
        found: list[tuple[SlaRow, str]] = []
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT {columns} FROM {self.t('stages')} s "
                f"WHERE s.paused = %s AND s.due_at < %s AND {missing} "
                "ORDER BY s.due_at, s.case_id, s.stage LIMIT %s",
                (False, now, BREACHED, limit),
            )
            found += [(_row(r), BREACHED) for r in cursor.fetchall()]
            cursor.execute(
                f"SELECT {columns} FROM {self.t('stages')} s "
                f"WHERE s.paused = %s AND s.due_soon_at <= %s AND s.due_at >= %s AND {missing} "
                "ORDER BY s.due_at, s.case_id, s.stage LIMIT %s",
                (False, now, now, DUE_SOON, limit),
            )
            found += [(_row(r), DUE_SOON) for r in cursor.fetchall()]
        return found[:limit]

    def stages(self, case_id: UUID) -> list[SlaRow]:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT {COLUMNS} FROM {self.t('stages')} WHERE case_id = %s ORDER BY stage",
                (case_id,),
            )
            return [_row(r) for r in cursor.fetchall()]

    def waiting_case_ids(self) -> list[UUID]:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT DISTINCT case_id FROM {self.t('stages')} WHERE paused = %s "
                "ORDER BY case_id",
                (True,),
            )
            return [_uuid(r[0]) for r in cursor.fetchall()]


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _row(row: tuple[Any, ...]) -> SlaRow:
    data = dict(zip(_NAMES, row, strict=True))
    data["case_id"] = _uuid(data["case_id"])
    data["paused"] = bool(data["paused"])
    data["restricted"] = bool(data["restricted"])
    return SlaRow(**data)
