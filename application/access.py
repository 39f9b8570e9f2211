"""Who may see and do what: the role table of API.md and unit scoping, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

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


CASE_ROLES = frozenset(
    {Role.INTAKE_OFFICER, Role.TECHNICAL_OFFICER, Role.UNIT_HEAD, Role.WBS_OFFICER}
)
RESTRICTED_ROLES = frozenset({Role.UNIT_HEAD, Role.WBS_OFFICER})

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
    """The caller, as the identity provider's token describes them."""

    sub: str
    roles: frozenset[Role]
    units: frozenset[str]

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


def command_for_follow_up(action: FollowUpAction) -> Command:
    return Command.REQUEST_DATA if action == FollowUpAction.REQUEST_DATA else Command.FOLLOW_UP


def can_see(principal: Principal, case: Complaint) -> bool:
    if case.is_restricted:
        return principal.has(*RESTRICTED_ROLES) and any(principal.serves(u) for u in case.units())
    if principal.has(Role.AUDITOR):
        return True
    return principal.has(*CASE_ROLES) and any(principal.serves(u) for u in case.units())


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


READERS = CASE_ROLES | {Role.AUDITOR}


def may_read_unit(principal: Principal, unit: str) -> bool:
    """Queues, alerts and reports of a unit: its officers, and agency-wide readers."""
    return principal.has(*READERS) and principal.serves(unit)


def sees_restricted(principal: Principal) -> bool:
    """Whether WBS and staff-ethics cases show in the caller's lists."""
    return principal.has(*RESTRICTED_ROLES)
