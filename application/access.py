"""Who may see and do what: the role table of API.md and unit scoping, in one place.

Every route asks here: commands through ``may_create``/``may_issue``, reads through ``may_read``
(what a role may read at all), ``may_read_unit`` (a unit's queues, alerts and reports), ``can_see``
(one case) and ``sees_restricted`` (whether WBS and staff-ethics cases show in a list). The README's
role table is ``role_table_markdown()``; a unit test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from application.errors import Forbidden
from domain.complaint import Complaint
from domain.vocabulary import FollowUpAction, Status

ALL_UNITS = "*"


class Role(StrEnum):
    INTAKE_OFFICER = "intake_officer"
    TECHNICAL_OFFICER = "technical_officer"
    UNIT_HEAD = "unit_head"
    WBS_OFFICER = "wbs_officer"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Command(StrEnum):
    CREATE = "create"
    ACKNOWLEDGE = "acknowledge"
    ROUTE = "route"
    FOLLOW_UP = "follow_up"
    REQUEST_DATA = "request_data"
    RECORD_REPLY = "record_complainant_reply"
    CLOSE = "close"
    REOPEN = "reopen"


class Read(StrEnum):
    """What a caller may read, by role; unit scoping and case visibility come on top."""

    CASES = "cases"  # one case, its history, a tracking-number lookup
    QUEUES = "queues"  # a unit's queue, its counts and live feed
    ALERTS = "alerts"  # SLA alerts and the early-warning report
    REPORTS = "reports"  # monev recaps and charts, the IKM
    FLAGGED_SURVEYS = "flagged_surveys"  # surveys with a 1, for the unit head's review
    AUDIT_LOG = "audit_log"  # the audit chain and its verification
    ACCESS_LOG = "access_log"  # who read which confidential or WBS case
    CONFIGURATION = "configuration"  # /v1/admin/...: closures, policies, templates, grants


class Configure(StrEnum):
    """Agency-wide configuration an admin changes (``/v1/admin/...``)."""

    CLOSURES = "closures"
    SLA_POLICIES = "sla_policies"
    ANSWER_TEMPLATES = "answer_templates"
    GRANTS = "grants"
    IKM_WEIGHTS = "ikm_weights"


CASE_ROLES = frozenset(
    {Role.INTAKE_OFFICER, Role.TECHNICAL_OFFICER, Role.UNIT_HEAD, Role.WBS_OFFICER}
)
RESTRICTED_ROLES = frozenset({Role.UNIT_HEAD, Role.WBS_OFFICER})
READERS = CASE_ROLES | {Role.AUDITOR}
ADMINS = frozenset({Role.ADMIN})

# Which roles may read what at all. Officers are then scoped to the units they serve; auditors
# read agency-wide; admins configure and read the audit trail, but handle no case.
_READS: dict[Read, frozenset[Role]] = {
    Read.CASES: READERS,
    Read.QUEUES: READERS,
    Read.ALERTS: READERS,
    Read.REPORTS: READERS,
    Read.FLAGGED_SURVEYS: frozenset({Role.UNIT_HEAD, Role.AUDITOR}),
    Read.AUDIT_LOG: frozenset({Role.AUDITOR, Role.ADMIN}),
    Read.ACCESS_LOG: frozenset({Role.AUDITOR, Role.ADMIN}),
    Read.CONFIGURATION: ADMINS,
}
_CONFIGURES: dict[Configure, frozenset[Role]] = {c: ADMINS for c in Configure}
# Erasing a reporter's identity (UU 27/2022) is an admin's act, on any case, agency-wide.
ERASERS = ADMINS

# Which roles may issue each command on ordinary cases. ``None`` as the status set means "from
# any status the case's own machine allows"; a set narrows the role to those statuses.
_ORDINARY: dict[Command, dict[Role, frozenset[Status] | None]] = {
    Command.CREATE: {Role.INTAKE_OFFICER: None, Role.UNIT_HEAD: None},
    Command.ACKNOWLEDGE: {Role.INTAKE_OFFICER: None, Role.UNIT_HEAD: None},
    Command.ROUTE: {Role.INTAKE_OFFICER: None, Role.UNIT_HEAD: None},
    Command.FOLLOW_UP: {Role.TECHNICAL_OFFICER: None, Role.UNIT_HEAD: None},
    # Verification often finds data missing: the intake officer may ask for it right away.
    Command.REQUEST_DATA: {
        Role.TECHNICAL_OFFICER: None,
        Role.UNIT_HEAD: None,
        Role.INTAKE_OFFICER: frozenset({Status.ACKNOWLEDGED}),
    },
    Command.RECORD_REPLY: {
        Role.INTAKE_OFFICER: None,
        Role.TECHNICAL_OFFICER: None,
        Role.UNIT_HEAD: None,
    },
    Command.CLOSE: {
        Role.TECHNICAL_OFFICER: None,
        Role.UNIT_HEAD: None,
        Role.INTAKE_OFFICER: frozenset({Status.ACKNOWLEDGED}),
    },
    Command.REOPEN: {Role.UNIT_HEAD: None},
}

# Whistle-blowing and staff-ethics cases: only their designated roles, for every command.
_RESTRICTED: dict[Command, dict[Role, frozenset[Status] | None]] = {
    command: {Role.WBS_OFFICER: None, Role.UNIT_HEAD: None}
    for command in Command
    if command != Command.REOPEN
} | {Command.REOPEN: {Role.UNIT_HEAD: None}}


@dataclass(frozen=True)
class Principal:
    """The caller, as the identity provider's token describes them.

    ``restricted_grants`` are the units (``*``: all) whose WBS and staff-ethics cases an admin
    granted this caller, as an auditor, the right to read; they come from the agency's
    configuration, never from the token.
    """

    sub: str
    roles: frozenset[Role]
    units: frozenset[str]
    restricted_grants: frozenset[str] = field(default=frozenset())

    def serves(self, unit: str) -> bool:
        return ALL_UNITS in self.units or unit in self.units

    def has(self, *roles: Role) -> bool:
        return any(role in self.roles for role in roles)

    def acting_unit(self, case: Complaint | None = None, unit: str | None = None) -> str | None:
        """The unit the caller acts for: the case's handling unit if they serve it."""
        candidates = [case.handling_unit, case.intake_unit] if case is not None else [unit]
        for candidate in candidates:
            if candidate is not None and candidate in self.units:
                return candidate
        return candidates[0] if ALL_UNITS in self.units else None

    def with_grants(self, units: Iterable[str]) -> Principal:
        return Principal(self.sub, self.roles, self.units, frozenset(units))


