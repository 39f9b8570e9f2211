"""The monev view in SQL: one facts row per case, indexed by period."""

from __future__ import annotations

import pickle
from collections.abc import Collection
from typing import Any
from uuid import UUID

from domain.complaint import Complaint
from infrastructure.read_models import SqlView, pickled, rows_in
from infrastructure.readstore import Cursor
from projections.monev.view import MonevChanges, MonevFact, Period

COLUMNS = (
    "id, received_at, year, quarter, month, channel, kind, category, intake_unit, "
    "handling_unit, restricted, status, outcome, duplicate, followed_up, days_to_acknowledge, "
    "days_to_route, days_to_close, sla_acknowledge, sla_route, sla_first_follow_up, sla_close, "
    "templates"
)
_NAMES = [c.strip() for c in COLUMNS.split(",")]
_FLAGS = ("restricted", "duplicate", "followed_up")


class SqlMonevView(SqlView):
    name = "monev"
    tables = {
        "facts": (
            "CREATE TABLE {t} (id UUID PRIMARY KEY, received_at TIMESTAMPTZ NOT NULL, "
            "year INTEGER NOT NULL, quarter INTEGER NOT NULL, month INTEGER NOT NULL, "
            "channel TEXT NOT NULL, kind TEXT NOT NULL, category TEXT NOT NULL, "
            "intake_unit TEXT NOT NULL, handling_unit TEXT NOT NULL, "
            "restricted BOOLEAN NOT NULL, status TEXT NOT NULL, outcome TEXT, "
            "duplicate BOOLEAN NOT NULL, followed_up BOOLEAN NOT NULL, "
            "days_to_acknowledge INTEGER, days_to_route INTEGER, days_to_close INTEGER, "
            "sla_acknowledge TEXT, sla_route TEXT, sla_first_follow_up TEXT, sla_close TEXT, "
            "templates TEXT NOT NULL DEFAULT '', state BYTEA NOT NULL);"
            "CREATE INDEX {t}_quarter ON {t} (year, quarter);"
            "CREATE INDEX {t}_month ON {t} (year, month)"
        ),
    }

    def case_states(self, ids: Collection[UUID]) -> dict[UUID, Complaint]:
        return self.cached_states(ids, self._load_states)

    def _load_states(self, ids: list[UUID]) -> dict[UUID, Complaint]:
        with self.db.transaction() as cursor:
            rows = rows_in(self.db, cursor, self.t("facts"), "id", ids, "id, state")
        return {_uuid(r[0]): pickle.loads(bytes(r[1])) for r in rows}

    def write(self, cursor: Cursor, changes: MonevChanges) -> None:
        rows = []
        for case_id, fact in changes.facts.items():
            state = pickled(changes.states[case_id])
            values = [getattr(fact, n) for n in _NAMES]
            values[_NAMES.index("templates")] = ",".join(fact.templates)
            rows.append([*values, state])
        if not rows:
            return
        columns = f"{COLUMNS}, state"
        types = self.types(cursor, "facts", columns)
        self.db.upsert_rows(cursor, self.t("facts"), columns, "id", rows, types)

    def facts(self, period: Period, unit: str | None = None) -> list[MonevFact]:
        where = ["year = %s"]
        params: list[Any] = [period.year]
        if period.quarter is not None:
            where.append("quarter = %s")
            params.append(period.quarter)
        else:
            where.append("month = %s")
            params.append(period.month)
        if unit is not None:
            where.append("(intake_unit = %s OR handling_unit = %s)")
            params += [unit, unit]
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT {COLUMNS} FROM {self.t('facts')} WHERE {' AND '.join(where)} ORDER BY id",
                params,
            )
            return [_fact(r) for r in cursor.fetchall()]

    def facts_of(self, ids: Collection[UUID]) -> dict[UUID, MonevFact]:
        with self.db.transaction() as cursor:
            rows = rows_in(self.db, cursor, self.t("facts"), "id", list(ids), COLUMNS)
        return {fact.id: fact for fact in map(_fact, rows)}


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _fact(row: tuple[Any, ...]) -> MonevFact:
    data = dict(zip(_NAMES, row, strict=True))
    data["id"] = _uuid(data["id"])
    for flag in _FLAGS:
        data[flag] = bool(data[flag])
    data["templates"] = tuple(t for t in (data["templates"] or "").split(",") if t)
    return MonevFact(**data)
