"""The complainant's side: file a case, follow it with its tracking number and PIN, answer.

No token: whoever holds a case's PIN acts as the public actor (``sub`` ``public``, no unit) on
that case alone, and only through the commands here (reply with the requested data, rate the
service, object to the answer); no officer command is reachable this way. A wrong PIN and an
unknown tracking number give the same NotFound, after the same work; failed attempts are
counted per tracking number and per client, and past the limit every attempt, right or wrong,
is refused until the window passes, so PINs cannot be guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application.complaints import CommandResult, Complaints, NewCase, PreparedCase
from application.errors import NotFound, TooManyAttempts, VersionConflict
from application.pins import SALT_BYTES, hash_pin, new_pin, verify_pin
from application.ports import AccessRecord
from domain.complaint import Complaint
from domain.public_access import PublicAccess
from domain.tracking_index import TrackingNumberIndex
from domain.tracking_number import normalise
from domain.values import PUBLIC_ACTOR, SYSTEM_ACTOR, Sealer
from domain.vocabulary import Channel

# Channels a complainant may file on through the public API (officers record the others).
PUBLIC_CHANNELS = frozenset(
    {
        Channel.WEB,
        Channel.MOBILE_APP,
        Channel.WHATSAPP,
        Channel.SMS,
        Channel.LIVE_CHAT,
        Channel.SOCIAL_MEDIA,
        Channel.WBS,
    }
)
ROUTED_TEXT = "Forwarded to the competent unit"
# Subjects the service records events under itself: no token may carry them, so that history and
# audit never confuse an officer with the complainant or the timer.
RESERVED_SUBJECTS = frozenset({PUBLIC_ACTOR.sub, SYSTEM_ACTOR.sub})
_NOT_FOUND = "no case with this tracking number and PIN"
_SAVE_ATTEMPTS = 8


class PinAttempts(Protocol):
    """Counts failed PIN attempts per key within a window (Redis-shared or per process)."""

    def blocked(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0 when it may try now."""
        ...

    def failed(self, key: str) -> None:
        """Count one failed attempt under ``key``."""
        ...


@dataclass(frozen=True)
class TimelineEntry:
    """One step of a case as its complainant sees it: no officer, no internal note."""

    type: str  # received, acknowledged, routed, follow_up, data_requested, replied, closed, ...
    at: datetime
    text: str | None = None
    action: str | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class PublicCase:
    tracking_number: str
    status: str
    waiting_for_complainant: bool
    confidential: bool
    kind: str | None = None
    category: str | None = None
    subject: str | None = None
    received_at: datetime | None = None
    outcome: str | None = None
    survey_answered: bool = False
    timeline: list[TimelineEntry] = field(default_factory=list)


@dataclass(frozen=True)
class PinHolder:
    """Proof, made only by ``PublicDesk.open``, that the caller holds this case's PIN."""

    case_id: UUID


@dataclass(frozen=True)
class PublicAnswer:
    """What a public command answers: no case id, no officer."""

    tracking_number: str
    status: str
    waiting_for_complainant: bool
    version: int
    position: int


@dataclass(frozen=True)
class Filing:
    """A public create: the first result or a replay, and the PIN (None on a replay)."""

    outcome: CommandResult | PreparedCase
    pin: str | None


