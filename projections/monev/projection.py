"""Keeps one monev facts row per case up to date from the case events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.calendar import WorkingCalendar, local_day, working_days_between
from domain.complaint import Complaint
from domain.service_levels import SlaPolicy, StageStatus
from domain.vocabulary import Outcome, StageState
from projections.casework import is_case_event, replay
from projections.casework import stages as case_stages
from projections.monev.view import MET, MISSED, OPEN, MonevChanges, MonevFact, MonevView
from projections.runner import LoggedEvent

_DONE = {StageState.MET: MET, StageState.MISSED: MISSED}


class MonevProjection:
    name = "monev"
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

    def process(self, events: Sequence[LoggedEvent], view: MonevView) -> MonevChanges:
        changes = MonevChanges()
        for case_id, (case, at) in replay(events, view).items():
            changes.facts[case_id] = self.fact(case, at, events)
            changes.states[case_id] = case
        return changes

    def fact(self, case: Complaint, at: datetime, batch: Sequence[LoggedEvent] = ()) -> MonevFact:
        """The case's facts as of its latest event (``at``): never the wall clock."""
        calendar = self.calendar()
        stages = {
            s.stage.value: s
            for s in case_stages(batch, case, at, self.policy_for, calendar, self.zone_of)
        }
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
        )


def _sla(status: StageStatus | None) -> str | None:
    if status is None:
        return None
    return _DONE.get(status.state, OPEN)
