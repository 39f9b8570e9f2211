"""The timer's side of the missing-data loop: archive the cases silent too long.

Candidates come from a read model (the cases it shows waiting for the complainant); each is
then loaded from its own events and decided there, so a lagging read model can delay an
archive by one scan but never cause a wrong one. Saving with the loaded version makes two
timers running at once safe: one close wins, the other finds the case closed and moves on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application.complaints import Complaints
from domain.archiving import ARCHIVE_ANSWER, is_due_for_archive
from domain.complaint import Complaint
from domain.values import SYSTEM_ACTOR
from domain.vocabulary import Outcome

log = logging.getLogger("aduan.archive")
_SAVE_ATTEMPTS = 5


class SilenceArchiver:
    """Closes, with outcome ``archived_missing_data``, each waiting case past its silence limit."""

    def __init__(self, complaints: Complaints, waiting: Callable[[], Iterable[UUID]]) -> None:
        self.complaints = complaints
        self.waiting = waiting  # ids of the cases a read model shows waiting for the complainant

    def tick(self, now: datetime) -> list[UUID]:
        """One scan at ``now``; the ids of the cases it archived."""
        archived = []
        for case_id in self.waiting():
            if self.archive_if_silent(case_id, now):
                archived.append(case_id)
        return archived

    def archive_if_silent(self, case_id: UUID, now: datetime) -> bool:
        """Archive one case if, loaded from its events, it is due at ``now``; True if this did."""
        complaints = self.complaints
        for _ in range(_SAVE_ATTEMPTS):
            case = self._load(case_id)
            if case is None or not self._due(case, now):
                return False
            policy = complaints.policies.get(case.policy_version)
            at = max(now, case.modified_on)  # never before the case's last event
            case.close(
                outcome=Outcome.ARCHIVED_MISSING_DATA,
                answer=ARCHIVE_ANSWER.format(days=policy.archive_after_silence),
                actor=SYSTEM_ACTOR,
                at=at,
                sealer=complaints.personal_data.sealer_for(case, at),
            )
            try:
                complaints.save(case)
            except IntegrityError:
                continue  # another writer got there first: decide again on what it stored
            log.info("case %s archived: no data from the complainant", case_id)
            return True
        return False

    def _due(self, case: Complaint, now: datetime) -> bool:
        complaints = self.complaints
        return is_due_for_archive(
            case,
            complaints.policies.get(case.policy_version),
            complaints.calendars.calendar(),
            complaints.units.zone_of,
            now,
        )

    def _load(self, case_id: UUID) -> Complaint | None:
        try:
            case: Any = self.complaints.repository.get(case_id)
        except AggregateNotFoundError:
            return None
        return case if isinstance(case, Complaint) else None
