"""The working state of a case inside a read model: the Complaint replayed, personal data dropped.

Queue, SLA and monev rows are derived from the whole case (its routings, pauses, policy), so
their projections replay each case's events onto a copy of the aggregate kept in their own view.
The reporter and the free-text description never reach a read model.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.complaint import Complaint
from projections.runner import LoggedEvent

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
    """Apply a batch of case events to their cases; each touched case with its last event time."""
    cases = states.case_states({e.originator_id for e in events})
    touched: dict[UUID, tuple[Complaint, datetime]] = {}
    for logged in events:
        event = logged.event
        case = event.mutate(cases.get(logged.originator_id))
        case.reporter = None
        case.description = ""
        cases[logged.originator_id] = case
        touched[logged.originator_id] = (case, event.timestamp)
    return touched
