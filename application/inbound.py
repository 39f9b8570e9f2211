"""Messaging gateways (WhatsApp, SMS, social media, ...): signed messages that file or add to cases.

A gateway POSTs each message a complainant sent, signed with its channel's shared secret
(docs/inbound.md). A message that belongs to an open case of the same sender (the same
conversation, or the tracking number of a case this sender filed on this channel) is recorded
on it as the complainant's message; anything else becomes a new case with a PIN, filed as the
public side files one. Each message id is taken once per channel: a retry gets the first
answer again and changes nothing. Sender ids and conversation ids are kept only as keyed
hashes; the PIN only sealed under its case's data key, and only while retries may come.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from application.complaints import Complaints, NewCase
from application.errors import ApplicationError, NotFound, RequestInFlight
from application.privacy import ERASED, UNREADABLE
from application.public import PublicDesk
from domain.complaint import Complaint, plausible_received_at
from domain.errors import TransitionNotAllowed
from domain.tracking_number import normalise
from domain.values import Reporter, SealedText
from domain.vocabulary import Category, Channel, Kind

CONNECTOR = "inbound"
# The channels a gateway may deliver on (each enabled by a shared secret of its own).
GATEWAY_CHANNELS = frozenset(
    {Channel.WHATSAPP, Channel.SMS, Channel.SOCIAL_MEDIA, Channel.LIVE_CHAT, Channel.MOBILE_APP}
)
PHONE_CHANNELS = frozenset({Channel.WHATSAPP, Channel.SMS})
FILED, APPENDED = "filed", "appended"
MAX_SUBJECT = 200
PIN_FIELD = "inbound_pin"
# A claim older than this is taken over: whoever made it died before finishing.
CLAIM_SECONDS = 60.0
_SIGNATURE = re.compile(r"^sha256=([0-9a-f]{64})$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{4,30}$")
_SEPARATORS = re.compile(r"[\s()\-]")
_LABELS = {
    Channel.WHATSAPP: "WhatsApp",
    Channel.SMS: "SMS",
    Channel.SOCIAL_MEDIA: "media sosial",
    Channel.LIVE_CHAT: "live chat",
    Channel.MOBILE_APP: "aplikasi",
}
# Words that place a message in a product category; the first that matches wins (the most
# specific first: "obat tradisional" before "obat"). Never a restricted category.
_KEYWORDS: tuple[tuple[Category, tuple[str, ...]], ...] = (
    (Category.OBAT_TRADISIONAL, ("obat tradisional", "jamu", "herbal")),
    (Category.SUPLEMEN_KESEHATAN, ("suplemen", "vitamin")),
    (Category.KOSMETIK, ("kosmetik", "kosmetika", "krim", "skincare", "pemutih", "lipstik")),
    (Category.PANGAN_OLAHAN, ("makanan", "minuman", "pangan", "susu", "kedaluwarsa", "snack")),
    (Category.OBAT, ("obat",)),
)


class MessageIdReused(ApplicationError):
    """A message id this channel delivered before came back with a different body."""


@dataclass(frozen=True)
class Attachment:
    url: str
    content_type: str
    filename: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class InboundMessage:
    """One message as the gateway relayed it (after its signature was checked)."""

    message_id: str
    sent_at: datetime
    sender_id: str  # a phone number or a handle: personal data, never stored in clear here
    sender_name: str | None
    text: str
    conversation_id: str | None = None
    tracking_number: str | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class InboundAnswer:
    """What the gateway relays to the sender: never the case id, never an officer."""

    tracking_number: str  # canonical
    status: str
    result: str  # filed or appended
    pin: str | None  # a new case's PIN; None for a message added to a case


@dataclass(frozen=True)
class Receipt:
    """A message taken in: its body's keyed hash and the answer it got."""

    fingerprint: str
    case_id: UUID
    tracking_number: str
    status: str
    result: str
    pin: SealedText | None  # sealed under the case's data key; dropped when pruned


@dataclass(frozen=True)
class Pending:
    """A message being taken in right now (or by a process that died while at it)."""

    fingerprint: str


