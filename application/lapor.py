"""The SP4N-LAPOR! connector: its port, the import of assigned reports and the outbound sender.

LAPOR! reports assigned to the agency become cases (channel ``lapor``, ``external_ref`` = the
LAPOR! tracking id). Status changes, public follow-ups and forwards of those cases go back
through an outbox (derived from events by ``projections/lapor``), each with a stable
idempotency key: nothing is lost while either side is down, nothing is sent twice. The
reporter's own comments and withdrawals on LAPOR! come back in (``LaporActivityImporter``):
recorded on the case as the complainant's message, once per LAPOR! activity id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID, uuid5

from eventsourcing.application import AggregateNotFoundError

from application.access import Principal, Role
from application.complaints import IDEMPOTENCY_NAMESPACE, Complaints, NewCase
from application.errors import NotFound, RequestInFlight
from domain.complaint import Complaint, plausible_received_at
from domain.errors import TransitionNotAllowed
from domain.values import Reporter
from domain.vocabulary import Category, Channel, Kind, Outcome

log = logging.getLogger("aduan.lapor")

CONNECTOR = "lapor"
CONNECTOR_SUB = "lapor-connector"
ACTIVITY = "lapor-activity"  # the poll state (cursor) of the report-activity listing
MAX_SUBJECT = 200

# --- the port ---------------------------------------------------------------------------------


class ConnectorUnavailable(Exception):
    """No usable answer (refused, timed out, 5xx, 429): the same request is retried later."""


class ConnectorRejected(Exception):
    """The peer refused the request itself (4xx): retrying the same request cannot help."""


@dataclass(frozen=True)
class LaporReport:
    """One report LAPOR! assigned to the agency, as the adapter read it."""

    tracking_id: str
    title: str
    content: str
    classification: str  # pengaduan, aspirasi, permintaan_informasi, whistle_blowing, ...
    category: str | None
    submitted_at: datetime
    anonymous: bool
    confidential: bool
    reporter: Reporter | None
    # When LAPOR! assigned it to the agency: the agency's clock starts there, not at submission.
    assigned_at: datetime | None = None


@dataclass(frozen=True)
class ReportPage:
    reports: list[LaporReport]
    next_cursor: str | None  # where the next listing starts; None: keep the cursor given
    has_more: bool


@dataclass(frozen=True)
class ReportActivity:
    """Something that happened on LAPOR! to one of the agency's reports (a comment, a withdrawal).

    ``author`` says who did it: ``reporter`` (the complainant), ``agency`` (us: our own follow-ups
    echoed back) or ``lapor`` (LAPOR!'s administrators or system).
    """

    activity_id: str
    tracking_id: str
    type: str  # "comment", "withdrawn", anything else is ignored
    author: str
    text: str
    at: datetime


@dataclass(frozen=True)
class ActivityPage:
    items: list[ReportActivity]
    next_cursor: str | None  # where the next listing starts; None: keep the cursor given
    has_more: bool


@dataclass(frozen=True)
class StatusUpdate:
    """A status change or a public follow-up, for one LAPOR! report."""

    idempotency_key: str
    tracking_id: str
    type: str  # "status" or "follow_up"
    status: str
    message: str | None
    outcome: str | None
    occurred_at: datetime


@dataclass(frozen=True)
class Forwarding:
    """A report the agency is not competent for ("bukan wewenang"), sent on to another one."""

    idempotency_key: str
    tracking_id: str
    target_agency: str
    reason: str
    occurred_at: datetime


class LaporGateway(Protocol):
    """What the agency does with SP4N-LAPOR!; each call raises ConnectorUnavailable or
    ConnectorRejected when it did not go through."""

    def assigned_reports(self, cursor: str | None, limit: int) -> ReportPage:
        """Reports assigned to the agency after ``cursor`` (None: from the beginning)."""
        ...

    def report_activity(self, cursor: str | None, limit: int) -> ActivityPage:
        """Activity on the agency's reports after ``cursor`` (None: from the beginning), oldest
        first: the reporter's comments, withdrawals, and echoes of our own updates."""
        ...

    def send_update(self, update: StatusUpdate) -> None:
        """Post a status change or follow-up; a repeated idempotency key changes nothing."""
        ...

    def forward(self, forwarding: Forwarding) -> None:
        """Hand the report on to another agency; a repeated idempotency key changes nothing."""
        ...


# --- where the connector keeps its state ------------------------------------------------------


@dataclass(frozen=True)
class OutboxEntry:
    """One outbound message: which event of which case, where it stands in delivery."""

    key: str
    seq: int
    case_id: UUID
    version: int
    tracking_id: str
    kind: str  # acknowledged, routed, follow_up, closed, reopened, forwarded
    attempts: int
    next_attempt_at: datetime


@dataclass(frozen=True)
class OutboxCounts:
    pending: int  # not delivered yet, never tried
    retrying: int  # not delivered yet, failed at least once
    rejected: int  # refused by LAPOR!: given up
    delivered: int
    last_error: str | None

    def by_state(self) -> dict[str, int]:
        """The counts as the outbox gauge labels them."""
        return {
            "pending": self.pending,
            "retrying": self.retrying,
            "rejected": self.rejected,
            "delivered": self.delivered,
        }


class SenderOutbox(Protocol):
    """What a sender needs of an outbox."""

    def due(self, now: datetime, limit: int) -> list[OutboxEntry]:
        """For each case, its oldest undelivered message if its next attempt is due at ``now``
        (a case's messages go out in order), the longest waiting first."""
        ...

    def delivered(self, key: str, at: datetime) -> None: ...

    def failed(self, key: str, next_attempt_at: datetime, error: str) -> None:
        """Retry later."""
        ...

    def rejected(self, key: str, at: datetime, error: str) -> None:
        """Given up: the peer refused it; the case's later messages may go."""
        ...


class LaporOutbox(SenderOutbox, Protocol):
    def counts(self) -> OutboxCounts: ...


class ConnectorState(Protocol):
    def cursor(self, name: str) -> str | None: ...

    def polled(self, name: str, cursor: str | None, at: datetime) -> None:
        """A successful poll: the new cursor and when."""
        ...

    def poll_failed(self, name: str, at: datetime, error: str) -> None: ...


class ActivityLog(Protocol):
    """Which LAPOR! activity items were taken in, and what became of them (no text kept)."""

    def processed(self, activity_ids: Collection[str]) -> set[str]:
        """Those of ``activity_ids`` taken in before."""
        ...

    def record_activity(
        self,
        activity_id: str,
        tracking_id: str,
        type_: str,
        result: str,
        case_id: UUID | None,
        at: datetime,
    ) -> None:
        """One item taken in (a repeat of a recorded one changes nothing)."""
        ...

    def latest_filed(self, tracking_id: str) -> UUID | None:
        """The case the latest comment on a closed ``tracking_id`` became, if one did."""
        ...


# --- inbound: assigned reports become cases ---------------------------------------------------

_KINDS = {
    "pengaduan": Kind.COMPLAINT,
    "aspirasi": Kind.SUGGESTION,
    "permintaan_informasi": Kind.INFORMATION_REQUEST,
    "whistle_blowing": Kind.COMPLAINT,
    "wbs": Kind.COMPLAINT,
}
_CONFIDENTIAL_CLASSES = frozenset({"whistle_blowing", "wbs"})
_CATEGORIES = {
    "obat": Category.OBAT,
    "obat tradisional": Category.OBAT_TRADISIONAL,
    "jamu": Category.OBAT_TRADISIONAL,
    "suplemen": Category.SUPLEMEN_KESEHATAN,
    "suplemen kesehatan": Category.SUPLEMEN_KESEHATAN,
    "kosmetik": Category.KOSMETIK,
    "kosmetika": Category.KOSMETIK,
    "pangan": Category.PANGAN_OLAHAN,
    "pangan olahan": Category.PANGAN_OLAHAN,
    "makanan": Category.PANGAN_OLAHAN,
}


def _key(text: str | None) -> str:
    return " ".join((text or "").replace("-", " ").replace("_", " ").lower().split())


def kind_of(classification: str) -> Kind:
    """LAPOR!'s classification as our kind; anything unknown is handled as a complaint."""
    return _KINDS.get(_key(classification).replace(" ", "_"), Kind.COMPLAINT)


def category_of(category: str | None) -> Category:
    """Our category for LAPOR!'s label: a code of ours, a known label, else ``lainnya``."""
    key = _key(category)
    for candidate in Category:
        if key == _key(candidate.value):
            return candidate
    return _CATEGORIES.get(key, Category.LAINNYA)


def case_from_report(report: LaporReport, intake_unit: str, now: datetime) -> NewCase:
    """The case a LAPOR! report becomes, received when it was assigned to the agency (or
    submitted, when LAPOR! does not say), never later than ``now`` (clock skew)."""
    content = report.content if report.content.strip() else report.title
    subject = " ".join(report.title.split()) or " ".join(content.split())
    if not subject:  # an empty report still becomes a case: nothing assigned is dropped
        subject = content = f"Laporan SP4N-LAPOR! {report.tracking_id} tanpa isi"
    if len(subject) > MAX_SUBJECT:
        subject = subject[: MAX_SUBJECT - 1] + "…"
    return NewCase(
        kind=kind_of(report.classification),
        channel=Channel.LAPOR,
        category=category_of(report.category),
        subject=subject,
        description=content,
        reporter=report.reporter,
        anonymous=report.anonymous,
        confidential=report.confidential
        or _key(report.classification).replace(" ", "_") in _CONFIDENTIAL_CLASSES,
        needs_inspection=False,
        intake_unit=intake_unit,
        received_at=plausible_received_at(report.assigned_at or report.submitted_at, now),
        external_ref=report.tracking_id,
    )


def import_key(tracking_id: str) -> str:
    """The create's idempotency key: one case per LAPOR! tracking id, whoever imports it."""
    return f"{CONNECTOR}:{tracking_id.strip()}"


@dataclass(frozen=True)
class PollResult:
    imported: int
    already: int
    cursor: str | None


class LaporImporter:
    """Files the reports assigned since the stored cursor, once each, then moves the cursor.

    The case id derives from the tracking id (the create's idempotency key), so a report seen
    again (a repeated poll, a lost cursor, two importers at once) finds its case instead of
    making a second: the event store refuses a second case with that id.
    """

    def __init__(
        self,
        complaints: Complaints,
        gateway: LaporGateway,
        state: ConnectorState,
        *,
        intake_unit: str,
        page_size: int = 100,
        on_imported: Callable[[int], None] | None = None,
    ) -> None:
        self.complaints = complaints
        self.gateway = gateway
        self.state = state
        self.intake_unit = intake_unit
        self.page_size = page_size
        self.on_imported = on_imported
        self.principal = Principal(
            # WBS officer too: a report LAPOR! files as staff ethics is a restricted case.
            CONNECTOR_SUB,
            frozenset({Role.INTAKE_OFFICER, Role.WBS_OFFICER}),
            frozenset({intake_unit}),
        )

    def poll(self) -> PollResult:
        """Read every page there is now; on failure the cursor stays after the last full page."""
        cursor = self.state.cursor(CONNECTOR)
        imported = already = 0
        try:
            while True:
                page = self.gateway.assigned_reports(cursor, self.page_size)
                for report in page.reports:
                    if self.import_report(report):
                        imported += 1
                    else:
                        already += 1
                moved = page.next_cursor is not None and page.next_cursor != cursor
                cursor = page.next_cursor or cursor
                self.state.polled(CONNECTOR, cursor, self.complaints.clock.now())
                if not page.has_more or not page.reports or not moved:
                    break  # (a peer that says "more" without moving on is read again next poll)
        except Exception as error:
            self.state.poll_failed(CONNECTOR, self.complaints.clock.now(), _describe(error))
            raise
        finally:
            if imported and self.on_imported is not None:
                self.on_imported(imported)
        return PollResult(imported, already, cursor)

    def import_report(self, report: LaporReport) -> bool:
        """File one report as a case; False when it was filed before."""
        new = case_from_report(report, self.intake_unit, self.complaints.clock.now())
        try:
            result = self.complaints.file_case(
                self.principal, new, idempotency_key=import_key(report.tracking_id)
            )
        except RequestInFlight as error:  # another thread of this process is filing it
            raise ConnectorUnavailable(f"{report.tracking_id} is being imported") from error
        return not result.replayed


# --- inbound: the reporter's comments and withdrawals reach the case --------------------------

REPORTER = "reporter"  # the author of an activity item who is the complainant
LAPOR_ITSELF = "lapor"  # LAPOR!'s administrators or system (may mark a report withdrawn)
WITHDRAWN_NOTE = "[SP4N-LAPOR!] Pelapor mencabut laporan {tracking_id}."
EMPTY_COMMENT = "[SP4N-LAPOR!] Pelapor menambahkan tanggapan tanpa teks pada laporan {tracking_id}."
_ACTIVITY_TYPES = frozenset({"comment", "withdrawn"})
FOLLOW_UP_SUBJECT = "Tanggapan pelapor atas laporan SP4N-LAPOR! {tracking_id}"


def imported_case_id(tracking_id: str) -> UUID:
    """The id of the case a LAPOR! report became (derived from its import key)."""
    return uuid5(IDEMPOTENCY_NAMESPACE, f"{CONNECTOR_SUB}\x1f{import_key(tracking_id)}")


def activity_key(activity_id: str) -> str:
    """The create's idempotency key of the case a comment on a closed case becomes."""
    return f"{CONNECTOR}-activity:{activity_id.strip()}"


@dataclass(frozen=True)
class ActivityResult:
    relayed: int  # recorded on their open case as the complainant's message
    filed: int  # became a new case (the report's case was closed or never imported)
    ignored: int  # our own echoes, LAPOR!'s notes, other types, withdrawals of closed cases
    already: int  # taken in before
    cursor: str | None


class LaporActivityImporter:
    """Takes the reporter's comments and withdrawals on LAPOR! into the cases, once each.

    A reporter's comment on a report whose case is open is recorded on the case as the
    complainant's message (it ends a wait for data); on a closed case, or a report never
    imported, it becomes a new LAPOR! case with the same tracking id, so nothing is lost, and
    the report's later comments go to that case while it is open. A withdrawal is recorded on
    the open case as a message for the officer (who closes the case
    with outcome ``withdrawn``); on a closed case it changes nothing. Items by anyone but the
    reporter (our own follow-ups echoed back, LAPOR!'s notes) never come in as replies.

    Each item is recorded in the activity log after it was taken in; an item in the log is never
    taken in again. The cursor moves after a whole page. A crash between taking an item in and
    recording it takes it in again on the next poll: at least once, never lost.
    """

    def __init__(
        self,
        complaints: Complaints,
        gateway: LaporGateway,
        state: ConnectorState,
        log: ActivityLog,
        *,
        intake_unit: str,
        principal: Principal,
        page_size: int = 100,
        on_taken: Callable[[str, str], None] | None = None,
    ) -> None:
        self.complaints = complaints
        self.gateway = gateway
        self.state = state
        self.log = log
        self.intake_unit = intake_unit
        self.principal = principal
        self.page_size = page_size
        self.on_taken = on_taken

    def poll(self) -> ActivityResult:
        cursor = self.state.cursor(ACTIVITY)
        counts = {"relayed": 0, "filed": 0, "ignored": 0, "already": 0}
        try:
            while True:
                page = self.gateway.report_activity(cursor, self.page_size)
                done = self.log.processed({item.activity_id for item in page.items})
                for item in page.items:
                    if item.activity_id in done:
                        counts["already"] += 1
                        continue
                    result, case_id = self.take(item)
                    self.log.record_activity(
                        item.activity_id,
                        item.tracking_id,
                        item.type,
                        result,
                        case_id,
                        self.complaints.clock.now(),
                    )
                    done.add(item.activity_id)
                    counts["ignored" if result.startswith("ignored") else result] += 1
                    if self.on_taken is not None:
                        kind = item.type.strip().lower()
                        self.on_taken(kind if kind in _ACTIVITY_TYPES else "other", result)
                moved = page.next_cursor is not None and page.next_cursor != cursor
                cursor = page.next_cursor or cursor
                self.state.polled(ACTIVITY, cursor, self.complaints.clock.now())
                if not page.has_more or not page.items or not moved:
                    break
        except Exception as error:
            self.state.poll_failed(ACTIVITY, self.complaints.clock.now(), _describe(error))
            raise
        return ActivityResult(cursor=cursor, **counts)

    def take(self, item: ReportActivity) -> tuple[str, UUID | None]:
        """Take one item in: what became of it (relayed, filed, ignored...) and on which case."""
        kind = item.type.strip().lower()
        if kind == "comment" and item.author != REPORTER:
            return "ignored_not_reporter", None  # our own follow-ups echoed, LAPOR!'s notes
        if kind == "withdrawn" and item.author not in (REPORTER, LAPOR_ITSELF):
            return "ignored_not_reporter", None
        if kind not in _ACTIVITY_TYPES:
            return "ignored_type", None
        case_id = imported_case_id(item.tracking_id)
        if kind == "withdrawn":
            note = WITHDRAWN_NOTE.format(tracking_id=item.tracking_id)
            message = f"{note} {item.text.strip()}".strip()
        else:
            message = (
                item.text
                if item.text.strip()
                else EMPTY_COMMENT.format(tracking_id=item.tracking_id)
            )
        # The case a later comment became, if any, then the report's own case: the first open.
        follow_up = self.log.latest_filed(item.tracking_id)
        for candidate in (follow_up, case_id):
            if candidate is None:
                continue
            try:
                self.complaints.relay_complainant_message(candidate, message=message)
            except (NotFound, TransitionNotAllowed):
                continue
            return "relayed", candidate
        if kind == "withdrawn":
            return "ignored_closed", case_id  # nothing left to withdraw
        return "filed", self.file_follow_up(item, case_id, message)

    def file_follow_up(self, item: ReportActivity, original_id: UUID, message: str) -> UUID:
        """A comment on a closed case (or a report never imported) as a new LAPOR! case with the
        report's tracking id: its answer goes back to the report on LAPOR!. Kind, category and
        confidentiality follow the report's case; the reporter's data stays on that case."""
        original: Complaint | None
        try:
            original = self.complaints.repository.get(original_id)
        except AggregateNotFoundError:
            original = None
        if not isinstance(original, Complaint):
            original = None
        now = self.complaints.clock.now()
        new = NewCase(
            kind=original.kind if original else Kind.COMPLAINT,
            channel=Channel.LAPOR,
            category=original.category if original else Category.LAINNYA,
            subject=FOLLOW_UP_SUBJECT.format(tracking_id=item.tracking_id)[:MAX_SUBJECT],
            description=message,
            reporter=None,
            anonymous=original.anonymous if original else False,
            confidential=original.confidential if original else False,
            needs_inspection=False,
            intake_unit=self.intake_unit,
            received_at=plausible_received_at(item.at, now),
            external_ref=item.tracking_id,
        )
        try:
            result = self.complaints.file_case(
                self.principal, new, idempotency_key=activity_key(item.activity_id)
            )
        except RequestInFlight as error:
            raise ConnectorUnavailable(f"{item.activity_id} is being filed") from error
        return result.id


# --- outbound: the outbox drained to LAPOR! ---------------------------------------------------


def backoff(attempts: int, first: timedelta, longest: timedelta) -> timedelta:
    """The wait after ``attempts`` failed attempts: doubling from ``first``, at most ``longest``."""
    return min(first * 2 ** min(max(attempts - 1, 0), 32), longest)


@dataclass(frozen=True)
class SendResult:
    delivered: int
    failed: int
    rejected: int


class OutboxSender:
    """Drains a connector's outbox: each message at least once (the peer de-duplicates on its
    key), oldest first, a case's in order; a failure is retried later with a doubling wait, a
    refusal (``ConnectorRejected``) is recorded and given up. Subclasses ``send`` one entry."""

    peer = "the peer"  # in log lines
    log = log

    def __init__(
        self,
        complaints: Complaints,
        outbox: SenderOutbox,
        *,
        first_retry: timedelta = timedelta(seconds=10),
        longest_wait: timedelta = timedelta(hours=1),
        batch_size: int = 100,
        on_result: Callable[[str, str], None] | None = None,
    ) -> None:
        if first_retry <= timedelta(0):
            raise ValueError("the first retry must wait some time")
        self.complaints = complaints
        self.outbox = outbox
        self.first_retry = first_retry
        self.longest_wait = longest_wait
        self.batch_size = batch_size
        self.on_result = on_result  # (the entry's kind, delivered / failed / rejected)

    def send(self, entry: OutboxEntry) -> None:
        raise NotImplementedError

    def drain(self, now: datetime) -> SendResult:
        """Send what is due at ``now``; stop at the first sign the peer is unavailable."""
        delivered = failed = rejected = 0
        while True:
            batch = self.outbox.due(now, self.batch_size)
            progress = False
            for entry in batch:
                outcome = self._attempt(entry, now)
                if outcome == "delivered":
                    delivered += 1
                    progress = True
                elif outcome == "rejected":
                    rejected += 1
                    progress = True
                else:
                    failed += 1
                    return SendResult(delivered, failed, rejected)
            if not progress:
                return SendResult(delivered, failed, rejected)

    def _attempt(self, entry: OutboxEntry, now: datetime) -> str:
        try:
            self.send(entry)
        except ConnectorRejected as error:
            self.outbox.rejected(entry.key, now, _describe(error))
            self.log.error("%s refused %s (%s): %s", self.peer, entry.key, entry.kind, error)
            return self._tell(entry, "rejected")
        except Exception as error:  # anything else: retried later, with a longer wait
            wait = backoff(entry.attempts + 1, self.first_retry, self.longest_wait)
            self.outbox.failed(entry.key, now + wait, _describe(error))
            self.log.warning(
                "%s: %s (%s) not sent (attempt %s): %s",
                self.peer,
                entry.key,
                entry.kind,
                entry.attempts + 1,
                error,
            )
            return self._tell(entry, "failed")
        self.outbox.delivered(entry.key, now)
        return self._tell(entry, "delivered")

    def _tell(self, entry: OutboxEntry, outcome: str) -> str:
        if self.on_result is not None:
            self.on_result(entry.kind, outcome)
        return outcome


class LaporSender(OutboxSender):
    """Drains the outbox to SP4N-LAPOR!, which de-duplicates on each message's key.

    The text of a message (a public follow-up, the closing answer) is read from its event and
    opened only while it is sent: the outbox itself holds no personal data and no free text.
    """

    peer = "LAPOR!"

    def __init__(
        self, complaints: Complaints, gateway: LaporGateway, outbox: LaporOutbox, **options: Any
    ) -> None:
        super().__init__(complaints, outbox, **options)
        self.gateway = gateway

    def send(self, entry: OutboxEntry) -> None:
        message = self.message(entry)
        if isinstance(message, Forwarding):
            self.gateway.forward(message)
        else:
            self.gateway.send_update(message)

    def message(self, entry: OutboxEntry) -> StatusUpdate | Forwarding:
        """The wire message of an outbox entry, built from its event."""
        events = list(
            self.complaints.events.get(entry.case_id, gt=entry.version - 1, lte=entry.version)
        )
        if not events:
            raise LookupError(f"case {entry.case_id} has no version {entry.version}")
        opener = self.complaints.personal_data.opener(entry.case_id)
        return outbound_message(entry, events[0], lambda field, value: opener.text(field, value))


def outbound_message(
    entry: OutboxEntry, event: Any, text: Callable[[str, Any], str | None]
) -> StatusUpdate | Forwarding:
    """What LAPOR! receives for an event: its status, and only text meant for the complainant.

    Never the actor (officer names), routing notes, assignees or internal follow-ups.
    """

    def update(type_: str, status: str, message: str | None, outcome: str | None = None) -> Any:
        return StatusUpdate(
            entry.key, entry.tracking_id, type_, status, message, outcome, event.timestamp
        )

    if isinstance(event, Complaint.Acknowledged):
        return update("status", "acknowledged", event.message or None)
    if isinstance(event, Complaint.Routed):
        return update("status", "routed", None)
    if isinstance(event, Complaint.FollowedUp):
        if not event.public:  # the projection never queues these; refuse to send one anyway
            raise ConnectorRejected("an internal follow-up never leaves the agency")
        return update("follow_up", "in_follow_up", text("note", event.note))
    if isinstance(event, Complaint.Closed):
        answer = text("answer", event.answer) or ""
        target = getattr(event, "forward_to", None)
        if event.outcome == Outcome.FORWARDED and target:
            return Forwarding(entry.key, entry.tracking_id, target, answer, event.timestamp)
        return update("status", "closed", answer, event.outcome)
    if isinstance(event, Complaint.Reopened):
        return update("status", "reopened", None)
    raise ConnectorRejected(f"{type(event).__name__} is not sent to LAPOR!")


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:500]


