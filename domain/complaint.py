"""The Complaint aggregate: a case's whole life as immutable events.

Public methods check the rules and decide; each nested event's ``apply`` only changes state, so
replaying history never re-runs a rule. Times (``at``) and identities come in as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import InvalidCommand, TransitionNotAllowed
from domain.product_registration import normalised_registration
from domain.values import Actor, Reporter, SealedReporter, SealedText, Sealer, Text, seal_reporter
from domain.vocabulary import (
    HIGHEST_SCORE,
    LOWEST_SCORE,
    OPEN_STATUSES,
    SURVEY_ELEMENTS,
    Category,
    Channel,
    FollowUpAction,
    Kind,
    Outcome,
    Status,
)

if TYPE_CHECKING:  # configuration imports service levels, which import this module
    from domain.configuration import AnswerTemplate

ROUTABLE_FROM = (Status.ACKNOWLEDGED, Status.ROUTED, Status.IN_FOLLOW_UP, Status.REOPENED)
FOLLOW_UP_FROM = (Status.ROUTED, Status.IN_FOLLOW_UP, Status.REOPENED)
REQUEST_DATA_FROM = (Status.ACKNOWLEDGED, *FOLLOW_UP_FROM)
CLOSABLE_FROM = ROUTABLE_FROM
CONFIDENTIAL_CHANNELS = frozenset({Channel.WBS})
RESTRICTED_CATEGORIES = frozenset({Category.ETIKA_PEGAWAI})
# The earliest instant a case may have been received: older ones are typing or clock errors,
# and instants near year 1 cannot be counted in working days (they stopped every read model).
EARLIEST_RECEIVED_AT = datetime(2000, 1, 1, tzinfo=UTC)


def plausible_received_at(sent_at: datetime | None, now: datetime) -> datetime:
    """When a connector's message was received: when its peer says it was sent, or now when
    that is missing, in the future or before EARLIEST_RECEIVED_AT (a peer's clock or parser
    error must not refuse the message)."""
    if sent_at is None or sent_at > now or sent_at < EARLIEST_RECEIVED_AT:
        return now
    return sent_at


def _no_template(state: dict[str, Any]) -> None:
    """Upcast an event stored before standard answers were recorded: none was used."""
    state["template_id"] = None
    state["template_version"] = None


def _record_template(case: Any, template_id: UUID | None, version: int | None) -> None:
    if template_id is not None and version is not None:
        # getattr: a read model's stored state may predate the attribute.
        case.templates_used = (*getattr(case, "templates_used", ()), (template_id, version))


@dataclass(frozen=True)
class Routing:
    at: datetime
    from_unit: str
    to_unit: str
    assignee: str | None


@dataclass(frozen=True)
class FollowUp:
    at: datetime
    action: str
    public: bool


@dataclass(frozen=True)
class Pause:
    """A wait for the complainant's missing data; ``ended`` is None while it lasts."""

    started: datetime
    ended: datetime | None


