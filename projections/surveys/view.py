"""The survey read model: one row per case whose complainant answered the satisfaction survey."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.complaint import Complaint
from projections.casework import CaseStates
from projections.runner import View


@dataclass(frozen=True)
class SurveyRow:
    """A survey as the IKM counts it; no comment (free text never reaches a read model).

    ``unit`` is the unit that handled the case when the survey was answered; ``year``,
    ``quarter`` and ``month`` are the survey date's, in that unit's time zone (its IKM period).
    ``scores`` are the nine scores in ``SURVEY_ELEMENTS`` order; ``flagged``: a 1 among them.
    """

    id: UUID
    tracking_number: str
    unit: str
    answered_at: datetime
    year: int
    quarter: int
    month: int
    scores: tuple[int, ...]
    flagged: bool
    restricted: bool


@dataclass(frozen=True)
class SurveyQuery:
    """Surveys of a year (and quarter), of a unit (None: all), optionally only flagged ones."""

    year: int | None = None
    quarter: int | None = None
    unit: str | None = None
    flagged_only: bool = False
    include_restricted: bool = True
    limit: int | None = None


@dataclass
class SurveyChanges:
    rows: dict[UUID, SurveyRow] = field(default_factory=dict)
    # Cases surveyed earlier whose later events may change whether they are restricted.
    restricted: dict[UUID, bool] = field(default_factory=dict)
    states: dict[UUID, Complaint] = field(default_factory=dict)


class SurveyView(View, CaseStates, Protocol):
    def surveys(self, query: SurveyQuery) -> list[SurveyRow]:
        """Matching rows, newest survey first (then by id); restricted ones as the query says."""
        ...

    def count_restricted(self, query: SurveyQuery) -> int:
        """How many rows of the query (ignoring ``include_restricted``) are restricted."""
        ...