# --- both directions, as ``aduan work`` runs them ----------------------------------------------


class ConnectorMetrics(Protocol):
    def connector_polled(self, connector: str, ok: bool, at: float | None = None) -> None: ...

    def connector_imported(self, connector: str, reports: int) -> None: ...

    def connector_message(self, connector: str, kind: str, result: str) -> None: ...

    def connector_outbox_counts(self, connector: str, counts: dict[str, int]) -> None: ...

    def connector_inbound(self, connector: str, kind: str, result: str) -> None: ...


class LaporConnector:
    """The importer and the sender over one gateway, reporting to the metrics."""

    def __init__(
        self,
        complaints: Complaints,
        gateway: LaporGateway,
        outbox: LaporOutbox,
        state: ConnectorState,
        metrics: ConnectorMetrics,
        *,
        intake_unit: str,
        activity_log: ActivityLog,
        first_retry: timedelta = timedelta(seconds=10),
        longest_wait: timedelta = timedelta(hours=1),
    ) -> None:
        self.clock = complaints.clock
        self.outbox = outbox
        self.metrics = metrics
        self.importer = LaporImporter(
            complaints,
            gateway,
            state,
            intake_unit=intake_unit,
            on_imported=lambda n: metrics.connector_imported(CONNECTOR, n),
        )
        self.activity = LaporActivityImporter(
            complaints,
            gateway,
            state,
            activity_log,
            intake_unit=intake_unit,
            principal=self.importer.principal,
            on_taken=lambda kind, result: metrics.connector_inbound(CONNECTOR, kind, result),
        )
        self.sender = LaporSender(
            complaints,
            gateway,
            outbox,
            first_retry=first_retry,
            longest_wait=longest_wait,
            on_result=lambda kind, result: metrics.connector_message(CONNECTOR, kind, result),
        )

    def poll(self) -> PollResult:
        """New reports first, then the activity on reports (so a comment finds its case)."""
        try:
            result = self.importer.poll()
            self.activity.poll()
        except Exception:
            self.metrics.connector_polled(CONNECTOR, False)
            raise
        self.metrics.connector_polled(CONNECTOR, True, self.clock.now().timestamp())
        return result

    def send(self) -> SendResult:
        result = self.sender.drain(self.clock.now())
        counts = self.outbox.counts()
        self.metrics.connector_outbox_counts(CONNECTOR, counts.by_state())
        return result
