"""Keeps the queue items up to date from the case events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.complaint import Complaint
from domain.service_levels import due_soon_from, next_due
from projections.casework import CaseProjection
from projections.queues.view import QueueChanges, QueueItem
from projections.read_side import storable_text
from projections.runner import LoggedEvent


class QueueProjection(CaseProjection):
    name = "queues"
    version = 4  # 2: a reopened first-contact case is due for routing from the reopening;
    # 3: the page index is (handling_unit, sort_key, id), so existing stores rebuild to get it;
    # 4: counts per (unit, restricted, status) kept in a table of their own

    def new_changes(self) -> QueueChanges:
        return QueueChanges()

    def record(
        self, changes: QueueChanges, case: Complaint, at: datetime, batch: Sequence[LoggedEvent]
    ) -> None:
        changes.items[case.id] = self.item(case, at, batch)

    def item(self, case: Complaint, at: datetime, batch: Sequence[LoggedEvent] = ()) -> QueueItem:
        due = due_soon = stage = None
        if case.is_open:
            calendar = self.calendar()
            upcoming = next_due(self.stages(batch, case, at))
            if upcoming is not None:
                stage = upcoming.stage.value
                due = upcoming.due_at
                unit_calendar = calendar.for_unit(upcoming.unit, upcoming.zone)
                due_soon = due_soon_from(upcoming.due_at, unit_calendar, upcoming.zone)
        return QueueItem(
            id=case.id,
            tracking_number=case.tracking_number,
            status=case.status.value,
            kind=case.kind.value,
            category=case.category.value,
            channel=case.channel.value,
            subject=storable_text(case.subject),
            received_at=case.received_at,
            intake_unit=case.intake_unit,
            handling_unit=case.handling_unit,
            assignee=case.assignee,
            restricted=case.is_restricted,
            confidential=case.confidential,
            waiting_for_complainant=case.waiting_for_complainant,
            next_stage=stage,
            next_due_at=due,
            next_due_soon_at=due_soon,
            version=case.version,
        )
