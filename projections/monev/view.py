"""The monev read model: one facts row per case, what quarterly and monthly recaps count."""

from __future__ import annotations

import calendar as month_calendar
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol
from uuid import UUID

from domain.complaint import Complaint
from projections.casework import CaseStates
from projections.runner import View

SLA_STAGES = ("acknowledge", "route", "first_follow_up", "close")
MET, MISSED, OPEN = "met", "missed", "open"


@dataclass(frozen=True)
class MonevFact:
    """A case as the recap counts it; no subject, reporter or description.

    ``days_to_*`` are working days from the receipt's local day to the event's local day (None
    while it has not happened); ``sla_*`` is ``met``, ``missed``, ``open``, or None for a stage
    the case never started (a first-contact answer is never routed).
    """

    id: UUID
    received_at: datetime
    year: int
    quarter: int
    month: int
    channel: str
    kind: str
    category: str
    intake_unit: str
    handling_unit: str
    restricted: bool
    status: str
    outcome: str | None
    duplicate: bool
    followed_up: bool
    days_to_acknowledge: int | None
    days_to_route: int | None
    days_to_close: int | None
    sla_acknowledge: str | None
    sla_route: str | None
    sla_first_follow_up: str | None
    sla_close: str | None
    # Standard answers used on the case, each use as "<template id>@<version>", in order.
    templates: tuple[str, ...] = ()

    def sla(self, stage: str) -> str | None:
        return getattr(self, f"sla_{stage}")  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Period:
    """A calendar quarter (triwulan) or month of a year; exactly one of the two."""

    year: int
    quarter: int | None = None
    month: int | None = None

    def __post_init__(self) -> None:
        if (self.quarter is None) == (self.month is None):
            raise ValueError("give exactly one of quarter and month")
        if self.quarter is not None and not 1 <= self.quarter <= 4:
            raise ValueError(f"quarter must be 1..4, got {self.quarter}")
        if self.month is not None and not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1..12, got {self.month}")

    @property
    def months(self) -> tuple[int, ...]:
        if self.month is not None:
            return (self.month,)
        assert self.quarter is not None
        first = 3 * self.quarter - 2
        return (first, first + 1, first + 2)

    @property
    def first_day(self) -> date:
        return date(self.year, self.months[0], 1)

    @property
    def last_day(self) -> date:
        last = self.months[-1]
        return date(self.year, last, month_calendar.monthrange(self.year, last)[1])

    @property
    def key(self) -> str:
        """A short name for files: ``2026-Q4`` or ``2026-11``."""
        if self.quarter is not None:
            return f"{self.year}-Q{self.quarter}"
        return f"{self.year}-{self.month:02d}"

    def contains(self, fact: MonevFact) -> bool:
        if fact.year != self.year:
            return False
        if self.quarter is not None:
            return fact.quarter == self.quarter
        return fact.month == self.month


@dataclass
class MonevChanges:
    facts: dict[UUID, MonevFact] = field(default_factory=dict)
    states: dict[UUID, Complaint] = field(default_factory=dict)


class MonevView(View, CaseStates, Protocol):
    def facts(self, period: Period, unit: str | None = None) -> list[MonevFact]:
        """Facts of the cases received in ``period`` (the intake unit's local time), by id.

        With ``unit``, only cases whose intake or handling unit it is. Restricted cases are
        included: the report decides who sees them and says how many it left out.
        """
        ...

    def facts_of(self, ids: Collection[UUID]) -> dict[UUID, MonevFact]: ...
