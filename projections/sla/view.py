"""The SLA read model: one row per open stage of each open case, what the alert timer scans."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.complaint import Complaint
from projections.casework import CaseStates
from projections.runner import View

DUE_SOON = "due_soon"
BREACHED = "breached"
ALERT_STATES = (DUE_SOON, BREACHED)


@dataclass(frozen=True)
class SlaRow:
    """A stage not completed yet, of a case that is open, with its due instants."""

    case_id: UUID
    stage: str
    tracking_number: str
    unit: str
    zone: str
    due_at: datetime
    due_soon_at: datetime
    paused: bool
    restricted: bool

    def state(self, now: datetime) -> str | None:
        """``breached``, ``due_soon`` or None (on track, or paused: a paused stage never alerts)."""
        if self.paused:
            return None
        if now > self.due_at:
            return BREACHED
        if now >= self.due_soon_at:
            return DUE_SOON
        return None


@dataclass
class SlaChanges:
    """Per touched case: all of its open stages now (replacing the old ones), and its state."""

    rows: dict[UUID, list[SlaRow]] = field(default_factory=dict)
    states: dict[UUID, Complaint] = field(default_factory=dict)


@dataclass(frozen=True)
class SlaQuery:
    """Open, not paused stages due soon or breached at ``at``, of some units (None: every unit)."""

    at: datetime
    units: frozenset[str] | None = None
    include_restricted: bool = False
    state: str | None = None  # only ``due_soon`` or only ``breached`` ones
    limit: int = 10_000


class SlaView(View, CaseStates, Protocol):
    def flagged(self, query: SlaQuery) -> list[SlaRow]:
        """Stages matching ``query`` (due_soon_at <= at), by (due_at, case id, stage)."""
        ...

    def unalerted(self, now: datetime, limit: int) -> list[tuple[SlaRow, str]]:
        """Stages whose state at ``now`` calls for an alert the alert log does not hold yet."""
        ...

    def stages(self, case_id: UUID) -> list[SlaRow]:
        """The open stages of one case, by stage name."""
        ...

    def waiting_case_ids(self) -> list[UUID]:
        """The open cases waiting for the complainant (their stages paused), by id."""
        ...
