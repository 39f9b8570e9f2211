"""The access rules in one place: reads, grants, restricted cases, and the README's role table."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from application.access import (
    Read,
    Role,
    audit_entry_visible,
    can_see,
    may_read,
    may_read_unit,
    role_table_markdown,
    sees_restricted,
)
from application.complaints import Complaints
from domain.calendar import WorkingCalendar, nth_working_day_after
from domain.configuration import checked_policy
from domain.errors import InvalidCommand
from domain.vocabulary import Channel
from tests.support import AUDITOR, HEAD, INTAKE, new_case, officer

README = Path(__file__).resolve().parents[2] / "README.md"
WBS_OFFICER = officer(Role.WBS_OFFICER, units=("ULPK-PUSAT",), sub="wbs")
ADMIN = officer(Role.ADMIN, units=("*",), sub="admin")


def _case(app: Complaints, **overrides):
    roles = (
        (Role.WBS_OFFICER,) if overrides.get("channel") == Channel.WBS else (Role.INTAKE_OFFICER,)
    )
    result = app.file_case(officer(*roles), new_case(**overrides))
    return app.repository.get(result.id)


def test_the_readme_prints_the_role_table_the_code_enforces() -> None:
    assert role_table_markdown() in README.read_text("utf-8")


@pytest.mark.parametrize(
    ("what", "roles"),
    [
        (
            Read.CASES,
            {"intake_officer", "technical_officer", "unit_head", "wbs_officer", "auditor"},
        ),
        (Read.AUDIT_LOG, {"auditor", "admin"}),
        (Read.CONFIGURATION, {"admin"}),
    ],
)
def test_each_read_is_open_to_exactly_its_roles(what, roles) -> None:
    readers = {r.value for r in Role if may_read(officer(r, units=("*",)), what)}
    assert readers == roles


def test_an_admin_handles_no_case_and_reads_no_queue(memory_app: Complaints) -> None:
    case = _case(memory_app)
    assert not can_see(ADMIN, case)
    assert not may_read_unit(ADMIN, "ULPK-PUSAT")


def test_a_wbs_case_is_seen_by_its_designated_roles_and_granted_auditors_only(
    memory_app: Complaints,
) -> None:
    case = _case(memory_app, channel=Channel.WBS)
    assert can_see(WBS_OFFICER, case) and can_see(HEAD, case)
    assert not can_see(INTAKE, case)
    assert not can_see(AUDITOR, case)
    assert can_see(AUDITOR.with_grants({"ULPK-PUSAT"}), case)
    assert can_see(AUDITOR.with_grants({"*"}), case)
    assert not can_see(AUDITOR.with_grants({"BBPOM-MAKASSAR"}), case)
    # A grant is for auditors: held by another role it opens nothing.
    assert not can_see(INTAKE.with_grants({"*"}), case)


def test_lists_show_restricted_cases_to_auditors_only_for_granted_units() -> None:
    unit_grant = AUDITOR.with_grants({"ULPK-PUSAT"})
    assert sees_restricted(unit_grant, "ULPK-PUSAT")
    assert not sees_restricted(unit_grant, "BBPOM-JAKARTA")
    assert not sees_restricted(unit_grant, None)
    assert sees_restricted(AUDITOR.with_grants({"*"}), None)
    assert not sees_restricted(AUDITOR, "ULPK-PUSAT")
    assert not sees_restricted(INTAKE, "ULPK-PUSAT")
    assert sees_restricted(HEAD, "ULPK-PUSAT")


def test_audit_entries_of_restricted_cases_need_a_grant_or_the_admin_role() -> None:
    units = frozenset({"ULPK-PUSAT"})
    assert audit_entry_visible(AUDITOR, None)
    assert not audit_entry_visible(AUDITOR, units)
    assert audit_entry_visible(AUDITOR.with_grants(units), units)
    assert audit_entry_visible(ADMIN, units)


CLOSE = {"information_request": 5, "complaint": 14, "complaint_inspection": 60, "suggestion": 14}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"acknowledge": 0}, "acknowledge"),
        ({"route": True}, "route"),
        ({"close": {k: v for k, v in CLOSE.items() if k != "suggestion"}}, "close"),
        ({"close": CLOSE | {"complaint": -1}}, "close.complaint"),
    ],
)
def test_a_policy_needs_positive_periods_and_every_close_key(change, field) -> None:
    fields = {
        "acknowledge": 3,
        "route": 3,
        "first_follow_up": 5,
        "close": CLOSE,
        "archive_after_silence": 10,
    } | change
    with pytest.raises(InvalidCommand) as raised:
        checked_policy(2, **fields)
    assert raised.value.field == field


def test_a_units_closure_counts_for_that_unit_only() -> None:
    calendar = WorkingCalendar().with_unit_closures("ULPK-PUSAT", frozenset({date(2026, 11, 3)}))
    monday = date(2026, 11, 2)
    zone = "Asia/Jakarta"
    own = calendar.for_unit("ULPK-PUSAT", zone)
    assert nth_working_day_after(monday, 1, own, zone) == date(2026, 11, 4)
    other = calendar.for_unit("BBPOM-JAKARTA", zone)
    assert nth_working_day_after(monday, 1, other, zone) == date(2026, 11, 3)
