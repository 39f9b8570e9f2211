"""The agency's configuration as an aggregate: closures, SLA policies, answer templates, grants.

One aggregate per agency (a fixed id), so every change an admin makes is an event in the same
log as the cases: audited by the same chain and replayed at start-up. Public methods validate;
each nested event's ``apply`` only records the change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import InvalidCommand
from domain.ikm import checked_weights, weight_text
from domain.service_levels import SlaPolicy
from domain.values import Actor
from domain.vocabulary import Category, Kind

CLOSE_KEYS = frozenset({*(k.value for k in Kind), "complaint_inspection"})
AGENCY_WIDE = "*"
MAX_CLOSURE_DAYS = 366
MAX_PERIOD = 3660


@dataclass(frozen=True)
class Closure:
    """A one-off office closure: whole local days, for a time zone or for one unit."""

    id: UUID
    days: tuple[date, ...]
    zone: str | None
    unit: str | None
    reason: str
    added_at: datetime
    added_by: str


@dataclass(frozen=True)
class AnswerTemplate:
    """One version of a standard answer (referensi standar jawaban) for a category."""

    id: UUID
    version: int
    category: str
    title: str
    body: str
    saved_at: datetime
    saved_by: str


@dataclass(frozen=True)
class Grant:
    """An auditor (by ``sub``) may read WBS and staff-ethics cases of ``unit`` (``*``: all)."""

    id: UUID
    sub: str
    unit: str
    note: str
    granted_at: datetime
    granted_by: str


@dataclass(frozen=True)
class IkmWeights:
    """One version of a unit's IKM weights; ``weights`` None: back to equal weights (1/9)."""

    unit: str
    version: int
    weights: tuple[Fraction, ...] | None
    description: str
    set_at: datetime
    set_by: str


@dataclass(frozen=True)
class PolicyRecord:
    policy: SlaPolicy
    description: str
    added_at: datetime | None
    added_by: str | None


def _check_period(name: str, value: object) -> int:
    # bool is an int in Python; a period of "true" days is a client bug, not 1.
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_PERIOD:
        raise InvalidCommand(name, f"must be a whole number of working days, 1..{MAX_PERIOD}")
    return value


def checked_policy(
    version: int,
    *,
    acknowledge: int,
    route: int,
    first_follow_up: int,
    close: Mapping[str, int],
    archive_after_silence: int,
) -> SlaPolicy:
    """A policy whose periods are positive and whose close periods cover every kind."""
    missing = sorted(CLOSE_KEYS - set(close))
    unknown = sorted(set(close) - CLOSE_KEYS)
    if missing:
        raise InvalidCommand("close", f"missing close periods: {', '.join(missing)}")
    if unknown:
        raise InvalidCommand("close", f"unknown close keys: {', '.join(unknown)}")
    return SlaPolicy(
        version=version,
        acknowledge=_check_period("acknowledge", acknowledge),
        route=_check_period("route", route),
        first_follow_up=_check_period("first_follow_up", first_follow_up),
        close={k: _check_period(f"close.{k}", v) for k, v in sorted(close.items())},
        archive_after_silence=_check_period("archive_after_silence", archive_after_silence),
    )


