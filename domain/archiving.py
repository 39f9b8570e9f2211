"""The missing-data rule: a case silent too long after a request for data is archived.

A request for data pauses the SLA clock; when the complainant sends nothing for the policy's
``archive_after_silence`` working days, counted in the handling unit's calendar and time zone
from the day of the request (that day never counts), the case is closed with the outcome
``archived_missing_data`` just after the last instant of the last of those days.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain.calendar import WorkingCalendar, add_working_days
from domain.complaint import Complaint
from domain.service_levels import SlaPolicy

ARCHIVE_ANSWER = (
    "The case was archived: the data requested from the complainant did not arrive within "
    "{days} working days. It may be filed again with the data."
)


def archive_due_at(
    case: Complaint,
    policy: SlaPolicy,
    calendar: WorkingCalendar,
    zone_of: Callable[[str], str],
) -> datetime | None:
    """The last instant the complainant may still answer; None when the case is not waiting."""
    if not case.is_open or not case.waiting_for_complainant:
        return None
    unit = case.handling_unit
    zone = zone_of(unit)
    return add_working_days(
        case.pauses[-1].started,
        policy.archive_after_silence,
        calendar.for_unit(unit, zone),
        zone,
    )


def is_due_for_archive(
    case: Complaint,
    policy: SlaPolicy,
    calendar: WorkingCalendar,
    zone_of: Callable[[str], str],
    now: datetime,
) -> bool:
    due = archive_due_at(case, policy, calendar, zone_of)
    return due is not None and now > due
