"""The Open311 lists, served from the queue read model (and the SLA one for expected dates).

No table of its own: one bounded query on the live queue items (listable cases only), their
pickled states for the last-change instant, and one query for the close stages' due instants.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from application.open311 import ListedRequest, RequestQuery
from domain.vocabulary import OPEN_STATUSES, Channel, Status
from infrastructure.read_models import rows_in

_OPEN = sorted(s.value for s in OPEN_STATUSES)
_COLUMNS = "id, tracking_number, status, category, handling_unit, received_at"


class SqlOpen311Listing:
    def __init__(self, read_side: Any) -> None:
        self.read_side = read_side  # CatalogReadSide: the live views, generation by generation

    def find(self, query: RequestQuery) -> list[ListedRequest]:
        queues = self.read_side.view("queues")
        db = queues.db
        where = ["confidential = %s", "restricted = %s", "channel <> %s"]
        params: list[Any] = [False, False, Channel.WBS.value]
        if query.numbers is not None:
            condition, values = db.any_of("tracking_number", list(query.numbers))
            where.append(condition)
            params += values
        else:
            if query.categories:
                condition, values = db.any_of("category", list(query.categories))
                where.append(condition)
                params += values
            if query.open is not None:
                statuses = _OPEN if query.open else [Status.CLOSED.value]
                condition, values = db.any_of("status", statuses)
                where.append(condition)
                params += values
            if query.start is not None:
                where.append("received_at >= %s")
                params.append(query.start)
            if query.end is not None:
                where.append("received_at <= %s")
                params.append(query.end)
        with db.transaction() as cursor:
            cursor.execute(
                f"SELECT {_COLUMNS} FROM {queues.t('items')} WHERE {' AND '.join(where)} "
                "ORDER BY received_at DESC, tracking_number LIMIT %s OFFSET %s",
                [*params, query.limit, query.offset],
            )
            rows = cursor.fetchall()
        ids = [_uuid(r[0]) for r in rows]
        states = queues.case_states(ids)
        due = self._close_due([i for i, r in zip(ids, rows, strict=True) if r[2] in _OPEN])
        found = []
        for case_id, row in zip(ids, rows, strict=True):
            state = states.get(case_id)
            outcome = getattr(state, "outcome", None)
            found.append(
                ListedRequest(
                    tracking_number=row[1],
                    status=row[2],
                    outcome=outcome.value if outcome is not None else None,
                    category=row[3],
                    handling_unit=row[4],
                    received_at=row[5],
                    updated_at=state.modified_on if state is not None else row[5],
                    expected_at=due.get(case_id),
                )
            )
        return found

    def _close_due(self, ids: list[UUID]) -> dict[UUID, Any]:
        if not ids:
            return {}
        sla = self.read_side.view("sla")
        with sla.db.transaction() as cursor:
            rows = rows_in(
                sla.db, cursor, sla.t("stages"), "case_id", ids, "case_id, stage, due_at"
            )
        return {_uuid(r[0]): r[2] for r in rows if r[1] == "close"}


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