def command_for_follow_up(action: FollowUpAction) -> Command:
    return Command.REQUEST_DATA if action == FollowUpAction.REQUEST_DATA else Command.FOLLOW_UP


# --- reads ---------------------------------------------------------------------------------


def may_read(principal: Principal, what: Read) -> bool:
    """Whether the caller's roles read this kind of thing at all (before unit scoping)."""
    return principal.has(*_READS[what])


def require_read(principal: Principal, what: Read) -> None:
    if not may_read(principal, what):
        raise Forbidden(f"your roles may not read {what.value.replace('_', ' ')}")


def may_configure(principal: Principal, what: Configure) -> bool:
    return principal.has(*_CONFIGURES[what])


def require_configure(principal: Principal, what: Configure) -> None:
    if not may_configure(principal, what):
        raise Forbidden("agency configuration is for admins")


def may_erase_reporter(principal: Principal) -> bool:
    return principal.has(*ERASERS)


def granted(principal: Principal, units: Iterable[str]) -> bool:
    """An auditor with a grant covering one of ``units`` (``*`` among the grants: every unit)."""
    if not principal.has(Role.AUDITOR) or not principal.restricted_grants:
        return False
    return ALL_UNITS in principal.restricted_grants or any(
        u in principal.restricted_grants for u in units
    )


def can_see(principal: Principal, case: Complaint) -> bool:
    """One case (and its history): 404 for anyone this says no to."""
    return can_see_units(principal, case.is_restricted, case.units())


def can_see_units(principal: Principal, restricted: bool, units: Iterable[str]) -> bool:
    """``can_see`` for a case known by its read-model row: restricted or not, and its units."""
    units = list(units)
    if restricted:
        return sees_restricted_case(principal, units)
    if principal.has(Role.AUDITOR):
        return True
    return principal.has(*CASE_ROLES) and any(principal.serves(u) for u in units)


def sees_restricted_case(principal: Principal, units: Iterable[str]) -> bool:
    """A WBS or staff-ethics case of ``units``: its designated officers, or a granted auditor."""
    units = list(units)
    if principal.has(*RESTRICTED_ROLES) and any(principal.serves(u) for u in units):
        return True
    return granted(principal, units)


def may_read_unit(principal: Principal, unit: str, what: Read = Read.QUEUES) -> bool:
    """Queues, alerts and reports of a unit: its officers, and agency-wide readers."""
    return may_read(principal, what) and principal.serves(unit)


def sees_restricted(principal: Principal, unit: str | None = None) -> bool:
    """Whether WBS and staff-ethics cases show in the caller's lists (of ``unit``; None: all).

    Unit heads and WBS officers see them in the lists of the units they serve (unit scoping
    happens first); an auditor only with a grant for that unit, or an agency-wide grant.
    """
    if principal.has(*RESTRICTED_ROLES):
        return True
    if unit is None or unit == ALL_UNITS:
        return granted(principal, ()) if ALL_UNITS in principal.restricted_grants else False
    return granted(principal, (unit,))