class PublicDesk:
    """The public API's use cases, over the Complaints application."""

    def __init__(
        self,
        complaints: Complaints,
        *,
        intake_unit: str,
        number_attempts: PinAttempts | None = None,
        client_attempts: PinAttempts | None = None,
    ) -> None:
        self.complaints = complaints
        self.intake_unit = intake_unit
        self.number_attempts = number_attempts  # failed PINs per tracking number
        self.client_attempts = client_attempts  # failed PINs per public client

    # --- filing --------------------------------------------------------------------------

    def prepare_filing(
        self,
        new: NewCase,
        *,
        client: str,
        idempotency_key: str | None,
        fingerprint: str | None,
        store_key: bool = True,
    ) -> Filing:
        """A checked public create with a fresh PIN (saved hashed with the case), or a replay.

        Save a PreparedCase's ``aggregates`` together, as for an officer's create.
        """
        randomness = self.complaints.randomness
        pin = new_pin(randomness)
        pin_hash = hash_pin(pin, randomness.token_bytes(SALT_BYTES))
        outcome = self.complaints.prepare_public_case(
            new,
            client=client,
            pin_hash=pin_hash,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            store_key=store_key,
        )
        return Filing(outcome, None if isinstance(outcome, CommandResult) else pin)

    def file(
        self, new: NewCase, *, client: str, idempotency_key: str | None, fingerprint: str | None
    ) -> tuple[CommandResult, str | None]:
        """File and save at once (no group commit); the result and the PIN (None on a replay)."""
        complaints = self.complaints
        filing = self.prepare_filing(
            new, client=client, idempotency_key=idempotency_key, fingerprint=fingerprint
        )
        if isinstance(filing.outcome, CommandResult):
            return filing.outcome, None
        prepared = filing.outcome
        try:
            while True:
                try:
                    recordings = complaints.save(*prepared.aggregates)
                except IntegrityError:
                    outcome = complaints.after_clash(prepared)
                    if isinstance(outcome, CommandResult):
                        return outcome, None
                    prepared = outcome
                else:
                    return complaints.case_filed(prepared, recordings), filing.pin
        finally:
            complaints.release(prepared)

    # --- the PIN holder's reads and commands -----------------------------------------------

    def open(self, tracking_number: str, pin: str | None, client: str) -> PinHolder:
        """Proof that ``pin`` opens the case of ``tracking_number``; NotFound for any mismatch.

        Past the limit of failed attempts (of this number, or of this client) TooManyAttempts,
        before any PIN is checked, so a right guess then gains nothing either.
        """
        try:
            canonical: str | None = normalise(tracking_number)
        except ValueError:
            canonical = None
        counted: list[tuple[PinAttempts, str]] = []
        if self.client_attempts is not None:
            counted.append((self.client_attempts, f"pin:client:{client}"))
        if self.number_attempts is not None and canonical is not None:
            counted.append((self.number_attempts, f"pin:number:{canonical}"))
        wait = max((attempts.blocked(key) for attempts, key in counted), default=0.0)
        if wait > 0:
            raise TooManyAttempts(wait)
        access = self._access(canonical) if canonical is not None else None
        if not pin or not verify_pin(pin, access.pin_hash if access is not None else None):
            for attempts, key in counted:
                attempts.failed(key)
            raise NotFound(_NOT_FOUND)
        assert access is not None
        return PinHolder(access.complaint_id)

    def track(self, holder: PinHolder) -> PublicCase:
        """Status and public timeline; a confidential case shows its status alone."""
        case = self._load(holder.case_id)
        if case.confidential or case.is_restricted:
            self.complaints.access_log.record(
                AccessRecord(
                    at=self.complaints.clock.now(),
                    sub=PUBLIC_ACTOR.sub,
                    roles=(),
                    complaint_id=case.id,
                    route="GET /v1/public/complaints/{tracking_number}",
                )
            )
        if case.confidential:
            return PublicCase(
                tracking_number=case.tracking_number,
                status=case.status.value,
                waiting_for_complainant=case.waiting_for_complainant,
                confidential=True,
            )
        return PublicCase(
            tracking_number=case.tracking_number,
            status=case.status.value,
            waiting_for_complainant=case.waiting_for_complainant,
            confidential=False,
            kind=case.kind.value,
            category=case.category.value,
            subject=case.subject,
            received_at=case.received_at,
            outcome=case.outcome.value if case.outcome is not None else None,
            survey_answered=case.survey_answered_at is not None,
            timeline=self._timeline(case.id),
        )

    def reply(self, holder: PinHolder, *, message: str) -> PublicAnswer:
        """The requested data: ends the wait for the complainant (the SLA clock runs again)."""

        def act(case: Complaint, at: datetime, sealer: Sealer) -> None:
            case.record_complainant_reply(message=message, actor=PUBLIC_ACTOR, at=at, sealer=sealer)

        return self._command(holder, act)

    def answer_survey(
        self, holder: PinHolder, *, scores: list[int], comment: str | None
    ) -> PublicAnswer:
        """The one satisfaction survey (IKM), once the case is closed."""

        def act(case: Complaint, at: datetime, sealer: Sealer) -> None:
            case.answer_survey(
                scores=scores, comment=comment, actor=PUBLIC_ACTOR, at=at, sealer=sealer
            )

        return self._command(holder, act)

    def object(self, holder: PinHolder, *, reason: str) -> PublicAnswer:
        """The complainant disputes the answer: the closed case is reopened."""

        def act(case: Complaint, at: datetime, sealer: Sealer) -> None:
            case.reopen(reason=reason, actor=PUBLIC_ACTOR, at=at)

        return self._command(holder, act)

    # --- helpers -------------------------------------------------------------------------

    def _access(self, canonical: str) -> PublicAccess | None:
        repository = self.complaints.repository
        try:
            index: TrackingNumberIndex = repository.get(TrackingNumberIndex.id_for(canonical))
            found: PublicAccess = repository.get(PublicAccess.id_for(index.complaint_id))
        except AggregateNotFoundError:
            return None
        return found

    def _command(
        self, holder: PinHolder, act: Callable[[Complaint, datetime, Sealer], None]
    ) -> PublicAnswer:
        """Load, act, save; on a version clash load again and retry (no If-Match here)."""
        complaints = self.complaints
        for _ in range(_SAVE_ATTEMPTS):
            case = self._load(holder.case_id)
            at = complaints.clock.now()
            act(case, at, complaints.personal_data.sealer_for(case, at))
            try:
                recordings = complaints.save(case)
            except IntegrityError:
                continue  # another write won this version: decide again on what it stored
            return PublicAnswer(
                tracking_number=case.tracking_number,
                status=case.status.value,
                waiting_for_complainant=case.waiting_for_complainant,
                version=case.version,
                position=recordings[-1].notification.id,
            )
        raise VersionConflict(case.version, None)

    def _load(self, case_id: UUID) -> Complaint:
        try:
            case: Complaint = self.complaints.repository.get(case_id)
        except AggregateNotFoundError as error:
            raise NotFound(_NOT_FOUND) from error
        return case

    def _timeline(self, case_id: UUID) -> list[TimelineEntry]:
        opener = self.complaints.personal_data.opener(case_id)
        entries: list[TimelineEntry] = []
        for event in self.complaints.events.get(case_id):
            entry = _public_entry(event, opener.text)
            if entry is not None:
                entries.append(entry)
        return entries


