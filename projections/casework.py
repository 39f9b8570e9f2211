"""The working state of a case inside a read model: the Complaint replayed, personal data dropped.

Queue, SLA and monev rows are derived from the whole case (its routings, pauses, policy), so
their projections replay each case's events onto a copy of the aggregate kept in their own view.
The reporter and the free text (description, answer) never reach a read model.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any, Protocol
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
        case.answer = None
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


class CaseProjection:
    """Base of the read models derived from whole cases (queues, SLA stages, monev facts).

    ``process`` replays the batch (shared with the other case read models at the same position)
    and asks the subclass for each touched case's rows; the case's state goes along with them.
    """

    name: str
    version: int

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

    def process(self, events: Sequence[LoggedEvent], view: CaseStates) -> Any:
        changes = self.new_changes()
        for case_id, (case, at) in replay(events, view).items():
            self.record(changes, case, at, events)
            changes.states[case_id] = case
        return changes

    def stages(
        self, batch: Sequence[LoggedEvent], case: Complaint, at: datetime
    ) -> list[StageStatus]:
        return stages(batch, case, at, self.policy_for, self.calendar(), self.zone_of)

    def new_changes(self) -> Any:
        """An empty changes object with a ``states`` dict."""
        raise NotImplementedError

    def record(
        self, changes: Any, case: Complaint, at: datetime, batch: Sequence[LoggedEvent]
    ) -> None:
        """Put the rows of ``case`` as of its event at ``at`` into ``changes``."""
        raise NotImplementedError


class MemoryCaseStates:
    """Base of the in-memory views of case read models: states, position, one lock."""

    def __init__(self) -> None:
        self._states: dict[UUID, Complaint] = {}
        self._position = 0
        self._lock = threading.Lock()

    def position(self) -> int:
        return self._position

    def case_states(self, ids: Collection[UUID]) -> dict[UUID, Complaint]:
        with self._lock:
            return {i: copy.deepcopy(self._states[i]) for i in ids if i in self._states}

    def commit(self, changes: Any, position: int) -> None:
        with self._lock:
            if position <= self._position:
                raise ValueError(f"position {position} is not after {self._position}")
            self.apply(changes)
            self._states.update(changes.states)
            self._position = position

    def apply(self, changes: Any) -> None:
        """Take the changes' rows in (called under the lock)."""
        raise NotImplementedError