class AgencyConfiguration(Aggregate):
    """Everything an admin configures, as one stream of events."""

    ID = uuid5(NAMESPACE_URL, "aduan:agency-configuration")

    class Started(Aggregate.Created):
        actor: Actor

        def apply(self, aggregate: Any) -> None:
            config: AgencyConfiguration = aggregate
            config.closures = {}
            config.policies = {}
            config.templates = {}
            config.grants = {}

    class ClosureAdded(Aggregate.Event):
        closure_id: UUID
        days: list[str]  # ISO dates: the stored JSON stays plain
        zone: str | None
        unit: str | None
        reason: str
        actor: Actor

        def apply(self, aggregate: Any) -> None:
            aggregate.closures[self.closure_id] = Closure(
                self.closure_id,
                tuple(date.fromisoformat(d) for d in self.days),
                self.zone,
                self.unit,
                self.reason,
                self.timestamp,
                self.actor.sub,
            )

    class PolicyAdded(Aggregate.Event):
        policy_version: int
        acknowledge: int
        route: int
        first_follow_up: int
        close: dict[str, int]
        archive_after_silence: int
        description: str
        actor: Actor

        def apply(self, aggregate: Any) -> None:
            policy = SlaPolicy(
                version=self.policy_version,
                acknowledge=self.acknowledge,
                route=self.route,
                first_follow_up=self.first_follow_up,
                close=dict(self.close),
                archive_after_silence=self.archive_after_silence,
            )
            aggregate.policies[self.policy_version] = PolicyRecord(
                policy, self.description, self.timestamp, self.actor.sub
            )

    class TemplateSaved(Aggregate.Event):
        template_id: UUID
        template_version: int
        category: str
        title: str
        body: str
        actor: Actor

        def apply(self, aggregate: Any) -> None:
            versions = aggregate.templates.setdefault(self.template_id, [])
            versions.append(
                AnswerTemplate(
                    self.template_id,
                    self.template_version,
                    self.category,
                    self.title,
                    self.body,
                    self.timestamp,
                    self.actor.sub,
                )
            )

    class GrantGiven(Aggregate.Event):
        grant_id: UUID
        sub: str
        unit: str
        note: str
        actor: Actor

        def apply(self, aggregate: Any) -> None:
            aggregate.grants[self.grant_id] = Grant(
                self.grant_id, self.sub, self.unit, self.note, self.timestamp, self.actor.sub
            )

    class IkmWeightsSet(Aggregate.Event):
        unit: str
        weights_version: int
        weights: list[str] | None  # exact, in SURVEY_ELEMENTS order: "0.2", or "1/3"
        description: str
        actor: Actor

        def apply(self, aggregate: Any) -> None:
            # A configuration started before IKM weights existed has no such attribute yet.
            versions = aggregate.__dict__.setdefault("ikm_weights", {}).setdefault(self.unit, [])
            versions.append(
                IkmWeights(
                    self.unit,
                    self.weights_version,
                    None if self.weights is None else tuple(Fraction(w) for w in self.weights),
                    self.description,
                    self.timestamp,
                    self.actor.sub,
                )
            )

    class GrantRevoked(Aggregate.Event):
        grant_id: UUID
        actor: Actor

        def apply(self, aggregate: Any) -> None:
            aggregate.grants.pop(self.grant_id, None)

    if TYPE_CHECKING:  # set by Started.apply
        closures: dict[UUID, Closure]
        policies: dict[int, PolicyRecord]
        templates: dict[UUID, list[AnswerTemplate]]
        grants: dict[UUID, Grant]

    @classmethod
    def start(cls, actor: Actor, at: datetime) -> AgencyConfiguration:
        return cls._create(cls.Started, id=cls.ID, timestamp=at, actor=actor)

    # --- commands ------------------------------------------------------------------------

    def add_closure(
        self,
        *,
        closure_id: UUID,
        days: Sequence[date],
        zone: str | None,
        unit: str | None,
        reason: str,
        actor: Actor,
        at: datetime,
    ) -> None:
        if (zone is None) == (unit is None):
            raise InvalidCommand("zone", "give exactly one of zone and unit")
        if not days:
            raise InvalidCommand("days", "give at least one date")
        if len(set(days)) > MAX_CLOSURE_DAYS:
            raise InvalidCommand("days", f"at most {MAX_CLOSURE_DAYS} days in one closure")
        self.trigger_event(
            self.ClosureAdded,
            timestamp=at,
            closure_id=closure_id,
            days=[d.isoformat() for d in sorted(set(days))],
            zone=zone,
            unit=unit,
            reason=reason,
            actor=actor,
        )

    def add_policy(
        self, policy: SlaPolicy, *, description: str, actor: Actor, at: datetime
    ) -> None:
        """A new version; it must be newer than every version known (shipped ones included)."""
        if policy.version in self.policies:
            raise InvalidCommand("version", f"policy version {policy.version} exists already")
        self.trigger_event(
            self.PolicyAdded,
            timestamp=at,
            policy_version=policy.version,
            acknowledge=policy.acknowledge,
            route=policy.route,
            first_follow_up=policy.first_follow_up,
            close=dict(policy.close),
            archive_after_silence=policy.archive_after_silence,
            description=description,
            actor=actor,
        )

    def save_template(
        self,
        *,
        template_id: UUID,
        expected_version: int | None,
        category: Category,
        title: str,
        body: str,
        actor: Actor,
        at: datetime,
    ) -> int:
        """A new template (``expected_version`` None) or its next version; returns the version."""
        versions = self.templates.get(template_id, [])
        current = versions[-1].version if versions else 0
        if expected_version is not None and expected_version != current:
            raise TemplateVersionConflict(expected_version, current)
        self.trigger_event(
            self.TemplateSaved,
            timestamp=at,
            template_id=template_id,
            template_version=current + 1,
            category=category.value,
            title=title,
            body=body,
            actor=actor,
        )
        return current + 1

    def give_grant(
        self, *, grant_id: UUID, sub: str, unit: str, note: str, actor: Actor, at: datetime
    ) -> None:
        for grant in self.grants.values():
            if grant.sub == sub and grant.unit == unit:
                raise InvalidCommand("unit", f"{sub} already holds a grant for {unit}")
        self.trigger_event(
            self.GrantGiven,
            timestamp=at,
            grant_id=grant_id,
            sub=sub,
            unit=unit,
            note=note,
            actor=actor,
        )

    def revoke_grant(self, grant_id: UUID, *, actor: Actor, at: datetime) -> None:
        self.trigger_event(self.GrantRevoked, timestamp=at, grant_id=grant_id, actor=actor)

    def ikm_weight_versions(self, unit: str | None = None) -> list[IkmWeights]:
        """Every version of ``unit``'s weights (None: every unit's), oldest first."""
        found: dict[str, list[IkmWeights]] = self.__dict__.get("ikm_weights", {})
        if unit is not None:
            return list(found.get(unit, []))
        return [w for versions in found.values() for w in versions]

    def set_ikm_weights(
        self,
        *,
        unit: str,
        weights: Sequence[str | Decimal] | None,
        description: str,
        actor: Actor,
        at: datetime,
    ) -> IkmWeights:
        """A unit's next weights version: nine weights summing to exactly 1, or None (equal)."""
        exact = None if weights is None else checked_weights(weights)
        version = len(self.ikm_weight_versions(unit)) + 1
        self.trigger_event(
            self.IkmWeightsSet,
            timestamp=at,
            unit=unit,
            weights_version=version,
            weights=None if exact is None else [weight_text(w) for w in exact],
            description=description,
            actor=actor,
        )
        return self.ikm_weight_versions(unit)[-1]


class TemplateVersionConflict(Exception):
    """An update named a template version that is no longer the latest."""

    def __init__(self, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"expected template version {expected}; it is at version {actual}")
