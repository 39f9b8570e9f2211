"""The working state of a case inside a read model: the Complaint replayed, personal data dropped.

Queue, SLA and monev rows are derived from the whole case (its routings, pauses, policy), so
their projections replay each case's events onto a copy of the aggregate kept in their own view.
The reporter and the free-text description never reach a read model.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.calendar import WorkingCalendar
from domain.complaint import Complaint
from domain.service_levels import SlaPolicy, StageStatus, service_levels
from projections.runner import LoggedEvent, memo_of

COMPLAINT_TOPIC_PREFIX = get_topic(Complaint) + "."


def is_case_event(topic: str) -> bool:
    return topic.startswith(COMPLAINT_TOPIC_PREFIX)


class CaseStates(Protocol):
    def case_states(self, ids: Collection[UUID]) -> dict[UUID, Complaint]:
        """The stored working state of each case that has one (copies: safe to change)."""
        ...


def replay(
    events: Sequence[LoggedEvent], states: CaseStates
) -> dict[UUID, tuple[Complaint, datetime]]:
    """Apply a batch of case events to their cases; each touched case with its last event time.

    Projections at the same position share the result (their states before the batch are the
    same replay of the same events), so a batch is replayed once however many read models take
    it in. A state that drifted anyway is caught by the library's version check on the next event.
    """
    memo = memo_of(events)
    if memo is not None and "replay" in memo:
        return memo["replay"]  # type: ignore[no-any-return]
    cases = states.case_states({e.originator_id for e in events})
    touched: dict[UUID, tuple[Complaint, datetime]] = {}
    for logged in events:
        event = logged.event
        case = event.mutate(cases.get(logged.originator_id))
        case.reporter = None
        case.description = ""
        cases[logged.originator_id] = case
        touched[logged.originator_id] = (case, event.timestamp)
    if memo is not None:
        memo["replay"] = touched
    return touched


def stages(
    events: Sequence[LoggedEvent],
    case: Complaint,
    at: datetime,
    policy_for: Callable[[int], SlaPolicy],
    calendar: WorkingCalendar,
    zone_of: Callable[[str], str],
) -> list[StageStatus]:
    """The case's SLA stages as of ``at``, computed once per batch for every projection."""
    memo = memo_of(events)
    key = ("stages", case.id, at)
    if memo is not None and key in memo:
        return memo[key]  # type: ignore[no-any-return]
    found = service_levels(case, policy_for(case.policy_version), calendar, zone_of, at)
    if memo is not None:
        memo[key] = found
    return found
