"""Keeps the queue items up to date from the case events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from domain.calendar import WorkingCalendar
from domain.complaint import Complaint
from domain.service_levels import SlaPolicy, due_soon_from, next_due
from projections.casework import is_case_event, replay, stages
from projections.queues.view import QueueChanges, QueueItem, QueueView
from projections.runner import LoggedEvent


class QueueProjection:
    name = "queues"
    version = 2  # 2: a reopened first-contact case is due for routing from the reopening

    def __init__(
        self,
        policy_for: Callable[[int], SlaPolicy],
        calendar: Callable[[], WorkingCalendar],
        zone_of: Callable[[str], str],
    ) -> None:
        self.policy_for = policy_for
        self.calendar = calendar
        self.zone_of = zone_of

    def wants(self, topic: str) -> bool:
        return is_case_event(topic)

    def process(self, events: Sequence[LoggedEvent], view: QueueView) -> QueueChanges:
        changes = QueueChanges()
        for case_id, (case, at) in replay(events, view).items():
            changes.items[case_id] = self.item(case, at, events)
            changes.states[case_id] = case
        return changes

    def item(self, case: Complaint, at: datetime, batch: Sequence[LoggedEvent] = ()) -> QueueItem:
        due = due_soon = stage = None
        if case.is_open:
            calendar = self.calendar()
            upcoming = next_due(stages(batch, case, at, self.policy_for, calendar, self.zone_of))
            if upcoming is not None:
                stage = upcoming.stage.value
                due = upcoming.due_at
                due_soon = due_soon_from(upcoming.due_at, calendar, upcoming.zone)
        return QueueItem(
            id=case.id,
            tracking_number=case.tracking_number,
            status=case.status.value,
            kind=case.kind.value,
            category=case.category.value,
            channel=case.channel.value,
            subject=case.subject,
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