@dataclass(frozen=True)
class Thread:
    """The open case a sender's conversation (or quoted tracking number) leads to."""

    case_id: UUID
    tracking_number: str


class InboundStore(Protocol):
    """Messages taken in, conversations, and each channel's counts (tables of their own)."""

    def receipt(self, channel: str, message_id: str) -> Receipt | Pending | None: ...

    def claim(
        self, channel: str, message_id: str, fingerprint: str, at: datetime, stale_before: datetime
    ) -> Receipt | Pending | None:
        """Mark the message as being taken in by the caller (None), unless it was taken in
        already or is being so (that receipt, or Pending). A claim made before
        ``stale_before`` is taken over (its taker died): None again."""
        ...

    def complete(self, channel: str, message_id: str, receipt: Receipt) -> None:
        """The claimed message was taken in: its answer, for every retry to come."""
        ...

    def release(self, channel: str, message_id: str) -> None:
        """The claimed message could not be taken in (nothing was stored): forget the claim."""
        ...

    def thread(self, keys: list[str]) -> Thread | None:
        """The case of the first of ``keys`` (keyed hashes) that leads to one."""
        ...

    def link(self, keys: list[str], thread: Thread, at: datetime) -> None:
        """Lead each key to this case from now on."""
        ...

    def counted(self, channel: str, result: str, at: datetime, error: str | None = None) -> None:
        """One more message with ``result`` (filed, appended, replayed, rejected)."""
        ...


class InboundMetrics(Protocol):
    def connector_imported(self, connector: str, reports: int) -> None: ...

    def connector_message(self, connector: str, kind: str, result: str) -> None: ...


def signature_matches(secret: bytes, timestamp: str, body: bytes, header: str | None) -> bool:
    """Whether ``X-Aduan-Signature`` is ``sha256=`` HMAC-SHA256 of ``{timestamp}.{body}``."""
    found = _SIGNATURE.match((header or "").strip().lower())
    if found is None:
        return False
    expected = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, found.group(1))


def category_of(text: str) -> Category:
    """The category a message's words suggest; ``lainnya`` when none does."""
    words = " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "
    for category, keywords in _KEYWORDS:
        if any(f" {keyword} " in words for keyword in keywords):
            return category
    return Category.LAINNYA


def subject_of(channel: Channel, text: str) -> str:
    """The first line of the message, capped; a message of attachments alone says so."""
    first = next((" ".join(line.split()) for line in text.splitlines() if line.strip()), "")
    if not first:
        return f"Pesan {_LABELS.get(channel, channel.value)} dengan lampiran"
    if len(first) > MAX_SUBJECT:
        return first[: MAX_SUBJECT - 1] + "…"
    return first


def full_text(message: InboundMessage) -> str:
    """The message and a line per attachment (where officers can fetch it)."""
    lines = [message.text] if message.text.strip() else []
    for item in message.attachments:
        name = f"{item.filename} " if item.filename else ""
        lines.append(f"Lampiran: {name}({item.content_type}) {item.url}")
    return "\n".join(lines)


def reporter_of(channel: Channel, message: InboundMessage) -> Reporter:
    """The sender as the case's reporter (sealed by the application like any reporter)."""
    sender = message.sender_id.strip()
    if channel in PHONE_CHANNELS and _PHONE.match(sender):
        return Reporter(name=message.sender_name, phone=sender)
    if message.sender_name and message.sender_name != sender:
        return Reporter(name=f"{message.sender_name} ({sender})")
    return Reporter(name=sender)


