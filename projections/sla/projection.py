"""Keeps each open case's open SLA stages, with their due instants, up to date from its events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.complaint import Complaint
from domain.service_levels import due_soon_from
from projections.casework import CaseProjection
from projections.runner import LoggedEvent
from projections.sla.view import SlaChanges, SlaRow


class SlaProjection(CaseProjection):
    name = "sla"
    version = 2  # 2: a reopened first-contact case is due for routing from the reopening

    def new_changes(self) -> SlaChanges:
        return SlaChanges()

    def record(
        self, changes: SlaChanges, case: Complaint, at: datetime, batch: Sequence[LoggedEvent]
    ) -> None:
        changes.rows[case.id] = self.rows(case, at, batch)

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
        open_stages = self.stages(batch, case, at)
        return [
            SlaRow(
                case_id=case.id,
                stage=stage.stage.value,
                tracking_number=case.tracking_number,
                unit=case.handling_unit,
                zone=stage.zone,
                due_at=stage.due_at,
                due_soon_at=due_soon_from(
                    stage.due_at, calendar.for_unit(stage.unit, stage.zone), stage.zone
                ),
                paused=case.waiting_for_complainant,
                restricted=case.is_restricted,
            )
            for stage in open_stages
            if stage.completed_at is None
        ]
