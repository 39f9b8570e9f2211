"""Keeps each open case's open SLA stages, with their due instants, up to date from its events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from domain.calendar import WorkingCalendar
from domain.complaint import Complaint
from domain.service_levels import SlaPolicy, due_soon_from
from projections.casework import is_case_event, replay, stages
from projections.runner import LoggedEvent
from projections.sla.view import SlaChanges, SlaRow, SlaView


class SlaProjection:
    name = "sla"
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

    def process(self, events: Sequence[LoggedEvent], view: SlaView) -> SlaChanges:
        changes = SlaChanges()
        for case_id, (case, at) in replay(events, view).items():
            changes.rows[case_id] = self.rows(case, at, events)
            changes.states[case_id] = case
        return changes

    def rows(
        self, case: Complaint, at: datetime, batch: Sequence[LoggedEvent] = ()
    ) -> list[SlaRow]:
        """The case's stages still open after its event at ``at`` (none once it is closed).

        Computed as of the event's own time: once every pause has ended, a stage's due instant
        no longer depends on the moment it is computed, so the timer can wait for it.
        """
        if not case.is_open:
            return []
        calendar = self.calendar()
        open_stages = stages(batch, case, at, self.policy_for, calendar, self.zone_of)
        return [
            SlaRow(
                case_id=case.id,
                stage=stage.stage.value,
                tracking_number=case.tracking_number,
                unit=case.handling_unit,
                zone=stage.zone,
                due_at=stage.due_at,
                due_soon_at=due_soon_from(stage.due_at, calendar, stage.zone),
                paused=case.waiting_for_complainant,
                restricted=case.is_restricted,
            )
            for stage in open_stages
            if stage.completed_at is None
        ]