class Complaint(Aggregate):
    """One case: a complaint, an information request or a suggestion."""

    class Received(Aggregate.Created):
        tracking_number: str
        kind: str
        channel: str
        category: str
        subject: str
        description: Text
        reporter: Reporter | SealedReporter | None
        anonymous: bool
        confidential: bool
        needs_inspection: bool
        intake_unit: str
        received_at: datetime
        external_ref: str | None
        policy_version: int
        request_fingerprint: str | None
        actor: Actor
        product_registration: str | None

        class_version = 2  # 2: product_registration (None in older events)

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["product_registration"] = None

        def apply(self, aggregate: Any) -> None:
            case: Complaint = aggregate
            case.tracking_number = self.tracking_number
            case.kind = Kind(self.kind)
            case.channel = Channel(self.channel)
            case.category = Category(self.category)
            case.subject = self.subject
            case.description = self.description
            case.reporter = self.reporter
            case.anonymous = self.anonymous
            case.confidential = self.confidential
            case.needs_inspection = self.needs_inspection
            case.intake_unit = self.intake_unit
            case.handling_unit = self.intake_unit
            case.assignee = None
            case.received_at = self.received_at
            case.external_ref = self.external_ref
            case.policy_version = self.policy_version
            case.request_fingerprint = self.request_fingerprint
            case.received_by = self.actor
            case.status = Status.RECEIVED
            case.acknowledged_at = None
            case.routings = []
            case.follow_ups = []
            case.pauses = []
            case.outcome = None
            case.answer = None
            case.duplicate_of = None
            case.closed_at = None
            case.reopened_at = None
            case.reopen_count = 0
            # The case's data key: every sealed field of the case names it.
            case.key_id = (
                self.description.key_id if isinstance(self.description, SealedText) else None
            )
            case.reporter_erased_at = None
            case.survey_answered_at = None
            case.flagged_for_review = False
            case.product_registration = self.product_registration
            case.templates_used = ()

    class Acknowledged(Aggregate.Event):
        message: str
        actor: Actor
        template_id: UUID | None
        template_version: int | None

        class_version = 2  # 2: the standard answer used, if any (None in older events)
        upcast_v1_v2 = staticmethod(_no_template)

        def apply(self, aggregate: Any) -> None:
            aggregate.status = Status.ACKNOWLEDGED
            aggregate.acknowledged_at = self.timestamp
            _record_template(aggregate, self.template_id, self.template_version)

    class Routed(Aggregate.Event):
        from_unit: str
        to_unit: str
        note: str
        assignee: str | None
        actor: Actor

        def apply(self, aggregate: Any) -> None:
            aggregate.status = Status.ROUTED
            aggregate.handling_unit = self.to_unit
            aggregate.assignee = self.assignee
            aggregate.routings.append(
                Routing(self.timestamp, self.from_unit, self.to_unit, self.assignee)
            )

    class FollowedUp(Aggregate.Event):
        action: str
        note: Text
        public: bool
        actor: Actor
        template_id: UUID | None
        template_version: int | None

        class_version = 2  # 2: the standard answer used, if any (None in older events)
        upcast_v1_v2 = staticmethod(_no_template)

        def apply(self, aggregate: Any) -> None:
            _record_template(aggregate, self.template_id, self.template_version)
            if aggregate.status in FOLLOW_UP_FROM:
                aggregate.status = Status.IN_FOLLOW_UP
            aggregate.follow_ups.append(FollowUp(self.timestamp, self.action, self.public))
            if self.action == FollowUpAction.REQUEST_DATA and not aggregate.waiting_for_complainant:
                aggregate.pauses.append(Pause(self.timestamp, None))

    class ComplainantReplied(Aggregate.Event):
        message: Text
        actor: Actor

        def apply(self, aggregate: Any) -> None:
            aggregate._end_pause(self.timestamp)

    class Closed(Aggregate.Event):
        outcome: str
        answer: Text
        duplicate_of: UUID | None
        actor: Actor
        template_id: UUID | None
        template_version: int | None

        class_version = 2  # 2: the standard answer used, if any (None in older events)
        upcast_v1_v2 = staticmethod(_no_template)
        # The agency a ``forwarded`` case went to ("bukan wewenang"); absent from older events.
        forward_to: str | None = None

        def apply(self, aggregate: Any) -> None:
            _record_template(aggregate, self.template_id, self.template_version)
            aggregate._end_pause(self.timestamp)
            aggregate.status = Status.CLOSED
            aggregate.outcome = Outcome(self.outcome)
            aggregate.answer = self.answer
            aggregate.duplicate_of = self.duplicate_of
            aggregate.closed_at = self.timestamp

    class Reopened(Aggregate.Event):
        reason: str
        actor: Actor

        def apply(self, aggregate: Any) -> None:
            aggregate.status = Status.REOPENED
            aggregate.reopened_at = self.timestamp
            aggregate.reopen_count += 1
            aggregate.outcome = None
            aggregate.answer = None
            aggregate.duplicate_of = None
            aggregate.closed_at = None

    class SurveyAnswered(Aggregate.Event):
        """The complainant rated the service once after closure (IKM, PermenPANRB 14/2017).

        ``scores`` are nine integers 1-4 in ``SURVEY_ELEMENTS`` order; a 1 anywhere flags the case
        for the unit head's review. The event's timestamp is the survey date (its IKM period);
        ``unit`` is the handling unit at that moment, the unit the IKM is reported for.
        """

        scores: list[int]
        comment: Text | None
        unit: str
        flagged: bool
        actor: Actor

        def apply(self, aggregate: Any) -> None:
            aggregate.survey_answered_at = self.timestamp
            aggregate.flagged_for_review = self.flagged

    class ReporterErased(Aggregate.Event):
        """The reporter's data key was destroyed (UU 27/2022): their data is unreadable for good.

        Later free text is sealed under ``next_key_id``, a fresh key of the case.
        """

        reason: str
        erased_key_id: UUID | None
        next_key_id: UUID | None
        actor: Actor

        def apply(self, aggregate: Any) -> None:
            aggregate.reporter_erased_at = self.timestamp
            aggregate.key_id = self.next_key_id

    if TYPE_CHECKING:  # set by Received.apply; class-level annotations would become __init__ args
        tracking_number: str
        kind: Kind
        channel: Channel
        category: Category
        subject: str
        description: Text
        reporter: Reporter | SealedReporter | None
        anonymous: bool
        confidential: bool
        needs_inspection: bool
        intake_unit: str
        handling_unit: str
        assignee: str | None
        received_at: datetime
        external_ref: str | None
        policy_version: int
        request_fingerprint: str | None
        received_by: Actor
        status: Status
        acknowledged_at: datetime | None
        routings: list[Routing]
        follow_ups: list[FollowUp]
        pauses: list[Pause]
        outcome: Outcome | None
        answer: Text | None
        duplicate_of: UUID | None
        closed_at: datetime | None
        reopened_at: datetime | None
        reopen_count: int
        key_id: UUID | None
        reporter_erased_at: datetime | None
        survey_answered_at: datetime | None
        flagged_for_review: bool
        product_registration: str | None
        templates_used: tuple[tuple[UUID, int], ...]

    @classmethod
    def receive(
        cls,
        *,
        id: UUID,
        tracking_number: str,
        kind: Kind,
        channel: Channel,
        category: Category,
        subject: str,
        description: str,
        reporter: Reporter | None,
        anonymous: bool,
        confidential: bool,
        needs_inspection: bool,
        intake_unit: str,
        received_at: datetime,
        external_ref: str | None,
        policy_version: int,
        request_fingerprint: str | None,
        actor: Actor,
        at: datetime,
        sealer: Sealer | None = None,
        product_registration: str | None = None,
    ) -> Complaint:
        """Record a case that arrived on any channel.

        With a ``sealer`` (the application always gives one) the reporter and the description
        are stored encrypted under the case's data key. ``product_registration`` (a BPOM
        number the case is about) is stored in its normal form, for finding duplicates.
        """
        registration = normalised_registration(product_registration)
        if received_at.tzinfo is None:
            raise InvalidCommand("received_at", "must carry a time zone offset")
        if received_at > at:
            raise InvalidCommand("received_at", "must not be in the future")
        if received_at < EARLIEST_RECEIVED_AT:
            raise InvalidCommand("received_at", "must not be before 2000-01-01")
        if not subject.strip():
            raise InvalidCommand("subject", "must not be blank")
        if not description.strip():
            raise InvalidCommand("description", "must not be blank")
        if channel in CONFIDENTIAL_CHANNELS:
            confidential = True
        if reporter is not None and reporter.is_empty():
            reporter = None
        stored_reporter: Reporter | SealedReporter | None = reporter
        stored_description: Text = description
        if sealer is not None:
            stored_reporter = seal_reporter(reporter, sealer) if reporter is not None else None
            stored_description = sealer.seal("description", description)
        return cls._create(
            cls.Received,
            id=id,
            timestamp=at,
            tracking_number=tracking_number,
            kind=kind.value,
            channel=channel.value,
            category=category.value,
            subject=subject,
            description=stored_description,
            reporter=stored_reporter,
            anonymous=anonymous,
            confidential=confidential,
            needs_inspection=needs_inspection,
            intake_unit=intake_unit,
            received_at=received_at,
            external_ref=external_ref,
            policy_version=policy_version,
            request_fingerprint=request_fingerprint,
            actor=actor,
            product_registration=registration,
        )

    # --- derived state -------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def waiting_for_complainant(self) -> bool:
        return bool(self.pauses) and self.pauses[-1].ended is None

    @property
    def is_restricted(self) -> bool:
        """Whistle-blowing and staff-ethics cases: seen only by their designated roles."""
        return self.channel in CONFIDENTIAL_CHANNELS or self.category in RESTRICTED_CATEGORIES

    def units(self) -> frozenset[str]:
        return frozenset({self.intake_unit, self.handling_unit})

    # --- commands ------------------------------------------------------------------------

    def acknowledge(
        self,
        *,
        message: str,
        actor: Actor,
        at: datetime,
        template: AnswerTemplate | None = None,
    ) -> None:
        self._require("acknowledge", (Status.RECEIVED,))
        self.trigger_event(
            self.Acknowledged,
            timestamp=at,
            message=message,
            actor=actor,
            **self._template_fields(template),
        )

    def route(
        self, *, to_unit: str, note: str, assignee: str | None, actor: Actor, at: datetime
    ) -> None:
        self._require("route", ROUTABLE_FROM)
        if to_unit == self.handling_unit and assignee == self.assignee:
            raise InvalidCommand("to_unit", f"the case is already with {to_unit}")
        self.trigger_event(
            self.Routed,
            timestamp=at,
            from_unit=self.handling_unit,
            to_unit=to_unit,
            note=note,
            assignee=assignee,
            actor=actor,
        )

    def follow_up(
        self,
        *,
        action: FollowUpAction,
        note: str,
        public: bool,
        actor: Actor,
        at: datetime,
        sealer: Sealer | None = None,
        template: AnswerTemplate | None = None,
    ) -> None:
        allowed = REQUEST_DATA_FROM if action == FollowUpAction.REQUEST_DATA else FOLLOW_UP_FROM
        self._require("follow_up", allowed)
        if action == FollowUpAction.REQUEST_DATA and self.waiting_for_complainant:
            raise InvalidCommand("action", "the case is already waiting for the complainant")
        if template is not None and action != FollowUpAction.INTERIM_ANSWER:
            raise InvalidCommand("template_id", "only an 'interim_answer' follow-up uses one")
        self.trigger_event(
            self.FollowedUp,
            timestamp=at,
            action=action.value,
            note=_sealed(sealer, "note", note),
            public=public,
            actor=actor,
            **self._template_fields(template),
        )

    def record_complainant_reply(
        self, *, message: str, actor: Actor, at: datetime, sealer: Sealer | None = None
    ) -> None:
        """The complainant sent the missing data: the SLA clock runs again."""
        self._require("record_complainant_reply", tuple(OPEN_STATUSES))
        if not self.waiting_for_complainant:
            raise TransitionNotAllowed(
                "record_complainant_reply", "not waiting for the complainant"
            )
        self.trigger_event(
            self.ComplainantReplied,
            timestamp=at,
            message=_sealed(sealer, "message", message),
            actor=actor,
        )

    def record_complainant_message(
        self, *, message: str, actor: Actor, at: datetime, sealer: Sealer | None = None
    ) -> None:
        """A message from the complainant on an open case that came in through a connector
        (a reply to the acknowledgement email, a chat message): always kept; when the case waits
        for the complainant it ends the wait, as a reply does."""
        self._require("record_complainant_message", tuple(OPEN_STATUSES))
        self.trigger_event(
            self.ComplainantReplied,
            timestamp=at,
            message=_sealed(sealer, "message", message),
            actor=actor,
        )

    def close(
        self,
        *,
        outcome: Outcome,
        answer: str,
        actor: Actor,
        at: datetime,
        duplicate_of: UUID | None = None,
        sealer: Sealer | None = None,
        template: AnswerTemplate | None = None,
        forward_to: str | None = None,
    ) -> None:
        self._require("close", CLOSABLE_FROM)
        if forward_to is not None and outcome != Outcome.FORWARDED:
            raise InvalidCommand("forward_to", "only allowed when the outcome is 'forwarded'")
        if forward_to is not None and not forward_to.strip():
            raise InvalidCommand("forward_to", "must not be blank")
        if outcome == Outcome.DUPLICATE and duplicate_of is None:
            raise InvalidCommand("duplicate_of", "required when the outcome is 'duplicate'")
        if outcome != Outcome.DUPLICATE and duplicate_of is not None:
            raise InvalidCommand("duplicate_of", "only allowed when the outcome is 'duplicate'")
        if duplicate_of == self.id:
            raise InvalidCommand("duplicate_of", "a case cannot duplicate itself")
        if outcome == Outcome.ARCHIVED_MISSING_DATA and not self.waiting_for_complainant:
            raise TransitionNotAllowed("close (archived_missing_data)", "not waiting for data")
        self.trigger_event(
            self.Closed,
            timestamp=at,
            outcome=outcome.value,
            answer=_sealed(sealer, "answer", answer),
            duplicate_of=duplicate_of,
            actor=actor,
            **self._template_fields(template),
            forward_to=forward_to,
        )

    def reopen(self, *, reason: str, actor: Actor, at: datetime) -> None:
        self._require("reopen", (Status.CLOSED,))
        self.trigger_event(self.Reopened, timestamp=at, reason=reason, actor=actor)

    def answer_survey(
        self,
        *,
        scores: list[int],
        comment: str | None,
        actor: Actor,
        at: datetime,
        sealer: Sealer | None = None,
    ) -> None:
        """The complainant's one satisfaction survey, allowed once the case is closed."""
        self._require("answer_survey", (Status.CLOSED,))
        if self.survey_answered_at is not None:
            raise TransitionNotAllowed("answer_survey (already answered)", self.status.value)
        if len(scores) != len(SURVEY_ELEMENTS):
            raise InvalidCommand("scores", f"must hold exactly {len(SURVEY_ELEMENTS)} scores")
        if any(
            isinstance(s, bool) or not isinstance(s, int) or not LOWEST_SCORE <= s <= HIGHEST_SCORE
            for s in scores
        ):
            raise InvalidCommand(
                "scores", f"each score must be an integer {LOWEST_SCORE}-{HIGHEST_SCORE}"
            )
        text = comment.strip() if comment else None
        self.trigger_event(
            self.SurveyAnswered,
            timestamp=at,
            scores=list(scores),
            comment=_sealed(sealer, "comment", text) if text else None,
            unit=self.handling_unit,
            flagged=LOWEST_SCORE in scores,
            actor=actor,
        )

    def erase_reporter(
        self, *, reason: str, next_key_id: UUID | None, actor: Actor, at: datetime
    ) -> None:
        """Record that the case's data key was destroyed; allowed once, in any status."""
        if self.reporter_erased_at is not None:
            raise TransitionNotAllowed("erase_reporter (already erased)", self.status.value)
        if not reason.strip():
            raise InvalidCommand("reason", "must not be blank")
        self.trigger_event(
            self.ReporterErased,
            timestamp=at,
            reason=reason,
            erased_key_id=self.key_id,
            next_key_id=next_key_id,
            actor=actor,
        )

    @property
    def reporter_erased(self) -> bool:
        return self.reporter_erased_at is not None

    # --- helpers -------------------------------------------------------------------------

    def allows(self, command: str) -> bool:
        """Whether the status machine allows ``command`` now (roles aside)."""
        return self.status in ALLOWED_FROM.get(command, ())

    def _require(self, command: str, allowed: tuple[Status, ...]) -> None:
        if self.status not in allowed:
            raise TransitionNotAllowed(command, self.status.value, tuple(s.value for s in allowed))

    def _template_fields(self, template: AnswerTemplate | None) -> dict[str, Any]:
        """The standard answer an officer picked: it must be one of the case's category."""
        if template is None:
            return {"template_id": None, "template_version": None}
        if template.category != self.category.value:
            raise InvalidCommand(
                "template_id",
                f"the template is for '{template.category}', the case is '{self.category.value}'",
            )
        return {"template_id": template.id, "template_version": template.version}

    def _end_pause(self, at: datetime) -> None:
        if self.waiting_for_complainant:
            self.pauses[-1] = Pause(self.pauses[-1].started, at)


ALLOWED_FROM: dict[str, tuple[Status, ...]] = {
    "acknowledge": (Status.RECEIVED,),
    "route": ROUTABLE_FROM,
    "follow_up": REQUEST_DATA_FROM,
    "close": CLOSABLE_FROM,
    "reopen": (Status.CLOSED,),
    "answer_survey": (Status.CLOSED,),
    "record_complainant_reply": tuple(OPEN_STATUSES),
}


def _sealed(sealer: Sealer | None, field: str, text: str) -> Text:
    return sealer.seal(field, text) if sealer is not None else text
