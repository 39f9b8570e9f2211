"""Agency configuration use cases (closures, SLA policies, answer templates, grants), one each.

The configuration is the ``AgencyConfiguration`` aggregate, stored in the complaints
application's own event store (so the audit chain covers it too). What it says is applied to the
running calendar, policy book and access checks at start-up, after each change, and whenever a
refresh finds events another process stored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from application.access import (
    ALL_UNITS,
    Configure,
    Principal,
    Read,
    require_configure,
    require_read,
)
from application.errors import NotFound, PreconditionRequired, UnknownUnit
from application.ports import Clock
from domain.configuration import (
    AgencyConfiguration,
    AnswerTemplate,
    Closure,
    Grant,
    IkmWeights,
    PolicyRecord,
    TemplateVersionConflict,
    checked_policy,
)
from domain.errors import InvalidCommand
from domain.service_levels import SlaPolicy
from domain.units import TIME_ZONES, UnitDirectory
from domain.values import Actor
from domain.vocabulary import Category

T = TypeVar("T")
log = logging.getLogger("aduan.admin")
_ATTEMPTS = 5


class ClosureCalendars(Protocol):
    def add_closures(self, zone: str, days: Iterable[date]) -> None: ...

    def add_unit_closures(self, unit: str, days: Iterable[date]) -> None: ...


class PolicyRegistry(Protocol):
    def current(self) -> SlaPolicy: ...

    def get(self, version: int) -> SlaPolicy: ...

    def add(self, policy: SlaPolicy) -> None: ...

    def versions(self) -> list[int]: ...


@dataclass(frozen=True)
class NewPolicy:
    acknowledge: int
    route: int
    first_follow_up: int
    close: Mapping[str, int]
    archive_after_silence: int
    description: str = ""


class Administration:
    """What an admin configures; everyone else gets 403 from every method."""

    def __init__(
        self,
        store: Application,
        *,
        clock: Clock,
        units: UnitDirectory,
        calendars: ClosureCalendars,
        policies: PolicyRegistry,
        refresh_seconds: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.clock = clock
        self.units = units
        self.calendars = calendars
        self.policies = policies
        self.refresh_seconds = refresh_seconds
        self._monotonic = monotonic
        self._lock = threading.RLock()
        self._config: AgencyConfiguration | None = None
        self._applied_closures: set[UUID] = set()
        self._refreshed_at = float("-inf")

    # --- keeping the running service in step with the stored configuration -----

    def load(self) -> None:
        """Read the stored configuration and apply what is new (at start-up, and on refresh)."""
        with self._lock:
            self._adopt(self._stored())
            self._refreshed_at = self._monotonic()

    def refresh_if_stale(self) -> None:
        """Pick up changes other processes stored, at most every ``refresh_seconds``.

        A store that does not answer keeps the configuration as last read: a refresh must not
        turn a read that needs no store (or a read model elsewhere) into an error.
        """
        if self._monotonic() - self._refreshed_at < self.refresh_seconds:
            return
        try:
            self.load()
        except Exception as error:  # the store's own errors differ by persistence module
            self._refreshed_at = self._monotonic()
            log.warning("agency configuration not refreshed: %s", error)

    def _stored(self) -> AgencyConfiguration | None:
        try:
            config = self.store.repository.get(AgencyConfiguration.ID)
        except AggregateNotFoundError:
            return None
        assert isinstance(config, AgencyConfiguration)
        return config

    def _adopt(self, config: AgencyConfiguration | None) -> None:
        """Apply closures and policies not applied yet; grants are read from ``config`` itself."""
        if config is None:
            return
        if self._config is not None and config.version < self._config.version:
            return  # an older read lost a race with a newer one: keep the newer
        for closure in config.closures.values():
            if closure.id in self._applied_closures:
                continue
            if closure.zone is not None:
                self.calendars.add_closures(closure.zone, closure.days)
            elif closure.unit is not None:
                self.calendars.add_unit_closures(closure.unit, closure.days)
            self._applied_closures.add(closure.id)
        known = set(self.policies.versions())
        for version, record in sorted(config.policies.items()):
            if version not in known:
                self.policies.add(record.policy)
        self._config = config

    def _change(self, principal: Principal, decide: Callable[[AgencyConfiguration], T]) -> T:
        """Load, decide, save; another admin's concurrent change is retried, never lost."""
        actor = Actor(principal.sub, None)
        for _ in range(_ATTEMPTS):
            with self._lock:
                config = self._stored()
                if config is None:
                    config = AgencyConfiguration.start(actor, self.clock.now())
                result = decide(config)
                try:
                    self.store.save(config)
                except IntegrityError:
                    continue
                self._adopt(config)
                return result
        raise RuntimeError("the configuration kept changing under this request; retry")

    def _current(self) -> AgencyConfiguration | None:
        self.refresh_if_stale()
        return self._config

    # --- grants as access checks use them -----

    def grants_for(self, sub: str) -> frozenset[str]:
        """Units (``*``: all) whose WBS and staff-ethics cases ``sub`` may read as an auditor."""
        config = self._current()
        if config is None:
            return frozenset()
        return frozenset(g.unit for g in config.grants.values() if g.sub == sub)

    # --- closures -----

    def closures(self, principal: Principal) -> list[Closure]:
        require_read(principal, Read.CONFIGURATION)
        config = self._current()
        found = list(config.closures.values()) if config else []
        return sorted(found, key=lambda c: (c.days[0], c.added_at))

    def add_closure(
        self,
        principal: Principal,
        *,
        days: Sequence[date],
        zone: str | None,
        unit: str | None,
        reason: str,
    ) -> Closure:
        require_configure(principal, Configure.CLOSURES)
        if zone is not None and zone not in TIME_ZONES:
            raise InvalidCommand("zone", f"must be one of {', '.join(sorted(TIME_ZONES))}")
        if unit is not None and unit not in self.units:
            raise UnknownUnit("unit", unit)
        closure_id = uuid4()

        def decide(config: AgencyConfiguration) -> Closure:
            config.add_closure(
                closure_id=closure_id,
                days=days,
                zone=zone,
                unit=unit,
                reason=reason,
                actor=Actor(principal.sub, None),
                at=self.clock.now(),
            )
            return config.closures[closure_id]

        return self._change(principal, decide)

    # --- SLA policies -----

    def sla_policies(self, principal: Principal) -> list[PolicyRecord]:
        """Every version, shipped ones included, oldest first."""
        require_read(principal, Read.CONFIGURATION)
        config = self._current()
        added = config.policies if config else {}
        return [
            added.get(v) or PolicyRecord(self.policies.get(v), "shipped default", None, None)
            for v in sorted(self.policies.versions())
        ]

    def add_sla_policy(self, principal: Principal, new: NewPolicy) -> PolicyRecord:
        """A new version, newer than every known one; new cases start under it."""
        require_configure(principal, Configure.SLA_POLICIES)

        def decide(config: AgencyConfiguration) -> PolicyRecord:
            version = max([*self.policies.versions(), *config.policies]) + 1
            policy = checked_policy(
                version,
                acknowledge=new.acknowledge,
                route=new.route,
                first_follow_up=new.first_follow_up,
                close=new.close,
                archive_after_silence=new.archive_after_silence,
            )
            config.add_policy(
                policy,
                description=new.description,
                actor=Actor(principal.sub, None),
                at=self.clock.now(),
            )
            return config.policies[version]

        return self._change(principal, decide)

    # --- answer templates -----

    def answer_templates(
        self, principal: Principal, category: Category | None = None
    ) -> list[AnswerTemplate]:
        """The latest version of each template (of ``category``), by category then title."""
        require_read(principal, Read.CONFIGURATION)
        return self._latest_templates(category)

    def templates_to_pick(
        self, principal: Principal, category: Category | None = None
    ) -> list[AnswerTemplate]:
        """The same list for case officers (and auditors), who pick one when answering."""
        require_read(principal, Read.CASES)
        return self._latest_templates(category)

    def _latest_templates(self, category: Category | None) -> list[AnswerTemplate]:
        config = self._current()
        latest = [versions[-1] for versions in (config.templates.values() if config else [])]
        if category is not None:
            latest = [t for t in latest if t.category == category.value]
        return sorted(latest, key=lambda t: (t.category, t.title, str(t.id)))

    def template_titles(self) -> dict[str, str]:
        """Each template's latest title by id (as text), for labelling reports; no role check:
        titles are no secret, and reports check their own readers."""
        config = self._current()
        if config is None:
            return {}
        return {str(i): versions[-1].title for i, versions in config.templates.items() if versions}

    def answer_template(self, principal: Principal, template_id: UUID) -> list[AnswerTemplate]:
        """Every version of one template, oldest first."""
        require_read(principal, Read.CONFIGURATION)
        config = self._current()
        versions = config.templates.get(template_id) if config else None
        if not versions:
            raise NotFound(f"no answer template {template_id}")
        return list(versions)

    def create_answer_template(
        self, principal: Principal, *, category: Category, title: str, body: str
    ) -> AnswerTemplate:
        require_configure(principal, Configure.ANSWER_TEMPLATES)
        return self._save_template(principal, uuid4(), None, category, title, body)

    def update_answer_template(
        self,
        principal: Principal,
        template_id: UUID,
        if_match: int | None,
        *,
        category: Category,
        title: str,
        body: str,
    ) -> AnswerTemplate:
        """A new version; ``if_match`` must name the latest (428 without, 412 when stale)."""
        require_configure(principal, Configure.ANSWER_TEMPLATES)
        config = self._current()
        if config is None or template_id not in config.templates:
            raise NotFound(f"no answer template {template_id}")
        if if_match is None:
            raise PreconditionRequired("send If-Match with the template's current version")
        return self._save_template(principal, template_id, if_match, category, title, body)

    def _save_template(
        self,
        principal: Principal,
        template_id: UUID,
        expected: int | None,
        category: Category,
        title: str,
        body: str,
    ) -> AnswerTemplate:
        def decide(config: AgencyConfiguration) -> AnswerTemplate:
            config.save_template(
                template_id=template_id,
                expected_version=expected,
                category=category,
                title=title,
                body=body,
                actor=Actor(principal.sub, None),
                at=self.clock.now(),
            )
            return config.templates[template_id][-1]

        return self._change(principal, decide)

    # --- auditors' grants -----

    def grants(self, principal: Principal) -> list[Grant]:
        require_read(principal, Read.CONFIGURATION)
        config = self._current()
        found = list(config.grants.values()) if config else []
        return sorted(found, key=lambda g: (g.sub, g.unit, g.granted_at))

    def give_grant(self, principal: Principal, *, sub: str, unit: str, note: str) -> Grant:
        """``sub`` may read WBS and staff-ethics cases of ``unit`` (``*``: every unit)."""
        require_configure(principal, Configure.GRANTS)
        if unit != ALL_UNITS and unit not in self.units:
            raise UnknownUnit("unit", unit)
        grant_id = uuid4()

        def decide(config: AgencyConfiguration) -> Grant:
            config.give_grant(
                grant_id=grant_id,
                sub=sub,
                unit=unit,
                note=note,
                actor=Actor(principal.sub, None),
                at=self.clock.now(),
            )
            return config.grants[grant_id]

        return self._change(principal, decide)

    def revoke_grant(self, principal: Principal, grant_id: UUID) -> None:
        require_configure(principal, Configure.GRANTS)

        def decide(config: AgencyConfiguration) -> None:
            if grant_id not in config.grants:
                raise NotFound(f"no grant {grant_id}")
            config.revoke_grant(grant_id, actor=Actor(principal.sub, None), at=self.clock.now())

        self._change(principal, decide)

    # --- IKM weights -----

    def ikm_weights(self, unit: str, at: datetime | None = None) -> IkmWeights | None:
        """The unit's configured IKM weights in force at ``at`` (the last version set by then;
        None: now); None when it has none, or its latest version went back to equal weights."""
        config = self._current()
        versions = config.ikm_weight_versions(unit) if config else []
        in_force = [v for v in versions if at is None or v.set_at <= at]
        if not in_force or in_force[-1].weights is None:
            return None
        return in_force[-1]

    def ikm_weight_versions(self, principal: Principal) -> list[IkmWeights]:
        """Every unit's weights versions, by unit then version."""
        require_read(principal, Read.CONFIGURATION)
        config = self._current()
        found = config.ikm_weight_versions() if config else []
        return sorted(found, key=lambda w: (w.unit, w.version))

    def set_ikm_weights(
        self,
        principal: Principal,
        *,
        unit: str,
        weights: Sequence[str | Decimal] | None,
        description: str,
    ) -> IkmWeights:
        """The unit's next weights version (nine, summing to exactly 1), or None: equal weights.

        Reports of a period use the version in force at the period's end."""
        require_configure(principal, Configure.IKM_WEIGHTS)
        if unit not in self.units:
            raise UnknownUnit("unit", unit)

        def decide(config: AgencyConfiguration) -> IkmWeights:
            return config.set_ikm_weights(
                unit=unit,
                weights=weights,
                description=description,
                actor=Actor(principal.sub, None),
                at=self.clock.now(),
            )

        return self._change(principal, decide)


__all__ = ["Administration", "NewPolicy", "TemplateVersionConflict"]
