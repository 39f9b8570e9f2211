"""The Complaints application: every use case on a case, one method each."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Recorder, Transcoding

from application.access import (
    Command,
    Principal,
    Read,
    Role,
    can_see,
    command_for_follow_up,
    may_create,
    may_erase_reporter,
    may_issue,
    may_read,
    sees_restricted_case,
)
from application.errors import (
    DuplicateCycle,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    PreconditionRequired,
    RequestInFlight,
    UnknownUnit,
    VersionConflict,
)
from application.ports import (
    AccessLog,
    AccessRecord,
    Calendars,
    Clock,
    PolicyBook,
    Positions,
    Randomness,
)
from application.privacy import (
    CaseSealer,
    Disclosure,
    NewKey,
    PersonalData,
    SealedReporterAsDict,
    SealedTextAsDict,
    disclose,
    disclosed_data,
    record_read,
    sees_identity,
)
from domain.complaint import Complaint
from domain.configuration import AgencyConfiguration, AnswerTemplate
from domain.errors import InvalidCommand
from domain.public_access import PublicAccess
from domain.service_levels import StageStatus, service_levels
from domain.tracking_index import TrackingNumberIndex
from domain.tracking_number import RANDOM_BYTES, normalise, tracking_number_from
from domain.units import UnitDirectory
from domain.values import PUBLIC_ACTOR, Actor, Reporter, SealedReporter
from domain.vocabulary import Category, Channel, FollowUpAction, Kind, Outcome

IDEMPOTENCY_NAMESPACE = uuid5(NAMESPACE_URL, "aduan:idempotency")
# Public creates: keys scoped to the public client, in a namespace no token subject can reach.
PUBLIC_IDEMPOTENCY_NAMESPACE = uuid5(NAMESPACE_URL, "aduan:idempotency:public")
# The answer a case closed as a duplicate gets when the officer writes no note of their own.
DUPLICATE_ANSWER = (
    "Pengaduan ini sama dengan pengaduan lain yang sudah kami terima; tindak lanjutnya "
    "dilakukan bersama pengaduan tersebut."
)
_MAX_DUPLICATE_CHAIN = 50
_TRACKING_NUMBER_ATTEMPTS = 5


class ActorAsDict(Transcoding):
    type = Actor
    name = "actor"

    def encode(self, obj: Actor) -> dict[str, Any]:
        return {"sub": obj.sub, "unit": obj.unit}

    def decode(self, data: dict[str, Any]) -> Actor:
        return Actor(**data)


class ReporterAsDict(Transcoding):
    type = Reporter
    name = "reporter"

    def encode(self, obj: Reporter) -> dict[str, Any]:
        return dataclasses.asdict(obj)

    def decode(self, data: dict[str, Any]) -> Reporter:
        return Reporter(**data)


@dataclass(frozen=True)
class NewCase:
    """What an officer records when a case arrives."""

    kind: Kind
    channel: Channel
    category: Category
    subject: str
    description: str
    reporter: Reporter | None
    anonymous: bool
    confidential: bool
    needs_inspection: bool
    intake_unit: str
    received_at: datetime | None = None
    external_ref: str | None = None
    product_registration: str | None = None


@dataclass(frozen=True)
class TemplateChoice:
    """A standard answer an officer picked: its id, and a version (None: the latest)."""

    id: UUID
    version: int | None = None


@dataclass(frozen=True)
class DuplicateProbe:
    """What a case's likely duplicates are looked for by (see ``duplicate_probe``)."""

    case_id: UUID
    category: str
    product_registration: str | None
    email_match: str | None
    phone_match: str | None
    text: str


_UNREAD: Any = object()  # _visible's "load the case yourself"


def _replay(events: list[Any]) -> Any:
    """The aggregate the events make, or None when there are none."""
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


@dataclass(frozen=True)
class CommandResult:
    id: UUID
    status: str
    version: int
    position: int
    tracking_number: str | None = None
    replayed: bool = False


@dataclass(frozen=True)
class _Draft:
    """What stays the same across tracking-number draws of one create."""

    case_id: UUID
    new: NewCase
    fingerprint: str | None
    actor: Actor
    sealer: CaseSealer
    pin_hash: str | None = None  # a public create: the case's PIN, hashed


