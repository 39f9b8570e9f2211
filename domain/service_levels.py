"""Service levels: versioned policies and each stage's due instant and state for a case.

Rules (DESIGN.md): stages are counted in working days in the handling unit's time zone; the first
follow-up counts from the latest routing; the close stage counts again from a reopening; a wait
for the complainant's data pauses every open stage and adds the whole working days it lasted. A
stage with one working day or less left is ``due_soon``; past its due instant, ``breached``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.calendar import (
    WorkingCalendar,
    add_working_days,
    local_day,
    working_days_between,
)
from domain.complaint import Complaint, Pause
from domain.vocabulary import Kind, Stage, StageState

CloseKey = str  # "information_request", "complaint", "complaint_inspection", "suggestion"


@dataclass(frozen=True)
class SlaPolicy:
    """Working-day periods of each stage; a case keeps the version it started under."""

    version: int
    acknowledge: int = 3
    route: int = 3
    first_follow_up: int = 5
    close: Mapping[CloseKey, int] = field(
        default_factory=lambda: {
            "information_request": 5,
            "complaint": 14,
            "complaint_inspection": 60,
            "suggestion": 14,
        }
    )
    archive_after_silence: int = 10

    def close_period(self, kind: Kind, needs_inspection: bool) -> int:
        if kind == Kind.COMPLAINT and needs_inspection:
            return self.close["complaint_inspection"]
        return self.close[kind.value]


@dataclass(frozen=True)
class StageStatus:
    stage: Stage
    started_at: datetime
    due_at: datetime
    state: StageState
    completed_at: datetime | None
    zone: str
    unit: str = ""  # the unit whose calendar counts the stage (its own closures included)


ZoneOf = Callable[[str], str]


def _paused_days(
    pauses: list[Pause], start: datetime, until: datetime, calendar: WorkingCalendar, zone: str
) -> int:
    """Whole working days spent waiting for the complainant between ``start`` and ``until``."""
    total = 0
    for pause in pauses:
        began = max(pause.started, start)
        ended = min(pause.ended or until, until)
        if ended > began:
            total += working_days_between(
                local_day(began, zone), local_day(ended, zone), calendar, zone
            )
    return total


def _unit_at(case: Complaint, instant: datetime | None) -> str:
    unit = case.intake_unit
    for routing in case.routings:
        if instant is not None and routing.at > instant:
            break
        unit = routing.to_unit
    return unit


def _stage(
    case: Complaint,
    stage: Stage,
    started: datetime,
    days: int,
    completed: datetime | None,
    calendar: WorkingCalendar,
    zone_of: ZoneOf,
    now: datetime,
) -> StageStatus:
    unit = _unit_at(case, completed)
    zone = zone_of(unit)
    calendar = calendar.for_unit(unit, zone)
    until = completed or now
    paused = _paused_days(case.pauses, started, until, calendar, zone)
    due = add_working_days(started, days + paused, calendar, zone)
    if completed is not None:
        state = StageState.MET if completed <= due else StageState.MISSED
    elif case.waiting_for_complainant:
        state = StageState.PAUSED
    elif now > due:
        state = StageState.BREACHED
    elif working_days_between(local_day(now, zone), local_day(due, zone), calendar, zone) <= 1:
        state = StageState.DUE_SOON
    else:
        state = StageState.ON_TRACK
    return StageStatus(stage, started, due, state, completed, zone, unit)


def service_levels(
    case: Complaint,
    policy: SlaPolicy,
    calendar: WorkingCalendar,
    zone_of: ZoneOf,
    now: datetime,
) -> list[StageStatus]:
    """Every stage the case has started, with its due instant and its state at ``now``."""
    if policy.version != case.policy_version:
        raise ValueError(f"case runs under policy {case.policy_version}, got {policy.version}")
    closed = case.closed_at
    stages = [
        _stage(
            case,
            Stage.ACKNOWLEDGE,
            case.received_at,
            policy.acknowledge,
            case.acknowledged_at or closed,
            calendar,
            zone_of,
            now,
        ),
    ]
    first_routing = case.routings[0].at if case.routings else None
    if first_routing is not None or closed is None:
        # A case answered at first contact and then reopened is routed from the reopening on.
        route_from = case.received_at
        if case.reopened_at is not None and (
            first_routing is None or first_routing > case.reopened_at
        ):
            route_from = case.reopened_at
        stages.append(
            _stage(
                case,
                Stage.ROUTE,
                route_from,
                policy.route,
                first_routing,
                calendar,
                zone_of,
                now,
            )
        )
    if case.routings:
        latest = case.routings[-1].at
        answered = [f.at for f in case.follow_ups if f.at >= latest]
        done = min([*answered, *([closed] if closed and closed >= latest else [])], default=None)
        stages.append(
            _stage(
                case,
                Stage.FIRST_FOLLOW_UP,
                latest,
                policy.first_follow_up,
                done,
                calendar,
                zone_of,
                now,
            )
        )
    close_from = case.reopened_at or case.received_at
    stages.append(
        _stage(
            case,
            Stage.CLOSE,
            close_from,
            policy.close_period(case.kind, case.needs_inspection),
            closed,
            calendar,
            zone_of,
            now,
        )
    )
    return stages


def next_due(stages: list[StageStatus]) -> StageStatus | None:
    """The open stage due first, for queues and alerts."""
    open_stages = [s for s in stages if s.completed_at is None]
    return min(open_stages, key=lambda s: s.due_at, default=None)


def due_soon_from(due_at: datetime, calendar: WorkingCalendar, zone: str) -> datetime:
    """The first instant a stage due at ``due_at`` has one working day or less left.

    ``_stage`` calls a stage due soon when at most one working day lies in (today, due day];
    this is the start of the earliest local day for which that holds, so a timer can wait for it.
    """
    due_day = local_day(due_at, zone)
    day = due_day
    for _ in range(MAX_LOOKBACK_DAYS):
        earlier = day - timedelta(days=1)
        if working_days_between(earlier, due_day, calendar, zone) > 1:
            break
        day = earlier
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone))


MAX_LOOKBACK_DAYS = 60
