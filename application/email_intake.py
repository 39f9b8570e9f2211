"""Email intake: each new message of a mailbox becomes a case (channel ``email``), or the
complainant's reply on the case whose acknowledgement it answers.

Messages are parsed with the standard library (``email.policy.default``) and never make the
worker crash: a message that cannot be read well still becomes a case with what could be read,
or is recorded as rejected with its reason. Attachments are never copied into the event log:
the case's description lists a reference to each (file name, type, size, SHA-256, and where
it lives in the mailbox). See docs/email.md.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from application.access import Principal, Role
from application.complaints import Complaints, NewCase
from application.errors import NotFound, RequestInFlight
from application.lapor import (
    ConnectorMetrics,
    ConnectorRejected,
    ConnectorState,
    ConnectorUnavailable,
    OutboxCounts,
    OutboxEntry,
    OutboxSender,
    SenderOutbox,
    SendResult,
)
from domain.complaint import Complaint, plausible_received_at
from domain.errors import ComplaintError, TransitionNotAllowed
from domain.tracking_index import TrackingNumberIndex
from domain.tracking_number import InvalidTrackingNumber, display, normalise
from domain.values import PUBLIC_ACTOR, Reporter, SealedReporter, normalised_email
from domain.vocabulary import Category, Channel, Kind

log = logging.getLogger("aduan.email")

CONNECTOR = "email"
CONNECTOR_SUB = "email-connector"
MAX_SUBJECT = 200
NO_SUBJECT = "Email tanpa subjek"
NO_BODY = "(email tanpa isi teks)"
ATTACHMENTS_HEADING = "Lampiran (disimpan di kotak surat, bukan di aduan):"
NOTES_HEADING = "Catatan penerimaan: "
RELAYING = "relaying"  # a reply about to be recorded on its case (see EmailIntake.take)
CLOSED_CASE_REPLY = "Balasan atas pengaduan yang sudah selesai; dicatat sebagai pengaduan baru."

# --- the ports --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawMail:
    """One message as the mailbox holds it."""

    location: str  # where it lives: "INBOX;UIDVALIDITY=7;UID=12", or the .eml file's name
    data: bytes
    cursor: str | None  # the source's cursor once this message is taken (None: unchanged)


class MailSource(Protocol):
    """A mailbox; each call raises ConnectorUnavailable when the mailbox cannot be reached."""

    def fetch(self, cursor: str | None, limit: int) -> list[RawMail]:
        """At most ``limit`` messages after ``cursor`` (None: from the beginning), oldest first."""
        ...

    def processed(self, mail: RawMail) -> None:
        """Mark the message taken at the source (IMAP: \\Seen; a folder: moved to done/)."""
        ...


@dataclass(frozen=True)
class MailCounts:
    filed: int  # new cases
    replies: int  # complainant's replies recorded on open cases
    rejected: int  # could not be filed: the reason is kept
    ignored: int = 0  # automatic mail (bounces, out-of-office replies, our own): reason kept


class ProcessedMessages(Protocol):
    """Which messages were taken (by a hash of their Message-ID), never their content."""

    def outcome(self, key: str) -> str | None:
        """``filed``, ``reply``, ``rejected`` or ``ignored`` for a message taken before."""
        ...

    def record(
        self,
        key: str,
        outcome: str,
        case_id: UUID | None,
        location: str,
        at: datetime,
        reason: str | None = None,
    ) -> None:
        """Remember a message, or what became of it after ``relaying``."""
        ...

    def counts(self) -> MailCounts: ...


# --- reading a message ------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachmentRef:
    """An attachment as the case lists it: what it is and where it lives, not its bytes."""

    section: str  # the MIME part number (IMAP BODY[section]), e.g. "2" or "1.2"
    filename: str | None
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ParsedMail:
    key: str  # the message's identity: a hash of its normalised Message-ID (or of its bytes)
    message_id: str | None
    subject: str
    body: str
    sender_name: str | None
    sender_email: str | None
    sent_at: datetime | None
    references: tuple[str, ...]  # In-Reply-To and References, normalised
    attachments: tuple[AttachmentRef, ...]
    problems: tuple[str, ...] = field(default=())  # what could not be read
    automatic: str | None = None  # why it is machine mail (RFC 3834 Auto-Submitted, a bounce)


_ANGLED = re.compile(r"<([^<>\s]+)>")


def normalised_message_id(value: str) -> str | None:
    """``<Abc@Host>`` and `` abc@host `` agree; None when there is no usable id."""
    found = _ANGLED.search(value)
    text = found.group(1) if found else value.strip()
    if not text or any(c.isspace() for c in text):
        return None
    return text.lower()


def message_key(message_id: str | None, data: bytes) -> str:
    """A message's identity: the SHA-256 of its normalised Message-ID, else of its bytes."""
    if message_id:
        return "mid:" + hashlib.sha256(message_id.encode()).hexdigest()
    return "raw:" + hashlib.sha256(data).hexdigest()