def audit_entry_visible(principal: Principal, restricted_units: frozenset[str] | None) -> bool:
    """An audit entry's metadata; ``restricted_units`` are the units of a restricted case.

    Entries of ordinary cases (and of the configuration) are for every audit-log reader;
    those of WBS and staff-ethics cases only for admins and auditors granted those units.
    """
    if restricted_units is None:
        return True
    return principal.has(Role.ADMIN) or granted(principal, restricted_units)


# --- commands ------------------------------------------------------------------------------


def may_create(principal: Principal, restricted: bool) -> bool:
    table = _RESTRICTED if restricted else _ORDINARY
    return any(role in table[Command.CREATE] for role in principal.roles)


def may_create_anything(principal: Principal) -> bool:
    return may_create(principal, False) or may_create(principal, True)


def may_issue(principal: Principal, command: Command, case: Complaint) -> bool:
    """Whether the caller's roles allow ``command`` on ``case`` as it stands.

    When the status machine forbids the command for everyone, the role check looks only at the
    role, so the caller learns "not in this status" (409) rather than "not your role" (403).
    """
    table = (_RESTRICTED if case.is_restricted else _ORDINARY)[command]
    grants = [table[role] for role in principal.roles if role in table]
    if not grants:
        return False
    machine_command = {
        Command.REQUEST_DATA: "follow_up",
        Command.FOLLOW_UP: "follow_up",
    }.get(command, command.value)
    if not case.allows(machine_command):
        return True
    return any(statuses is None or case.status in statuses for statuses in grants)


# --- the table the README prints ------------------------------------------------------------

_COLUMNS = tuple(Role)


def _mark(roles: Iterable[Role], notes: dict[Role, str] | None = None) -> list[str]:
    chosen = set(roles)
    notes = notes or {}
    return [notes.get(r, "yes" if r in chosen else "—") for r in _COLUMNS]


def role_table() -> list[tuple[str, list[str]]]:
    """Capability by role, derived from the tables above (the README prints it)."""
    rows: list[tuple[str, list[str]]] = []
    unit = "own units"
    for command in Command:
        label = {
            Command.CREATE: "record a case",
            Command.REQUEST_DATA: "follow up: request_data",
            Command.RECORD_REPLY: "record the complainant's reply",
        }.get(command, command.value.replace("_", " "))
        notes = {
            role: unit if statuses is None else f"{unit}, from {', '.join(sorted(statuses))}"
            for role, statuses in _ORDINARY[command].items()
        }
        rows.append((label + " (ordinary case)", _mark(_ORDINARY[command], notes)))
    restricted_roles = set(_RESTRICTED[Command.ACKNOWLEDGE])
    rows.append(
        (
            "handle a WBS / etika_pegawai case",
            _mark(restricted_roles, dict.fromkeys(restricted_roles, unit)),
        )
    )
    rows.append(
        (
            "reopen a WBS / etika_pegawai case",
            _mark(_RESTRICTED[Command.REOPEN], {Role.UNIT_HEAD: unit}),
        )
    )
    reads = {
        Read.CASES: "read a case, its history",
        Read.QUEUES: "read a unit's queue",
        Read.ALERTS: "read SLA alerts, early warning",
        Read.REPORTS: "read monev reports",
        Read.FLAGGED_SURVEYS: "review flagged satisfaction surveys",
        Read.AUDIT_LOG: "read and verify the audit log",
        Read.ACCESS_LOG: "read the access log of confidential/WBS reads",
        Read.CONFIGURATION: "read agency configuration",
    }
    scoped = {Read.CASES, Read.QUEUES, Read.ALERTS, Read.REPORTS, Read.FLAGGED_SURVEYS}
    for what, label in reads.items():
        notes = {}
        if what in scoped:
            notes = {r: unit for r in CASE_ROLES if r in _READS[what]}
            notes[Role.AUDITOR] = "all units"
        if what == Read.AUDIT_LOG:
            notes[Role.AUDITOR] = "yes (WBS entries by grant)"
        rows.append((label, _mark(_READS[what], notes)))
    rows.append(
        (
            "see WBS / etika_pegawai cases",
            _mark(
                RESTRICTED_ROLES | {Role.AUDITOR},
                {Role.UNIT_HEAD: unit, Role.WBS_OFFICER: unit, Role.AUDITOR: "by grant"},
            ),
        )
    )
    rows.append(("erase a reporter's identity", _mark(ERASERS, {Role.ADMIN: "any case"})))
    for what in Configure:
        rows.append((f"configure {what.value.replace('_', ' ')}", _mark(_CONFIGURES[what])))
    return rows


def role_table_markdown() -> str:
    header = "| capability | " + " | ".join(f"`{r.value}`" for r in _COLUMNS) + " |"
    rule = "|---|" + "---|" * len(_COLUMNS)
    body = [f"| {label} | " + " | ".join(cells) + " |" for label, cells in role_table()]
    return "\n".join([header, rule, *body])
