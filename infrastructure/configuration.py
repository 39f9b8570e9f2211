"""The calendar and policy book as the agency's stored configuration says, kept fresh."""

from __future__ import annotations

from collections.abc import Callable

from domain.calendar import WorkingCalendar
from domain.service_levels import SlaPolicy
from infrastructure.calendars import HolidayCalendars
from infrastructure.reference_data import PolicyBook


class LiveConfiguration:
    """What the application and the read models consult for calendars and SLA policies.

    Each look-up first lets ``refresher`` (the administration's ``refresh_if_stale``) pick up
    closures and policies another process stored; a policy version not known here (a case filed
    through another process under a newer policy) forces a refresh at once.
    """

    def __init__(self, calendars: HolidayCalendars, policies: PolicyBook) -> None:
        self.calendars = calendars
        self.policies = policies
        self.refresher: Callable[[], None] | None = None
        self.loader: Callable[[], None] | None = None

    def _refresh(self) -> None:
        if self.refresher is not None:
            self.refresher()

    def calendar(self) -> WorkingCalendar:
        self._refresh()
        return self.calendars.calendar()

    def current(self) -> SlaPolicy:
        self._refresh()
        return self.policies.current()

    def get(self, version: int) -> SlaPolicy:
        try:
            return self.policies.get(version)
        except KeyError:
            if self.loader is None:
                raise
            self.loader()
            return self.policies.get(version)