def _public_entry(event: Any, text: Callable[[str, Any], str | None]) -> TimelineEntry | None:
    """What the complainant sees of one event; None for what they never see."""
    at = event.timestamp
    by_public = getattr(event, "actor", None) == PUBLIC_ACTOR
    match event:
        case Complaint.Received():
            return TimelineEntry("received", at)
        case Complaint.Acknowledged():
            return TimelineEntry("acknowledged", at, text=event.message)
        case Complaint.Routed():
            # Neither the units' remarks (the note) nor who is assigned.
            return TimelineEntry("routed", at, text=ROUTED_TEXT)
        case Complaint.FollowedUp():
            shown = text("note", event.note) if event.public else None
            if event.action == "request_data":
                return TimelineEntry("data_requested", at, text=shown, action=event.action)
            if not event.public:
                return None
            return TimelineEntry("follow_up", at, text=shown, action=event.action)
        case Complaint.ComplainantReplied():
            return TimelineEntry(
                "replied", at, text=text("message", event.message) if by_public else None
            )
        case Complaint.Closed():
            return TimelineEntry(
                "closed", at, text=text("answer", event.answer), outcome=event.outcome
            )
        case Complaint.Reopened():
            return TimelineEntry("reopened", at, text=event.reason if by_public else None)
        case Complaint.SurveyAnswered():
            return TimelineEntry("survey_answered", at)
    return None
