"""The survey view in memory, for fast tests."""

from __future__ import annotations

import dataclasses
from uuid import UUID

from projections.casework import MemoryCaseStates
from projections.surveys.view import SurveyChanges, SurveyQuery, SurveyRow


class MemorySurveyView(MemoryCaseStates):
    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[UUID, SurveyRow] = {}

    def apply(self, changes: SurveyChanges) -> None:
        self._rows.update(changes.rows)
        for case_id, restricted in changes.restricted.items():
            if case_id in self._rows:
                self._rows[case_id] = dataclasses.replace(
                    self._rows[case_id], restricted=restricted
                )

    def _matching(self, query: SurveyQuery) -> list[SurveyRow]:
        with self._lock:
            rows = list(self._rows.values())
        return [
            r
            for r in rows
            if (query.year is None or r.year == query.year)
            and (query.quarter is None or r.quarter == query.quarter)
            and (query.unit is None or r.unit == query.unit)
            and (r.flagged or not query.flagged_only)
        ]

    def surveys(self, query: SurveyQuery) -> list[SurveyRow]:
        rows = [r for r in self._matching(query) if query.include_restricted or not r.restricted]
        rows.sort(key=lambda r: str(r.id))
        rows.sort(key=lambda r: r.answered_at, reverse=True)
        return rows if query.limit is None else rows[: query.limit]

    def count_restricted(self, query: SurveyQuery) -> int:
        return sum(r.restricted for r in self._matching(query))
