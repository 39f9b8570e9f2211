"""The survey view in SQL: one row per surveyed case (the nine scores as columns), by period."""

from __future__ import annotations

import pickle
from collections.abc import Collection
from typing import Any
from uuid import UUID

from domain.complaint import Complaint
from domain.vocabulary import SURVEY_ELEMENTS
from infrastructure.read_models import SqlView, pickled, rows_in
from infrastructure.readstore import Cursor
from projections.surveys.view import SurveyChanges, SurveyQuery, SurveyRow

SCORES = [f"s{n}" for n in range(1, len(SURVEY_ELEMENTS) + 1)]
_NAMES = [
    "id",
    "tracking_number",
    "unit",
    "answered_at",
    "year",
    "quarter",
    "month",
    *SCORES,
    "flagged",
    "restricted",
]
COLUMNS = ", ".join(_NAMES)


class SqlSurveyView(SqlView):
    name = "surveys"
    tables = {
        "surveys": (
            "CREATE TABLE {t} (id UUID PRIMARY KEY, tracking_number TEXT NOT NULL, "
            "unit TEXT NOT NULL, answered_at TIMESTAMPTZ NOT NULL, year INTEGER NOT NULL, "
            "quarter INTEGER NOT NULL, month INTEGER NOT NULL, "
            + "".join(f"{s} INTEGER NOT NULL, " for s in SCORES)
            + "flagged BOOLEAN NOT NULL, restricted BOOLEAN NOT NULL);"
            "CREATE INDEX {t}_period ON {t} (year, quarter, unit);"
            "CREATE INDEX {t}_flagged ON {t} (unit, flagged, answered_at)"
        ),
        "cases": "CREATE TABLE {t} (id UUID PRIMARY KEY, state BYTEA NOT NULL)",
    }

    def case_states(self, ids: Collection[UUID]) -> dict[UUID, Complaint]:
        return self.cached_states(ids, self._load_states)

    def _load_states(self, ids: list[UUID]) -> dict[UUID, Complaint]:
        with self.db.transaction() as cursor:
            rows = rows_in(self.db, cursor, self.t("cases"), "id", ids, "id, state")
        return {_uuid(r[0]): pickle.loads(bytes(r[1])) for r in rows}

    def write(self, cursor: Cursor, changes: SurveyChanges) -> None:
        rows = [_values(row) for row in changes.rows.values()]
        if rows:
            marks = ", ".join("%s" for _ in _NAMES)
            updates = ", ".join(f"{n} = excluded.{n}" for n in _NAMES[1:])
            cursor.executemany(
                f"INSERT INTO {self.t('surveys')} ({COLUMNS}) VALUES ({marks}) "
                f"ON CONFLICT (id) DO UPDATE SET {updates}",
                rows,
            )
        if changes.restricted:
            cursor.executemany(
                f"UPDATE {self.t('surveys')} SET restricted = %s WHERE id = %s",
                [[restricted, case_id] for case_id, restricted in changes.restricted.items()],
            )
        states = [[case_id, pickled(state)] for case_id, state in changes.states.items()]
        if states:
            cursor.executemany(
                f"INSERT INTO {self.t('cases')} (id, state) VALUES (%s, %s) "
                "ON CONFLICT (id) DO UPDATE SET state = excluded.state",
                states,
            )

    def _where(self, query: SurveyQuery, restricted: bool | None) -> tuple[str, list[Any]]:
        where, params = ["1 = 1"], []
        for column, value in (
            ("year", query.year),
            ("quarter", query.quarter),
            ("unit", query.unit),
        ):
            if value is not None:
                where.append(f"{column} = %s")
                params.append(value)
        if query.flagged_only:
            where.append("flagged = %s")
            params.append(True)
        if restricted is not None:
            where.append("restricted = %s")
            params.append(restricted)
        return " AND ".join(where), params

    def surveys(self, query: SurveyQuery) -> list[SurveyRow]:
        where, params = self._where(query, None if query.include_restricted else False)
        limit = ""
        if query.limit is not None:
            limit = " LIMIT %s"
            params.append(query.limit)
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT {COLUMNS} FROM {self.t('surveys')} WHERE {where} "
                f"ORDER BY answered_at DESC, id{limit}",
                params,
            )
            return [_row(r) for r in cursor.fetchall()]

    def count_restricted(self, query: SurveyQuery) -> int:
        where, params = self._where(query, True)
        with self.db.transaction() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {self.t('surveys')} WHERE {where}", params)
            found = cursor.fetchone()
        return int(found[0]) if found else 0


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _values(row: SurveyRow) -> list[Any]:
    return [
        row.id,
        row.tracking_number,
        row.unit,
        row.answered_at,
        row.year,
        row.quarter,
        row.month,
        *row.scores,
        row.flagged,
        row.restricted,
    ]


def _row(values: tuple[Any, ...]) -> SurveyRow:
    data = dict(zip(_NAMES, values, strict=True))
    return SurveyRow(
        id=_uuid(data["id"]),
        tracking_number=data["tracking_number"],
        unit=data["unit"],
        answered_at=data["answered_at"],
        year=data["year"],
        quarter=data["quarter"],
        month=data["month"],
        scores=tuple(int(data[s]) for s in SCORES),
        flagged=bool(data["flagged"]),
        restricted=bool(data["restricted"]),
    )
