"""The SLA view in memory, for fast tests."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from projections.casework import MemoryCaseStates
from projections.sla.alerts import AlertStore, alert_id
from projections.sla.view import BREACHED, SlaChanges, SlaQuery, SlaRow


class MemorySlaView(MemoryCaseStates):
    def __init__(self, alerts: AlertStore | None = None) -> None:
        super().__init__()
        self._rows: dict[UUID, list[SlaRow]] = {}
        self._alerts = alerts

    def apply(self, changes: SlaChanges) -> None:
        for case_id, rows in changes.rows.items():
            if rows:
                self._rows[case_id] = list(rows)
            else:
                self._rows.pop(case_id, None)

    def _all(self) -> list[SlaRow]:
        with self._lock:
            return [row for rows in self._rows.values() for row in rows]

    def flagged(self, query: SlaQuery) -> list[SlaRow]:
        chosen = [
            row
            for row in self._all()
            if not row.paused
            and row.due_soon_at <= query.at
            and (query.units is None or row.unit in query.units)
            and (query.include_restricted or not row.restricted)
            and (query.state is None or row.state(query.at) == query.state)
        ]
        chosen.sort(key=_order)
        return chosen[: query.limit]

    def unalerted(self, now: datetime, limit: int) -> list[tuple[SlaRow, str]]:
        candidates = []
        for row in self.flagged(SlaQuery(now, include_restricted=True, limit=10**9)):
            state = row.state(now)
            if state is not None:
                candidates.append((row, state))
        ids = [alert_id(r.case_id, r.stage, s, r.due_at) for r, s in candidates]
        raised = self._alerts.raised(ids) if self._alerts is not None else set()
        pending = [c for c, i in zip(candidates, ids, strict=True) if i not in raised]
        pending.sort(key=lambda c: c[1] != BREACHED)  # stable: by due instant within each state
        return pending[:limit]

    def stages(self, case_id: UUID) -> list[SlaRow]:
        with self._lock:
            return sorted(self._rows.get(case_id, []), key=lambda r: r.stage)

    def waiting_case_ids(self) -> list[UUID]:
        with self._lock:
            return sorted(i for i, rows in self._rows.items() if any(r.paused for r in rows))


def _order(row: SlaRow) -> tuple[datetime, str, str]:
    return row.due_at, str(row.case_id), row.stage
