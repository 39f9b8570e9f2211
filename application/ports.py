"""What the application needs from the outside world, as protocols infrastructure implements."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from application.access import Principal
from domain.calendar import WorkingCalendar
from domain.service_levels import SlaPolicy


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, time-zone aware."""
        ...


class Randomness(Protocol):
    def token_bytes(self, n: int) -> bytes: ...


class PolicyBook(Protocol):
    def current(self) -> SlaPolicy: ...

    def get(self, version: int) -> SlaPolicy: ...


class Calendars(Protocol):
    def calendar(self) -> WorkingCalendar:
        """The working-day calendar as it stands now (holidays and closures)."""
        ...


class Positions(Protocol):
    """Where events sit in the application's global log (their notification ids)."""

    def positions(self, originator_id: UUID) -> dict[int, int]:
        """Version → position for every event of one aggregate."""
        ...


class Authenticator(Protocol):
    def authenticate(self, token: str) -> Principal:
        """The caller a bearer token names; raises AuthenticationFailed."""
        ...