class InboundMessages:
    """Takes in gateway messages: a message id once, on an open case of its sender or as a new
    case (with a PIN, as the public side files one)."""

    def __init__(
        self,
        complaints: Complaints,
        desk: PublicDesk,
        store: InboundStore,
        *,
        secrets: Mapping[Channel, bytes],
        intake_unit: str,
        window_seconds: float = 300.0,
        metrics: InboundMetrics | None = None,
    ) -> None:
        unknown = set(secrets) - GATEWAY_CHANNELS
        if unknown:
            raise ValueError(f"no gateway channel {sorted(unknown)}")
        self.complaints = complaints
        self.desk = desk
        self.store = store
        self.secrets = dict(secrets)
        self.intake_unit = intake_unit
        self.window_seconds = window_seconds
        self.metrics = metrics

    # --- what the HTTP layer checks first -------------------------------------------------

    def channel(self, name: str) -> Channel | None:
        """The channel of a route, when a gateway may deliver on it (it has a secret)."""
        try:
            channel = Channel(name)
        except ValueError:
            return None
        return channel if channel in self.secrets else None

    def fresh(self, timestamp: int) -> bool:
        """Whether a signature's time is within the window around now (replays are older)."""
        return abs(self.complaints.clock.now().timestamp() - timestamp) <= self.window_seconds

    def signed(self, channel: Channel, timestamp: str, body: bytes, header: str | None) -> bool:
        return signature_matches(self.secrets[channel], timestamp, body, header)

    def rejected(self, channel: Channel, reason: str) -> None:
        """A delivery refused before anything was taken in (counted, nothing else kept)."""
        self.store.counted(channel.value, "rejected", self.complaints.clock.now(), reason[:300])
        self._measure(channel, "rejected")

    def sender_key(self, channel: Channel, sender_id: str) -> str:
        """A keyed hash of the sender, for rate limits: never the number or handle itself."""
        return self._hash("sender", channel, sender_id)

    # --- taking a message in ----------------------------------------------------------------

    def replay(self, channel: Channel, message_id: str, fingerprint: str) -> InboundAnswer | None:
        """The first answer to this message id, if it came before; MessageIdReused when it came
        with another body. None too while it is being taken in (``receive`` decides then)."""
        found = self.store.receipt(channel.value, message_id)
        if found is None or (
            isinstance(found, Pending) and hmac.compare_digest(found.fingerprint, fingerprint)
        ):
            return None
        return self._replayed(channel, message_id, fingerprint, found)

    def _replayed(
        self, channel: Channel, message_id: str, fingerprint: str, found: Receipt | Pending
    ) -> InboundAnswer:
        if not hmac.compare_digest(found.fingerprint, fingerprint):
            self.rejected(channel, "a message id came again with a different body")
            raise MessageIdReused(
                f"message {message_id!r} was already delivered on {channel.value} "
                "with a different body"
            )
        if isinstance(found, Pending):
            raise RequestInFlight(f"message {message_id!r} is being taken in; retry shortly")
        self.store.counted(channel.value, "replayed", self.complaints.clock.now())
        self._measure(channel, "replayed")
        return self._answer(found)

    def receive(
        self, channel: Channel, message: InboundMessage, fingerprint: str
    ) -> tuple[InboundAnswer, bool]:
        """Take a new message in; the answer, and whether it was a replay after all (another
        delivery of the same id got in first).

        The message id is claimed first, so two deliveries of one message at once never both
        act: the second is told the first is in flight (409), and retries get its answer.
        """
        now = self.complaints.clock.now()
        found = self.store.claim(
            channel.value,
            message.message_id,
            fingerprint,
            now,
            now - timedelta(seconds=CLAIM_SECONDS),
        )
        if found is not None:
            return self._replayed(channel, message.message_id, fingerprint, found), True
        try:
            keys = self._thread_keys(channel, message)
            receipt, filed_before = self._append(channel, message, fingerprint, keys), False
            if receipt is None:
                receipt, filed_before = self._file(channel, message, fingerprint, keys)
        except BaseException:
            with contextlib.suppress(Exception):  # (else the claim goes stale, then is taken over)
                self.store.release(channel.value, message.message_id)
            raise
        self.store.complete(channel.value, message.message_id, receipt)
        now = self.complaints.clock.now()
        if filed_before:  # its receipt was pruned, its case was not: no second case
            self.store.counted(channel.value, "replayed", now)
            self._measure(channel, "replayed")
            return self._answer(receipt), True
        self.store.counted(channel.value, receipt.result, now)
        self._measure(channel, receipt.result)
        if receipt.result == FILED and self.metrics is not None:
            self.metrics.connector_imported(channel.value, 1)
        return self._answer(receipt), False

    def _append(
        self, channel: Channel, message: InboundMessage, fingerprint: str, keys: list[str]
    ) -> Receipt | None:
        """The message on its sender's open case; None when there is none (or it is closed)."""
        thread = self.store.thread(keys) if keys else None
        if thread is None:
            return None
        try:
            result = self.complaints.relay_complainant_message(
                thread.case_id, message=full_text(message)
            )
        except (NotFound, TransitionNotAllowed):
            return None  # closed meanwhile: the message becomes a case of its own
        # Every key of this message leads here now (a new conversation that quoted the number).
        self.store.link(keys, thread, self.complaints.clock.now())
        return Receipt(
            fingerprint, thread.case_id, thread.tracking_number, result.status, APPENDED, None
        )

    def _file(
        self, channel: Channel, message: InboundMessage, fingerprint: str, keys: list[str]
    ) -> tuple[Receipt, bool]:
        """A new case for the message, with a PIN; and whether the message had filed it before
        (the case id derives from the message id)."""
        complaints = self.complaints
        text = full_text(message)
        new = NewCase(
            kind=Kind.COMPLAINT,
            channel=channel,
            category=category_of(message.text),
            subject=subject_of(channel, message.text),
            description=text,
            reporter=reporter_of(channel, message),
            anonymous=False,
            confidential=False,
            needs_inspection=False,
            intake_unit=self.intake_unit,
            received_at=plausible_received_at(message.sent_at, complaints.clock.now()),
        )
        result, pin = self.desk.file(
            new,
            client=f"{CONNECTOR}:{channel.value}",
            idempotency_key=message.message_id,
            fingerprint=fingerprint,
        )
        assert result.tracking_number is not None
        thread = Thread(result.id, result.tracking_number)
        own = self._hash("case", channel, message.sender_id, result.tracking_number)
        self.store.link([*keys, own], thread, complaints.clock.now())
        sealed = None
        if pin is not None:
            case: Complaint = complaints.repository.get(result.id)
            sealed = complaints.personal_data.sealer_for(case, complaints.clock.now()).seal(
                PIN_FIELD, pin
            )
        receipt = Receipt(
            fingerprint, result.id, result.tracking_number, result.status, FILED, sealed
        )
        return receipt, result.replayed

    # --- helpers -----------------------------------------------------------------------------

    def _answer(self, receipt: Receipt) -> InboundAnswer:
        pin = None
        if receipt.pin is not None:
            opened = self.complaints.personal_data.opener(receipt.case_id).text(
                PIN_FIELD, receipt.pin
            )
            pin = None if opened in (ERASED, UNREADABLE) else opened
        return InboundAnswer(receipt.tracking_number, receipt.status, receipt.result, pin)

    def _thread_keys(self, channel: Channel, message: InboundMessage) -> list[str]:
        """Keyed hashes of what ties the message to a case of this sender on this channel."""
        keys = []
        if message.conversation_id:
            keys.append(
                self._hash("conversation", channel, message.sender_id, message.conversation_id)
            )
        if message.tracking_number:
            try:
                number = normalise(message.tracking_number)
            except ValueError:
                number = None  # a mistyped number: the message is not lost, it files a case
            if number is not None:
                keys.append(self._hash("case", channel, message.sender_id, number))
        return keys

    def _hash(self, kind: str, channel: Channel, sender_id: str, *rest: str) -> str:
        personal = self.complaints.personal_data
        sender = _SEPARATORS.sub("", sender_id).lower()  # "+62 812-3456" is "+628123456"
        value = "\x1f".join((CONNECTOR, kind, channel.value, sender, *rest))
        return personal.envelope.keyed_hash(personal.match_key(), value)

    def _measure(self, channel: Channel, result: str) -> None:
        if self.metrics is not None:
            self.metrics.connector_message(channel.value, CONNECTOR, result)
