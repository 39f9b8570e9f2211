"""Keeps one monev facts row per case up to date from the case events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.calendar import local_day, working_days_between
from domain.complaint import Complaint
from domain.service_levels import StageStatus
from domain.vocabulary import Outcome, StageState
from projections.casework import CaseProjection
from projections.monev.view import MET, MISSED, OPEN, MonevChanges, MonevFact
from projections.runner import LoggedEvent

_DONE = {StageState.MET: MET, StageState.MISSED: MISSED}


class MonevProjection(CaseProjection):
    name = "monev"
    # 2: a reopened first-contact case is due for routing from the reopening; 3: templates used
    version = 3

    def new_changes(self) -> MonevChanges:
        return MonevChanges()

    def record(
        self, changes: MonevChanges, case: Complaint, at: datetime, batch: Sequence[LoggedEvent]
    ) -> None:
        changes.facts[case.id] = self.fact(case, at, batch)

    def fact(self, case: Complaint, at: datetime, batch: Sequence[LoggedEvent] = ()) -> MonevFact:
        """The case's facts as of its latest event (``at``): never the wall clock."""
        calendar = self.calendar()
        stages = {s.stage.value: s for s in self.stages(batch, case, at)}
        received = case.received_at.astimezone(ZoneInfo(self.zone_of(case.intake_unit)))

        def days_to(stage: str) -> int | None:
            # Counted in the zone of the unit that handled the case when the stage was done.
            status = stages.get(stage)
            if status is None or status.completed_at is None:
                return None
            return working_days_between(
                local_day(case.received_at, status.zone),
                local_day(status.completed_at, status.zone),
                calendar,
                status.zone,
            )

        return MonevFact(
            id=case.id,
            received_at=case.received_at,
            year=received.year,
            quarter=(received.month - 1) // 3 + 1,
            month=received.month,
            channel=case.channel.value,
            kind=case.kind.value,
            category=case.category.value,
            intake_unit=case.intake_unit,
            handling_unit=case.handling_unit,
            restricted=case.is_restricted,
            status=case.status.value,
            outcome=case.outcome.value if case.outcome is not None else None,
            duplicate=case.outcome == Outcome.DUPLICATE,
            followed_up=bool(case.follow_ups),
            days_to_acknowledge=days_to("acknowledge"),
            days_to_route=days_to("route"),
            days_to_close=days_to("close"),
            sla_acknowledge=_sla(stages.get("acknowledge")),
            sla_route=_sla(stages.get("route")),
            sla_first_follow_up=_sla(stages.get("first_follow_up")),
            sla_close=_sla(stages.get("close")),
            templates=tuple(f"{t}@{v}" for t, v in getattr(case, "templates_used", ())),
        )


def _sla(status: StageStatus | None) -> str | None:
    if status is None:
        return None
    return _DONE.get(status.state, OPEN)