@dataclass(frozen=True)
class PreparedCase:
    """A checked create: its new aggregates, to be saved together (see prepare_case)."""

    case: Complaint
    index: TrackingNumberIndex
    draft: _Draft
    attempt: int
    key: NewKey | None = None  # the case's data key, when the saver must store it first
    access: PublicAccess | None = None  # a public create: its PIN, saved with the case

    @property
    def aggregates(self) -> tuple[Complaint, TrackingNumberIndex] | tuple[Any, ...]:
        if self.access is not None:
            return (self.case, self.index, self.access)
        return (self.case, self.index)


@dataclass(frozen=True)
class CaseSnapshot:
    case: Complaint
    stages: list[StageStatus]
    as_of: datetime
    personal: Disclosure  # the reporter and free text, opened as far as the caller may see


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    type: str
    occurred_at: datetime
    actor: Actor
    data: dict[str, Any]
    position: int | None


# Event attributes that are not the event's own data (or are internal, like the fingerprint).
_NOT_DATA = {
    "originator_id",
    "originator_version",
    "timestamp",
    "originator_topic",
    "actor",
    "request_fingerprint",
    "erased_key_id",
    "next_key_id",
}


class Complaints(Application):
    """Records and reads complaint cases. Table prefix and env prefix: ``aduan``."""

    name = "aduan"

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        clock: Clock,
        randomness: Randomness,
        units: UnitDirectory,
        policies: PolicyBook,
        calendars: Calendars,
        positions: Callable[[Recorder], Positions],
        personal_data: PersonalData,
        access_log: AccessLog,
    ) -> None:
        super().__init__(env)
        self.personal_data = personal_data
        self.access_log = access_log
        self.clock = clock
        self.randomness = randomness
        self.units = units
        self.policies = policies
        self.calendars = calendars
        self.positions = positions(self.recorder)
        self._in_flight: set[UUID] = set()
        self._in_flight_lock = threading.Lock()
        self.saved_listeners: list[Callable[[int], None]] = []

    def _notify(self, recordings: list[Any]) -> None:
        """Tell in-process listeners (read-model workers) that the log has grown."""
        if recordings:
            for listener in self.saved_listeners:
                listener(recordings[-1].notification.id)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(ActorAsDict())
        transcoder.register(ReporterAsDict())
        transcoder.register(SealedTextAsDict())
        transcoder.register(SealedReporterAsDict())

    # --- commands ------------------------------------------------------------------------

    def file_case(
        self,
        principal: Principal,
        new: NewCase,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
    ) -> CommandResult:
        """Record a new case; a repeat with the same key gives back the first result."""
        outcome = self.prepare_case(
            principal, new, idempotency_key=idempotency_key, fingerprint=fingerprint
        )
        if isinstance(outcome, CommandResult):
            return outcome
        prepared = outcome
        try:
            while True:
                try:
                    recordings = self.save(*prepared.aggregates)
                except IntegrityError:
                    outcome = self.after_clash(prepared)
                    if isinstance(outcome, CommandResult):
                        return outcome
                    prepared = outcome
                else:
                    return self.case_filed(prepared, recordings)
        finally:
            self.release(prepared)

    def prepare_case(
        self,
        principal: Principal,
        new: NewCase,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        store_key: bool = True,
    ) -> CommandResult | PreparedCase:
        """Every check of a create, then its new aggregates, not yet saved.

        A replay of an earlier create comes back as its first result. A PreparedCase holds the
        Idempotency-Key's in-flight claim until ``release``; save its ``aggregates`` together,
        then call ``case_filed``, or ``after_clash`` when the save raised IntegrityError. With
        ``store_key=False`` the case's data key is left in ``key``, to store before the events.
        """
        restricted = new.channel == Channel.WBS or new.category == Category.ETIKA_PEGAWAI
        if not may_create(principal, restricted):
            raise Forbidden("your role may not record this kind of case")
        self._require_unit("intake_unit", new.intake_unit)
        if not principal.serves(new.intake_unit):
            raise Forbidden(f"you do not serve {new.intake_unit}")
        case_id = (
            uuid5(IDEMPOTENCY_NAMESPACE, f"{principal.sub}\x1f{idempotency_key}")
            if idempotency_key
            else uuid4()
        )
        actor = Actor(principal.sub, new.intake_unit)
        return self._prepare(
            case_id, new, actor, bool(idempotency_key), fingerprint, store_key=store_key
        )

    def prepare_public_case(
        self,
        new: NewCase,
        *,
        client: str,
        pin_hash: str,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        store_key: bool = True,
    ) -> CommandResult | PreparedCase:
        """``prepare_case`` for a complainant filing through the public API (no token, no role).

        The Idempotency-Key is scoped to ``client`` (the public client); the PIN's hash is saved
        with the case, in the same transaction, as a PublicAccess aggregate.
        """
        self._require_unit("intake_unit", new.intake_unit)
        case_id = (
            uuid5(PUBLIC_IDEMPOTENCY_NAMESPACE, f"{client}\x1f{idempotency_key}")
            if idempotency_key
            else uuid4()
        )
        return self._prepare(
            case_id,
            new,
            PUBLIC_ACTOR,
            bool(idempotency_key),
            fingerprint,
            store_key=store_key,
            pin_hash=pin_hash,
        )

    def _prepare(
        self,
        case_id: UUID,
        new: NewCase,
        actor: Actor,
        keyed: bool,
        fingerprint: str | None,
        *,
        store_key: bool,
        pin_hash: str | None = None,
    ) -> CommandResult | PreparedCase:
        self._take_claim(case_id)
        prepared: PreparedCase | None = None
        try:
            # Only a keyed create can repeat one; a fresh uuid4 needs no look-up.
            existing = self._find(case_id) if keyed else None
            if existing is not None:
                return self._replay_create(existing, fingerprint)
            key: NewKey | None = None
            if store_key:
                sealer = self.personal_data.sealer_for_new_case(case_id, self.clock.now())
            else:
                sealer, key = self.personal_data.unstored_key_for_new_case(
                    case_id, self.clock.now()
                )
            draft = _Draft(case_id, new, fingerprint, actor, sealer, pin_hash)
            prepared = dataclasses.replace(self._draw(draft, attempt=1), key=key)
            return prepared
        finally:
            if prepared is None:  # a replay or an error: nothing left in flight
                self._drop_claim(case_id)

    def after_clash(self, prepared: PreparedCase) -> CommandResult | PreparedCase:
        """After IntegrityError: the first result if the id was taken, else a new number."""
        existing = self._find(prepared.case.id)
        if existing is not None:
            return self._replay_create(existing, prepared.draft.fingerprint)
        return self._draw(prepared.draft, attempt=prepared.attempt + 1)

    @staticmethod
    def case_filed(prepared: PreparedCase, recordings: list[Any]) -> CommandResult:
        case = prepared.case
        return CommandResult(
            case.id,
            case.status.value,
            case.version,
            recordings[0].notification.id,
            case.tracking_number,
        )

    def release(self, prepared: PreparedCase) -> None:
        """Give up a PreparedCase's in-flight claim (saved or not)."""
        self._drop_claim(prepared.case.id)

    def _draw(self, draft: _Draft, attempt: int) -> PreparedCase:
        """The new case and its tracking-number index, with a freshly drawn number."""
        if attempt > _TRACKING_NUMBER_ATTEMPTS:
            raise RuntimeError("could not draw an unused tracking number")
        new = draft.new
        at = self.clock.now()
        number = tracking_number_from(self.randomness.token_bytes(RANDOM_BYTES))
        case = Complaint.receive(
            id=draft.case_id,
            tracking_number=number,
            kind=new.kind,
            channel=new.channel,
            category=new.category,
            subject=new.subject,
            description=new.description,
            reporter=new.reporter,
            anonymous=new.anonymous,
            confidential=new.confidential,
            needs_inspection=new.needs_inspection,
            intake_unit=new.intake_unit,
            received_at=new.received_at or at,
            external_ref=new.external_ref,
            policy_version=self.policies.current().version,
            request_fingerprint=draft.fingerprint,
            actor=draft.actor,
            at=at,
            sealer=draft.sealer,
            product_registration=new.product_registration,
        )
        index = TrackingNumberIndex.assign(number, draft.case_id, at)
        access = (
            PublicAccess.grant(draft.case_id, draft.pin_hash, draft.actor, at)
            if draft.pin_hash is not None
            else None
        )
        return PreparedCase(case, index, draft, attempt, access=access)

    def authorize(
        self,
        principal: Principal,
        case_id: UUID,
        command: Command | tuple[Command, ...],
        if_match: int | None,
    ) -> Complaint:
        """Check, in API.md's order, that a command may proceed: 404, 403, 428, 412.

        With several commands (a follow-up whose action is not read yet), any one will do.
        """
        case = self._visible(principal, case_id)
        commands = command if isinstance(command, tuple) else (command,)
        if not any(may_issue(principal, c, case) for c in commands):
            verb = commands[0].value.replace("_", " ")
            raise Forbidden(f"your role may not {verb} this case")
        if if_match is None:
            raise PreconditionRequired("send If-Match with the case's current version")
        if if_match != case.version:
            raise VersionConflict(if_match, case.version)
        return case

    def acknowledge(
        self,
        principal: Principal,
        case_id: UUID,
        if_match: int | None,
        *,
        message: str,
        template: TemplateChoice | None = None,
    ) -> CommandResult:
        case = self.authorize(principal, case_id, Command.ACKNOWLEDGE, if_match)
        case.acknowledge(
            message=message,
            actor=self._actor(principal, case),
            at=self.clock.now(),
            template=self._template(case, template),
        )
        return self._save(case, if_match)

    def route(
        self,
        principal: Principal,
        case_id: UUID,
        if_match: int | None,
        *,
        to_unit: str,
        note: str,
        assignee: str | None = None,
    ) -> CommandResult:
        case = self.authorize(principal, case_id, Command.ROUTE, if_match)
        self._require_unit("to_unit", to_unit)
        case.route(
            to_unit=to_unit,
            note=note,
            assignee=assignee,
            actor=self._actor(principal, case),
            at=self.clock.now(),
        )
        return self._save(case, if_match)

    def follow_up(
        self,
        principal: Principal,
        case_id: UUID,
        if_match: int | None,
        *,
        action: FollowUpAction,
        note: str,
        public: bool,
        template: TemplateChoice | None = None,
    ) -> CommandResult:
        case = self.authorize(principal, case_id, command_for_follow_up(action), if_match)
        if template is not None and action != FollowUpAction.INTERIM_ANSWER:
            raise InvalidCommand("template_id", "only an 'interim_answer' follow-up uses one")
        chosen = self._template(case, template)
        at = self.clock.now()
        case.follow_up(
            action=action,
            note=note,
            public=public,
            actor=self._actor(principal, case),
            at=at,
            sealer=self.personal_data.sealer_for(case, at),
            template=chosen,
        )
        return self._save(case, if_match)

    def record_complainant_reply(
        self, principal: Principal, case_id: UUID, if_match: int | None, *, message: str
    ) -> CommandResult:
        case = self.authorize(principal, case_id, Command.RECORD_REPLY, if_match)
        at = self.clock.now()
        case.record_complainant_reply(
            message=message,
            actor=self._actor(principal, case),
            at=at,
            sealer=self.personal_data.sealer_for(case, at),
        )
        return self._save(case, if_match)

    def close_case(
        self,
        principal: Principal,
        case_id: UUID,
        if_match: int | None,
        *,
        outcome: Outcome,
        answer: str,
        duplicate_of: UUID | None = None,
        template: TemplateChoice | None = None,
        original_field: str = "duplicate_of",
        forward_to: str | None = None,
    ) -> CommandResult:
        case = self.authorize(principal, case_id, Command.CLOSE, if_match)
        chosen = self._template(case, template)
        if duplicate_of is not None:
            self._check_original(principal, case, duplicate_of, original_field)
        at = self.clock.now()
        case.close(
            outcome=outcome,
            answer=answer,
            duplicate_of=duplicate_of,
            actor=self._actor(principal, case),
            at=at,
            sealer=self.personal_data.sealer_for(case, at),
            template=chosen,
            forward_to=forward_to,
        )
        return self._save(case, if_match)

    def mark_duplicate(
        self,
        principal: Principal,
        case_id: UUID,
        if_match: int | None,
        *,
        original_id: UUID,
        note: str | None = None,
    ) -> CommandResult:
        """Close the case as a duplicate of ``original_id``: one ``Closed`` event.

        The original must be another case the caller sees (404 otherwise, like any hidden
        case), and must not lead back to this one through its own ``duplicate_of`` (409).
        """
        return self.close_case(
            principal,
            case_id,
            if_match,
            outcome=Outcome.DUPLICATE,
            answer=note or DUPLICATE_ANSWER,
            duplicate_of=original_id,
            original_field="original_id",
        )

    def reopen(
        self, principal: Principal, case_id: UUID, if_match: int | None, *, reason: str
    ) -> CommandResult:
        case = self.authorize(principal, case_id, Command.REOPEN, if_match)
        case.reopen(reason=reason, actor=self._actor(principal, case), at=self.clock.now())
        return self._save(case, if_match)

    def authorize_erasure(
        self, principal: Principal, case_id: UUID, if_match: int | None
    ) -> Complaint:
        """404, 403, 428, 412 for an erasure: admins find every case, others only their own."""
        case = self._find(case_id)
        if not isinstance(case, Complaint) or (
            not principal.has(Role.ADMIN) and not can_see(principal, case)
        ):
            raise NotFound(f"no case {case_id}")
        if not may_erase_reporter(principal):
            raise Forbidden("only an admin may erase a reporter's data")
        if if_match is None:
            raise PreconditionRequired("send If-Match with the case's current version")
        if if_match != case.version:
            raise VersionConflict(if_match, case.version)
        return case

    def erase_reporter(
        self, principal: Principal, case_id: UUID, if_match: int | None, *, reason: str
    ) -> CommandResult:
        """Destroy the case's data key (UU 27/2022) and record who did it, when and why.

        The key goes first: should recording the event fail, the data is unreadable already
        and a retry records it. Later free text of the case is sealed under a fresh key.
        """
        case = self.authorize_erasure(principal, case_id, if_match)
        at = self.clock.now()
        erased_key_id, next_key_id = case.key_id, uuid4()
        case.erase_reporter(
            reason=reason, next_key_id=next_key_id, actor=self._admin(principal), at=at
        )
        self.personal_data.new_key(at, next_key_id)
        if erased_key_id is not None:
            self.personal_data.erase(erased_key_id, at)
        return self._save(case, if_match)

    def access_log_entries(
        self, principal: Principal, complaint_id: UUID | None, after: int, limit: int
    ) -> tuple[list[AccessRecord], int | None]:
        """A page of the access log and where the next page starts (None at the end).

        Reads of WBS and staff-ethics cases are listed only for admins and auditors granted
        those cases' units; the others are skipped, like the cases themselves.
        """
        if not may_read(principal, Read.ACCESS_LOG):
            raise Forbidden("only auditors and admins read the access log")
        found = self.access_log.entries(complaint_id, after, limit + 1)
        page = found[:limit]
        next_after = page[-1].seq if len(found) > limit and page else None
        if principal.has(Role.ADMIN):
            return page, next_after
        cases: dict[UUID, Complaint | None] = {}
        visible = []
        for entry in page:
            if entry.complaint_id not in cases:
                cases[entry.complaint_id] = self._find(entry.complaint_id)
            case = cases[entry.complaint_id]
            if (
                case is None
                or not case.is_restricted
                or sees_restricted_case(principal, case.units())
            ):
                visible.append(entry)
        return visible, next_after

    # --- queries -------------------------------------------------------------------------

    def duplicate_probe(
        self, principal: Principal, case_id: UUID, *, route: str = "possible-duplicates"
    ) -> DuplicateProbe:
        """What finding the case's likely duplicates compares, as far as the caller may use it.

        The reporter's match hashes only for a caller who sees the reporter, and none once the
        reporter is erased; the description only while it can still be opened.
        """
        case = self._visible(principal, case_id)
        record_read(self.access_log, principal, case, route, self.clock.now())
        reporter = case.reporter
        hashes: tuple[str | None, str | None] = (None, None)
        if (
            isinstance(reporter, SealedReporter)
            and not case.reporter_erased
            and sees_identity(principal, case)
        ):
            hashes = (reporter.email_match, reporter.phone_match)
        description = None
        if not case.reporter_erased:
            opener = self.personal_data.opener(case.id)
            if not opener.erased(case.description):
                description = opener.text("description", case.description)
        text = case.subject if not description else f"{case.subject}\n{description}"
        return DuplicateProbe(
            case_id=case.id,
            category=case.category.value,
            product_registration=case.product_registration,
            email_match=hashes[0],
            phone_match=hashes[1],
            text=text,
        )

    def case(
        self,
        principal: Principal,
        case_id: UUID,
        *,
        as_of_version: int | None = None,
        as_of: datetime | None = None,
        route: str = "case",
    ) -> CaseSnapshot:
        """The case now, or as it stood at a version or a recorded time, with its stages."""
        if as_of_version is None and as_of is None:
            current = self._visible(principal, case_id)
            record_read(self.access_log, principal, current, route, self.clock.now())
            return self._snapshot(principal, current, self.clock.now())
        # The events are read and decoded once: replayed whole for who may see the case now,
        # then up to the point asked for.
        events = list(self.events.get(case_id))
        current = self._visible(principal, case_id, replayed=_replay(events))
        record_read(self.access_log, principal, current, route, self.clock.now())
        if as_of_version is not None and as_of_version > current.version:
            raise NotFound(f"the case has no version {as_of_version} (it is at {current.version})")
        if as_of_version is not None:
            events = [e for e in events if e.originator_version <= as_of_version]
        if as_of is not None:
            events = [e for e in events if e.timestamp <= as_of]
        if not events:
            raise NotFound("the case did not exist yet at that point")
        case = _replay(events)
        assert case is not None
        moment = as_of if as_of is not None else events[-1].timestamp
        return self._snapshot(principal, case, moment)

    def history(
        self, principal: Principal, case_id: UUID, *, route: str = "history"
    ) -> list[HistoryEntry]:
        case = self._visible(principal, case_id)
        record_read(self.access_log, principal, case, route, self.clock.now())
        positions = self.positions.positions(case_id)
        opener = self.personal_data.opener(case_id)
        identity = sees_identity(principal, case)
        entries = []
        for event in self.events.get(case_id):
            entry = self._history_entry(event, positions)
            data = disclosed_data(opener, identity, entry.data)
            entries.append(dataclasses.replace(entry, data=data))
        return entries

    def case_id_for_tracking_number(self, principal: Principal, tracking_number: str) -> UUID:
        try:
            canonical = normalise(tracking_number)
        except ValueError as error:
            raise NotFound(str(error)) from error
        try:
            index: TrackingNumberIndex = self.repository.get(TrackingNumberIndex.id_for(canonical))
        except AggregateNotFoundError as error:
            raise NotFound(f"no case has tracking number {tracking_number}") from error
        self._visible(principal, index.complaint_id)
        return index.complaint_id

    # --- helpers -------------------------------------------------------------------------

    def _snapshot(self, principal: Principal, case: Complaint, moment: datetime) -> CaseSnapshot:
        stages = service_levels(
            case,
            self.policies.get(case.policy_version),
            self.calendars.calendar(),
            self.units.zone_of,
            moment,
        )
        personal = disclose(self.personal_data.opener(case.id), principal, case)
        return CaseSnapshot(case, stages, moment, personal)

    def _find(self, case_id: UUID) -> Complaint | None:
        try:
            return self.repository.get(case_id)
        except AggregateNotFoundError:
            return None

    def _visible(
        self,
        principal: Principal,
        case_id: UUID,
        field: str | None = None,
        *,
        replayed: Any = _UNREAD,
    ) -> Complaint:
        """The case if ``principal`` may see it, else NotFound; ``replayed``: the case already
        replayed from its events (None: it has none), instead of loading it."""
        case = self._find(case_id) if replayed is _UNREAD else replayed
        if case is None or not isinstance(case, Complaint) or not can_see(principal, case):
            where = f" ({field})" if field else ""
            raise NotFound(f"no case {case_id}{where}")
        return case

    def _template(self, case: Complaint, choice: TemplateChoice | None) -> AnswerTemplate | None:
        """The standard answer an officer picked (latest version unless named), checked: 422
        for an unknown template or version, or one of another category."""
        if choice is None:
            return None
        config: AgencyConfiguration | None
        try:
            config = self.repository.get(AgencyConfiguration.ID)
        except AggregateNotFoundError:
            config = None
        versions = config.templates.get(choice.id) if config is not None else None
        if not versions:
            raise InvalidCommand("template_id", f"no answer template {choice.id}")
        if choice.version is None:
            chosen = versions[-1]
        else:
            found = [t for t in versions if t.version == choice.version]
            if not found:
                raise InvalidCommand(
                    "template_version",
                    f"template {choice.id} has versions 1..{versions[-1].version}",
                )
            chosen = found[0]
        if chosen.category != case.category.value:
            raise InvalidCommand(
                "template_id",
                f"the template is for '{chosen.category}', the case is '{case.category.value}'",
            )
        return chosen

    def _check_original(
        self, principal: Principal, case: Complaint, original_id: UUID, field: str
    ) -> None:
        """422 for the case itself, 404 for a case the caller does not see, 409 for a cycle."""
        if original_id == case.id:
            raise InvalidCommand(field, "a case cannot duplicate itself")
        original = self._visible(principal, original_id, field=field)
        seen = {case.id}
        step: Complaint | None = original
        for _ in range(_MAX_DUPLICATE_CHAIN):
            if step is None or step.duplicate_of is None:
                return
            if step.duplicate_of in seen:
                raise DuplicateCycle(
                    f"case {original_id} is closed as a duplicate of this case (directly or "
                    "through others): mark it the other way round, or reopen it first"
                )
            seen.add(step.id)
            step = self._find(step.duplicate_of)
        raise DuplicateCycle(f"case {original_id} starts a chain of duplicates too long to follow")

    def _require_unit(self, field: str, code: str) -> None:
        if code not in self.units:
            raise UnknownUnit(field, code)

    @staticmethod
    def _admin(principal: Principal) -> Actor:
        return Actor(principal.sub, None)

    @staticmethod
    def _actor(principal: Principal, case: Complaint) -> Actor:
        return Actor(principal.sub, principal.acting_unit(case))

    def relay_complainant_message(
        self, case_id: UUID, *, message: str, attempts: int = 5
    ) -> CommandResult:
        """A complainant's message that a connector matched to an open case (a reply to the
        acknowledgement email, a chat message): recorded as the complainant's reply, ending a
        wait for data if there is one. No If-Match: on a version clash the case is loaded again
        and the message recorded on what the other write stored.

        Raises NotFound for an unknown case, TransitionNotAllowed when it is closed (the
        connector then files the message as a new case, so nothing is lost).
        """
        for _ in range(attempts):
            case = self._find(case_id)
            if not isinstance(case, Complaint):
                raise NotFound(f"no case {case_id}")
            at = self.clock.now()
            case.record_complainant_message(
                message=message,
                actor=PUBLIC_ACTOR,
                at=at,
                sealer=self.personal_data.sealer_for(case, at),
            )
            try:
                return self._save(case, case.version - 1)
            except VersionConflict:
                continue
        raise VersionConflict(0, None)

    def _save(self, case: Complaint, expected: int | None) -> CommandResult:
        try:
            recordings = self.save(case)
        except IntegrityError as error:
            latest = self._find(case.id)
            raise VersionConflict(expected or 0, latest.version if latest else None) from error
        return CommandResult(
            case.id, case.status.value, case.version, recordings[-1].notification.id
        )

    def _replay_create(self, existing: Complaint, fingerprint: str | None) -> CommandResult:
        if existing.request_fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used with a different request body"
            )
        first = Complaint.INITIAL_VERSION
        return CommandResult(
            existing.id,
            "received",
            first,
            self.positions.positions(existing.id)[first],
            existing.tracking_number,
            replayed=True,
        )

    def _take_claim(self, case_id: UUID) -> None:
        with self._in_flight_lock:
            if case_id in self._in_flight:
                raise RequestInFlight("a request with this Idempotency-Key is still in flight")
            self._in_flight.add(case_id)

    def _drop_claim(self, case_id: UUID) -> None:
        with self._in_flight_lock:
            self._in_flight.discard(case_id)

    @contextmanager
    def _claim(self, case_id: UUID) -> Iterator[None]:
        self._take_claim(case_id)
        try:
            yield
        finally:
            self._drop_claim(case_id)

    @staticmethod
    def _history_entry(event: DomainEventProtocol[Any], positions: dict[int, int]) -> HistoryEntry:
        fields = {k: v for k, v in event.__dict__.items() if k not in _NOT_DATA}
        version = event.originator_version
        return HistoryEntry(
            version=version,
            type=type(event).__name__,
            occurred_at=event.timestamp,
            actor=event.__dict__["actor"],
            data=fields,
            position=positions.get(version),
        )