def import_key(key: str) -> str:
    """The create's idempotency key: one case per message, whoever takes it, however often."""
    return f"{CONNECTOR}:{key}"


def ack_message_id(case_id: UUID, domain: str) -> str:
    """The Message-ID of the acknowledgement email of a case (docs/email.md)."""
    return f"<ack.{case_id}@{domain.strip().lower()}>"


def _ack_case_id(reference: str, domain: str) -> UUID | None:
    local, _, host = reference.partition("@")
    if host != domain.strip().lower() or not local.startswith("ack."):
        return None
    try:
        return UUID(local[4:])
    except ValueError:
        return None


class _HtmlText(HTMLParser):
    _BLOCKS = frozenset({"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skipping:
            self._skipping -= 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _header(message: Message, name: str, problems: list[str]) -> Any:
    try:
        return message[name]
    except Exception as error:  # a header the parser chokes on: read the rest anyway
        problems.append(f"header {name} tidak terbaca ({type(error).__name__})")
        return None


def _text_of(part: Message, problems: list[str]) -> str:
    try:
        text = part.get_content() if isinstance(part, EmailMessage) else None
    except (LookupError, UnicodeError, ValueError, AssertionError) as error:
        problems.append(f"isi email tidak terbaca dengan charset-nya ({type(error).__name__})")
        text = None
    if not isinstance(text, str):
        raw = part.get_payload(decode=True)
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else ""
    if part.get_content_type() == "text/html":
        return html_to_text(text)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _leaves(part: Message, section: str = "") -> Iterator[tuple[str, Message]]:
    """Every non-multipart part with its IMAP section number (a forwarded message is a leaf)."""
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        payload = part.get_payload()
        for number, child in enumerate(payload if isinstance(payload, list) else [], 1):
            yield from _leaves(child, f"{section}.{number}" if section else str(number))
    else:
        yield section or "1", part


def _payload_bytes(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return bytes(payload[0].as_bytes())  # message/rfc822: the enclosed message
    return str(payload or "").encode("utf-8", errors="replace")


def _is_attachment(part: Message, filename: str | None) -> bool:
    if part.get_content_disposition() == "attachment" or filename:
        return True
    # A text/plain or text/html part without a file name is another rendering of the body.
    return part.get_content_type() not in ("text/plain", "text/html")


def _attachments(
    message: Message, body: Message | None, problems: list[str]
) -> tuple[AttachmentRef, ...]:
    found = []
    for section, part in _leaves(message):
        if part is body:
            continue
        try:
            filename = part.get_filename()
        except Exception:
            filename = None
        if not _is_attachment(part, filename):
            continue
        try:
            data = _payload_bytes(part)
        except Exception as error:
            problems.append(f"lampiran bagian {section} tidak terbaca ({type(error).__name__})")
            data = b""
        found.append(
            AttachmentRef(
                section,
                " ".join(filename.split()) if filename else None,
                part.get_content_type(),
                len(data),
                hashlib.sha256(data).hexdigest(),
            )
        )
    return tuple(found)


def parse_mail(data: bytes) -> ParsedMail:
    """What aduan reads from a message; never raises (``problems`` says what was unreadable)."""
    problems: list[str] = []
    message = BytesParser(policy=policy.default).parsebytes(data)

    raw_id = _header(message, "Message-ID", problems)
    message_id = normalised_message_id(str(raw_id)) if raw_id else None
    subject_header = _header(message, "Subject", problems)
    subject = " ".join(str(subject_header or "").split())

    sender_name = sender_email = None
    sender = _header(message, "From", problems)
    try:
        addresses = getattr(sender, "addresses", ()) if sender is not None else ()
        if addresses:
            sender_name = " ".join(addresses[0].display_name.split()) or None
            spec = addresses[0].addr_spec
            sender_email = spec if "@" in spec and len(spec) <= 254 else None
    except Exception as error:
        problems.append(f"pengirim tidak terbaca ({type(error).__name__})")
    if sender_email is None:
        problems.append("alamat pengirim tidak ada atau tidak terbaca")

    sent_at = None
    date = _header(message, "Date", problems)
    try:
        sent_at = getattr(date, "datetime", None) if date is not None else None
        if sent_at is not None and sent_at.tzinfo is None:
            sent_at = sent_at.replace(tzinfo=UTC)  # RFC 5322's -0000: the zone is unknown
    except Exception:
        sent_at = None

    references: list[str] = []
    for name in ("In-Reply-To", "References"):
        value = _header(message, name, problems)
        if value:
            references += [m.lower() for m in _ANGLED.findall(str(value))]

    body_part: Message | None = None
    try:
        body_part = message.get_body(preferencelist=("plain", "html"))
    except Exception as error:
        problems.append(f"struktur MIME tidak terbaca ({type(error).__name__})")
    body = _text_of(body_part, problems) if body_part is not None else ""
    attachments = _attachments(message, body_part, problems)
    automatic = None
    auto_submitted = " ".join(str(_header(message, "Auto-Submitted", problems) or "").split())
    if auto_submitted and auto_submitted.lower() != "no":
        automatic = f"Auto-Submitted: {auto_submitted}"[:100]
    elif message.get_content_type() == "multipart/report":
        automatic = "a delivery or read report (multipart/report)"
    return ParsedMail(
        key=message_key(message_id, data),
        message_id=message_id,
        subject=subject,
        body=body,
        sender_name=sender_name,
        sender_email=sender_email,
        sent_at=sent_at,
        references=tuple(dict.fromkeys(references)),
        attachments=attachments,
        problems=tuple(problems),
        automatic=automatic,
    )


# --- what a message becomes -------------------------------------------------------------------

_CATEGORY_WORDS: tuple[tuple[str, Category], ...] = (
    (r"obat tradisional|jamu|herbal", Category.OBAT_TRADISIONAL),
    (r"suplemen", Category.SUPLEMEN_KESEHATAN),
    (r"kosmeti(?:k|ka)|skincare|krim", Category.KOSMETIK),
    (r"pangan|makanan|minuman", Category.PANGAN_OLAHAN),
    (r"obat", Category.OBAT),
)


def category_of(subject: str, body: str) -> Category:
    """A category by keyword, the subject first; ``lainnya`` when nothing matches."""
    for text in (subject, body):
        lowered = text.lower()
        for words, category in _CATEGORY_WORDS:
            if re.search(rf"\b(?:{words})\b", lowered):
                return category
    return Category.LAINNYA


def _size(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:.1f} KiB"


def attachment_lines(mail: ParsedMail, location: str) -> list[str]:
    """The references a case lists for the message's attachments (their bytes stay put)."""
    if not mail.attachments:
        return []
    lines = ["", ATTACHMENTS_HEADING]
    for ref in mail.attachments:
        lines.append(
            f"- {ref.filename or '(tanpa nama)'}; {ref.content_type}; {_size(ref.size)}; "
            f"sha256 {ref.sha256}; lokasi {location} bagian {ref.section}"
        )
    return lines


def message_text(mail: ParsedMail, location: str, preface: str | None = None) -> str:
    lines = [preface, ""] if preface else []
    lines.append(mail.body or NO_BODY)
    lines += attachment_lines(mail, location)
    if mail.problems:
        lines += ["", NOTES_HEADING + "; ".join(mail.problems)]
    return "\n".join(lines)


def reply_text(body: str) -> str:
    """A reply without the lines it quotes (``> ...``), unless that leaves nothing."""
    kept = [line for line in body.splitlines() if not line.lstrip().startswith(">")]
    return "\n".join(kept).strip() or body


def case_from_mail(
    mail: ParsedMail, location: str, intake_unit: str, now: datetime, preface: str | None = None
) -> NewCase:
    """The case a message becomes, received when it was sent (never later than ``now``)."""
    subject = mail.subject or " ".join(mail.body.split()) or NO_SUBJECT
    if len(subject) > MAX_SUBJECT:
        subject = subject[: MAX_SUBJECT - 1] + "…"
    reporter = Reporter(name=mail.sender_name, email=mail.sender_email)
    return NewCase(
        kind=Kind.COMPLAINT,
        channel=Channel.EMAIL,
        category=category_of(mail.subject, mail.body),
        subject=subject,
        description=message_text(mail, location, preface),
        reporter=None if reporter.is_empty() else reporter,
        anonymous=False,
        confidential=False,
        needs_inspection=False,
        intake_unit=intake_unit,
        received_at=plausible_received_at(mail.sent_at, now),
    )


_TRACKING = re.compile(r"\b[0-9A-Za-z]{4}[- ]?[0-9A-Za-z]{4}[- ]?[0-9A-Za-z]{3}\b")


def tracking_numbers_in(subject: str) -> list[str]:
    """Well-formed tracking numbers (check symbol and all) written in a subject."""
    found = []
    for candidate in _TRACKING.findall(subject):
        try:
            found.append(normalise(candidate))
        except InvalidTrackingNumber:
            continue
    return found


# --- the intake -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntakeResult:
    filed: int
    replies: int
    rejected: int
    already: int
    cursor: str | None
    ignored: int = 0


class EmailIntake:
    """Takes the mailbox's new messages, once each, and moves the cursor after each one.

    A message's case id derives from its Message-ID (the create's idempotency key), so a
    message seen again files nothing new; replies are remembered in ``messages`` so that one
    is recorded once.
    """

    def __init__(
        self,
        complaints: Complaints,
        source: MailSource,
        messages: ProcessedMessages,
        state: ConnectorState,
        *,
        intake_unit: str,
        domain: str,
        batch_size: int = 50,
        on_result: Callable[[str], None] | None = None,
    ) -> None:
        self.complaints = complaints
        self.source = source
        self.messages = messages
        self.state = state
        self.intake_unit = intake_unit
        self.domain = domain
        self.batch_size = batch_size
        self.on_result = on_result
        self.principal = Principal(
            CONNECTOR_SUB, frozenset({Role.INTAKE_OFFICER}), frozenset({intake_unit})
        )

    def poll(self) -> IntakeResult:
        """Take every message there is now; on failure the cursor stays after the last taken."""
        cursor = self.state.cursor(CONNECTOR)
        counts = {"filed": 0, "reply": 0, "rejected": 0, "already": 0, "ignored": 0}
        try:
            while True:
                batch = self.source.fetch(cursor, self.batch_size)
                for mail in batch:
                    outcome = self.take(mail)
                    counts[outcome] += 1
                    if self.on_result is not None:
                        self.on_result(outcome)
                    self.source.processed(mail)
                    cursor = mail.cursor or cursor
                    self.state.polled(CONNECTOR, cursor, self.complaints.clock.now())
                if len(batch) < self.batch_size:
                    break
            self.state.polled(CONNECTOR, cursor, self.complaints.clock.now())
        except Exception as error:
            self.state.poll_failed(CONNECTOR, self.complaints.clock.now(), _describe(error))
            raise
        return IntakeResult(
            counts["filed"],
            counts["reply"],
            counts["rejected"],
            counts["already"],
            cursor,
            counts["ignored"],
        )

    def take(self, raw: RawMail) -> str:
        """File one message (or record it as a reply): ``filed``, ``reply``, ``rejected``,
        ``ignored`` (automatic mail), or ``already`` when it was taken before."""
        mail = parse_mail(raw.data)
        seen = self.messages.outcome(mail.key)
        if seen is not None and seen != RELAYING:
            return "already"
        own = mail.message_id is not None and _ack_case_id(mail.message_id, self.domain)
        if mail.automatic or own:
            # Never a case and never a reply: answering a bounce or an auto-reply loops.
            reason = mail.automatic or "aduan's own acknowledgement"
            self._record(mail, "ignored", None, raw.location, reason)
            return "ignored"
        preface = None
        case_id = self.thread_of(mail)
        if case_id is not None:
            text = message_text(_as_reply(mail), raw.location)
            # Noted before it is relayed: a crash after the relay cannot record it twice.
            if seen == RELAYING and self._relayed(case_id, text):
                self._record(mail, "reply", case_id, raw.location)
                return "reply"
            self._record(mail, RELAYING, case_id, raw.location)
            try:
                self.complaints.relay_complainant_message(case_id, message=text)
            except (NotFound, TransitionNotAllowed):
                preface = CLOSED_CASE_REPLY
            else:
                self._record(mail, "reply", case_id, raw.location)
                return "reply"
        new = case_from_mail(
            mail, raw.location, self.intake_unit, self.complaints.clock.now(), preface
        )
        try:
            result = self.complaints.file_case(
                self.principal, new, idempotency_key=import_key(mail.key)
            )
        except RequestInFlight as error:  # another thread of this process is filing it
            raise ConnectorUnavailable("the message is being filed elsewhere") from error
        except (ComplaintError, ValueError) as error:
            log.warning("email at %s rejected: %s", raw.location, error)
            self._record(mail, "rejected", None, raw.location, _describe(error))
            return "rejected"
        self._record(mail, "filed", result.id, raw.location)
        return "filed" if not result.replayed else "already"

    def thread_of(self, mail: ParsedMail) -> UUID | None:
        """The case a message answers: its acknowledgement's Message-ID among the references,
        or its tracking number in the subject from the case's own reporter address."""
        for reference in mail.references:
            case_id = _ack_case_id(reference, self.domain)
            if case_id is not None and self._case(case_id) is not None:
                return case_id
        if mail.sender_email is None:
            return None
        for number in tracking_numbers_in(mail.subject):
            index = self._get(TrackingNumberIndex.id_for(number))
            if not isinstance(index, TrackingNumberIndex):
                continue
            case = self._case(index.complaint_id)
            if case is not None and self._same_reporter(case, mail.sender_email):
                return case.id
        return None

    def _relayed(self, case_id: UUID, text: str) -> bool:
        """Whether the case's recent events hold this reply already (after a crash); its
        text is compared without the attachment lines, which name the mailbox location."""
        opener = self.complaints.personal_data.opener(case_id)
        for event in self.complaints.events.get(case_id, desc=True, limit=100):
            if (
                isinstance(event, Complaint.ComplainantReplied)
                and event.actor == PUBLIC_ACTOR
                and _head(opener.text("message", event.message) or "") == _head(text)
            ):
                return True
        return False

    def _same_reporter(self, case: Complaint, email: str) -> bool:
        reporter = case.reporter
        if not isinstance(reporter, SealedReporter) or not reporter.email_match:
            return False
        if case.reporter_erased:
            return False
        personal = self.complaints.personal_data
        mine = personal.envelope.keyed_hash(
            personal.match_key(), f"email:{normalised_email(email)}"
        )
        return hmac.compare_digest(mine, reporter.email_match)

    def _case(self, case_id: UUID) -> Complaint | None:
        found = self._get(case_id)
        return found if isinstance(found, Complaint) else None

    def _get(self, aggregate_id: UUID) -> Any:
        try:
            return self.complaints.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def _record(
        self,
        mail: ParsedMail,
        outcome: str,
        case_id: UUID | None,
        location: str,
        reason: str | None = None,
    ) -> None:
        self.messages.record(
            mail.key, outcome, case_id, location, self.complaints.clock.now(), reason
        )


def _head(text: str) -> str:
    """A message text without what ``message_text`` appends (attachments, reading notes)."""
    for tail in (ATTACHMENTS_HEADING, NOTES_HEADING):
        text = text.split(f"\n\n{tail}", 1)[0]
    return text


def _as_reply(mail: ParsedMail) -> ParsedMail:
    return ParsedMail(
        mail.key,
        mail.message_id,
        mail.subject,
        reply_text(mail.body),
        mail.sender_name,
        mail.sender_email,
        mail.sent_at,
        mail.references,
        mail.attachments,
        mail.problems,
    )


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:500]


# --- outbound: the acknowledgement email -----------------------------------------------------


@dataclass(frozen=True)
class OutgoingMail:
    message_id: str
    to: str
    subject: str
    body: str


class Mailer(Protocol):
    def send(self, mail: OutgoingMail) -> None:
        """Hand the message to the mail server; raises ConnectorUnavailable (retried later) or
        ConnectorRejected (the server refused it: given up)."""
        ...


class EmailOutbox(SenderOutbox, Protocol):
    def outbox_counts(self) -> OutboxCounts: ...


def acknowledgement_mail(
    tracking_number: str, message: str, to: str, case_id: UUID, domain: str
) -> OutgoingMail:
    """The acknowledgement email: its Message-ID threads replies, its subject carries the
    tracking number (docs/email.md)."""
    number = display(tracking_number)
    return OutgoingMail(
        message_id=ack_message_id(case_id, domain),
        to=to,
        subject=f"[Aduan {number}] Pengaduan Anda kami terima",
        body="\n".join(
            [
                message.strip() or "Pengaduan Anda telah kami terima dan akan kami tindak lanjuti.",
                "",
                f"Nomor pengaduan: {number}",
                "",
                "Balas email ini untuk menambahkan keterangan atau data yang kami minta; balasan "
                "Anda dicatat pada pengaduan ini.",
            ]
        ),
    )


class EmailAckSender(OutboxSender):
    """Emails the acknowledgement of each email case, at least once, always with the same
    Message-ID (a repeat is the same message to the complainant's mail program).

    The outbox holds no address and no text: both are read from the case when it is sent.
    """

    peer = "the mail server"
    log = log
    outbox: EmailOutbox

    def __init__(
        self,
        complaints: Complaints,
        mailer: Mailer,
        outbox: EmailOutbox,
        *,
        domain: str,
        **options: Any,
    ) -> None:
        super().__init__(complaints, outbox, **options)
        self.mailer = mailer
        self.domain = domain

    def send(self, entry: OutboxEntry) -> None:
        self.mailer.send(self.message(entry))

    def message(self, entry: OutboxEntry) -> OutgoingMail:
        """The email of an outbox entry, from its case's acknowledgement and reporter."""
        events = list(
            self.complaints.events.get(entry.case_id, gt=entry.version - 1, lte=entry.version)
        )
        if not events or not isinstance(events[0], Complaint.Acknowledged):
            raise ConnectorRejected(f"case {entry.case_id} has no acknowledgement there")
        case = self._case(entry.case_id)
        reporter = case.reporter if case is not None else None
        if not isinstance(reporter, SealedReporter) or case is None or case.reporter_erased:
            raise ConnectorRejected("the case has no reporter address to write to")
        address = self.complaints.personal_data.opener(case.id).text(
            "reporter.email", reporter.email
        )
        if not address or "@" not in address:
            raise ConnectorRejected("the case has no reporter address to write to")
        return acknowledgement_mail(
            entry.tracking_id, events[0].message, address, case.id, self.domain
        )

    def _case(self, case_id: UUID) -> Complaint | None:
        try:
            found: Any = self.complaints.repository.get(case_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Complaint) else None


class EmailConnector:
    """The intake over one mailbox and the acknowledgement sender, reporting to the metrics;
    either may be absent (not configured)."""

    def __init__(
        self,
        complaints: Complaints,
        metrics: ConnectorMetrics,
        *,
        intake: EmailIntake | None = None,
        sender: EmailAckSender | None = None,
    ) -> None:
        self.clock = complaints.clock
        self.metrics = metrics
        self.intake = intake
        self.sender = sender
        if intake is not None:
            intake.on_result = self._count
        if sender is not None:
            sender.on_result = lambda kind, result: metrics.connector_message(
                CONNECTOR, kind, result
            )

    def _count(self, outcome: str) -> None:
        if outcome == "filed":
            self.metrics.connector_imported(CONNECTOR, 1)
        elif outcome in ("reply", "rejected", "ignored"):
            self.metrics.connector_message(CONNECTOR, "inbound", outcome)

    def poll(self) -> IntakeResult:
        if self.intake is None:
            raise RuntimeError("no mailbox configured")
        try:
            result = self.intake.poll()
        except Exception:
            self.metrics.connector_polled(CONNECTOR, False)
            raise
        self.metrics.connector_polled(CONNECTOR, True, self.clock.now().timestamp())
        return result

    def send(self) -> SendResult:
        if self.sender is None:
            raise RuntimeError("no mail server configured")
        result = self.sender.drain(self.clock.now())
        counts = self.sender.outbox.outbox_counts()
        self.metrics.connector_outbox_counts(CONNECTOR, counts.by_state())
        return result
