"""Derives the SP4N-LAPOR! outbox from case events: one message per outbound event, keyed stably.

A case is a LAPOR! case when it was received on channel ``lapor`` with an ``external_ref`` (the
LAPOR! tracking id). Its acknowledgement, routings, closes (a ``forwarded`` close with a target
agency is a forward), reopenings and PUBLIC follow-ups each queue one message; internal
follow-ups, complainant replies and everything else queue nothing. The outbox is append-only
and never rebuilt: a message's key is derived from its event, so taking the same event in twice
(a crash between reading and committing) queues it once.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.complaint import Complaint
from domain.vocabulary import Channel, Outcome
from projections.casework import COMPLAINT_TOPIC_PREFIX
from projections.runner import LoggedEvent

MESSAGE_NAMESPACE = uuid5(NAMESPACE_URL, "urn:aduan:lapor-message")
_OUTBOUND = ("Received", "Acknowledged", "Routed", "FollowedUp", "Closed", "Reopened")
_TOPICS = frozenset(COMPLAINT_TOPIC_PREFIX + name for name in _OUTBOUND)


def message_key(case_id: UUID, version: int) -> str:
    """The idempotency key of the message of one event: the same forever, in every process."""
    return str(uuid5(MESSAGE_NAMESPACE, f"{case_id}:{version}"))


@dataclass(frozen=True)
class OutboundMessage:
    key: str
    seq: int  # the event's position in the log
    case_id: UUID
    version: int
    tracking_id: str
    kind: str  # acknowledged, routed, follow_up, closed, reopened, forwarded
    created_at: datetime


@dataclass
class OutboxChanges:
    cases: dict[UUID, str] = field(default_factory=dict)  # new LAPOR! cases: id -> tracking id
    messages: list[OutboundMessage] = field(default_factory=list)


class OutboxView(Protocol):
    def position(self) -> int: ...

    def references(self, case_ids: Collection[UUID]) -> dict[UUID, str]:
        """The LAPOR! tracking id of each of these cases that is a LAPOR! case."""
        ...

    def commit(self, changes: OutboxChanges, position: int) -> None:
        """Record the new cases and messages (those already there are kept) and the position."""
        ...


def kind_of(event: Any) -> str | None:
    """The outbound kind of a case event; None for events that stay in the agency."""
    if isinstance(event, Complaint.Acknowledged):
        return "acknowledged"
    if isinstance(event, Complaint.Routed):
        return "routed"
    if isinstance(event, Complaint.FollowedUp):
        return "follow_up" if event.public else None
    if isinstance(event, Complaint.Closed):
        forwarded = event.outcome == Outcome.FORWARDED and getattr(event, "forward_to", None)
        return "forwarded" if forwarded else "closed"
    if isinstance(event, Complaint.Reopened):
        return "reopened"
    return None


class CaseOutboxProjection:
    """What a connector's outbox projection does: note the cases it follows when they are
    received (with the peer's reference), and queue a message for their later events that
    go out. Subclasses say which cases (``reference``) and which events (``message``)."""

    name: str
    version = 1
    topics: frozenset[str]

    def wants(self, topic: str) -> bool:
        return topic in self.topics

    def reference(self, event: Complaint.Received) -> str | None:
        """The peer's reference of a case this outbox follows; None for the others."""
        raise NotImplementedError

    def message(self, logged: LoggedEvent) -> tuple[str, str] | None:
        """The (key, kind) of the message a later event of a followed case queues, or None."""
        raise NotImplementedError

    def process(self, events: Sequence[LoggedEvent], view: OutboxView) -> OutboxChanges:
        changes = OutboxChanges()
        later = {e.originator_id for e in events if not e.topic.endswith(".Received")}
        known = dict(view.references(later)) if later else {}
        for logged in events:
            event = logged.event
            if isinstance(event, Complaint.Received):
                reference = self.reference(event)
                if reference is not None:
                    changes.cases[logged.originator_id] = reference
                    known[logged.originator_id] = reference
                continue
            reference = known.get(logged.originator_id)
            message = self.message(logged) if reference is not None else None
            if reference is None or message is None:
                continue
            key, kind = message
            changes.messages.append(
                OutboundMessage(
                    key=key,
                    seq=logged.position,
                    case_id=logged.originator_id,
                    version=logged.originator_version,
                    tracking_id=reference,
                    kind=kind,
                    created_at=event.timestamp,
                )
            )
        return changes


class LaporOutboxProjection(CaseOutboxProjection):
    name = "lapor-outbox"
    topics = _TOPICS

    def reference(self, event: Complaint.Received) -> str | None:
        if event.channel == Channel.LAPOR and event.external_ref:
            return str(event.external_ref)
        return None

    def message(self, logged: LoggedEvent) -> tuple[str, str] | None:
        kind = kind_of(logged.event)
        if kind is None:
            return None
        return message_key(logged.originator_id, logged.originator_version), kind


class MemoryOutboxView:
    """The outbox's projection side in memory, for fast tests."""

    def __init__(self) -> None:
        self.cases: dict[UUID, str] = {}
        self.messages: dict[str, OutboundMessage] = {}
        self._position = 0
        self._lock = threading.Lock()

    def position(self) -> int:
        return self._position

    def references(self, case_ids: Collection[UUID]) -> dict[UUID, str]:
        with self._lock:
            return {i: self.cases[i] for i in case_ids if i in self.cases}

    def commit(self, changes: OutboxChanges, position: int) -> None:
        with self._lock:
            if position <= self._position:
                raise ValueError(f"position {position} is not after {self._position}")
            for case_id, ref in changes.cases.items():
                self.cases.setdefault(case_id, ref)
            for message in changes.messages:
                self.messages.setdefault(message.key, message)
            self._position = position
