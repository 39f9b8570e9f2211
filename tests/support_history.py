"""Random but valid case histories, for property tests of the read models."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from application.complaints import Complaints
from application.errors import ApplicationError
from domain.errors import ComplaintError
from domain.vocabulary import Category, Channel, FollowUpAction, Kind, Outcome
from infrastructure.calendars import HolidayCalendars
from infrastructure.clock import ManualClock
from infrastructure.reference_data import PolicyBook, shipped_units
from projections.queues.projection import QueueProjection
from tests.support import HEAD, INTAKE, new_case, officer

HEAD_ALL = officer("unit_head", "wbs_officer", units=("*",), sub="kepala")
UNITS = ("ULPK-PUSAT", "BBPOM-JAKARTA", "BBPOM-MAKASSAR", "BBPOM-JAYAPURA")
COMMANDS = ("file", "acknowledge", "route", "follow_up", "request_data", "reply", "close", "reopen")


def apply_step(
    app: Complaints, clock: ManualClock, cases: list[UUID], step: tuple[Any, ...]
) -> None:
    """One command of a random history; commands the case's status forbids are skipped."""
    command, pick, hours, variant = step
    clock.advance(timedelta(hours=hours))
    if command == "file" or not cases:
        kinds = list(Kind)
        new = new_case(
            kind=kinds[variant % len(kinds)],
            channel=list(Channel)[variant % len(Channel)],
            category=list(Category)[variant % len(Category)],
            needs_inspection=bool(variant % 2),
            intake_unit=UNITS[variant % len(UNITS)],
        )
        cases.append(app.file_case(HEAD_ALL, new).id)
        return
    case_id = cases[pick % len(cases)]
    version = app.case(HEAD_ALL, case_id).case.version
    try:
        match command:
            case "acknowledge":
                app.acknowledge(HEAD_ALL, case_id, version, message="diterima")
            case "route":
                app.route(
                    HEAD_ALL,
                    case_id,
                    version,
                    to_unit=UNITS[variant % len(UNITS)],
                    note="disposisi",
                    assignee=("budi", None)[variant % 2],
                )
            case "follow_up":
                app.follow_up(
                    HEAD_ALL,
                    case_id,
                    version,
                    action=FollowUpAction.CLARIFICATION,
                    note="klarifikasi",
                    public=bool(variant % 2),
                )
            case "request_data":
                app.follow_up(
                    HEAD_ALL,
                    case_id,
                    version,
                    action=FollowUpAction.REQUEST_DATA,
                    note="mohon data",
                    public=True,
                )
            case "reply":
                app.record_complainant_reply(HEAD_ALL, case_id, version, message="data")
            case "close":
                app.close_case(
                    HEAD_ALL, case_id, version, outcome=Outcome.ANSWERED, answer="jawaban"
                )
            case "reopen":
                app.reopen(HEAD_ALL, case_id, version, reason="keberatan")
    except (ComplaintError, ApplicationError):
        pass


UNIT_DIRECTORY = shipped_units()
POLICIES = PolicyBook.shipped()
CALENDARS = HolidayCalendars()


def queue_projection() -> QueueProjection:
    return QueueProjection(POLICIES.get, CALENDARS.calendar, UNIT_DIRECTORY.zone_of)


__all__ = ["COMMANDS", "HEAD", "INTAKE", "apply_step", "queue_projection"]
