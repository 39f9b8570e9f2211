"""Derives the email outbox from case events: the acknowledgement of each email-channel case.

A case is an email case when it was received on channel ``email``; its ``Acknowledged`` event
queues one message (the acknowledgement email, docs/email.md). The outbox holds the case id and
its tracking number only: the address and the text are read from the case when it is sent. It
is append-only and never rebuilt; a message's key derives from its event, so taking the same
event in twice queues it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import NAMESPACE_URL, uuid5

from domain.complaint import Complaint
from domain.vocabulary import Channel
from projections.casework import COMPLAINT_TOPIC_PREFIX
from projections.lapor.outbox import OutboundMessage, OutboxChanges, OutboxView
from projections.runner import LoggedEvent

MESSAGE_NAMESPACE = uuid5(NAMESPACE_URL, "urn:aduan:email-message")
_TOPICS = frozenset(COMPLAINT_TOPIC_PREFIX + name for name in ("Received", "Acknowledged"))


class EmailOutboxProjection:
    name = "email-outbox"
    version = 1

    def wants(self, topic: str) -> bool:
        return topic in _TOPICS

    def process(self, events: Sequence[LoggedEvent], view: OutboxView) -> OutboxChanges:
        changes = OutboxChanges()
        later = {e.originator_id for e in events if not e.topic.endswith(".Received")}
        known = dict(view.references(later)) if later else {}
        for logged in events:
            event = logged.event
            if isinstance(event, Complaint.Received):
                if event.channel == Channel.EMAIL:
                    changes.cases[logged.originator_id] = event.tracking_number
                    known[logged.originator_id] = event.tracking_number
                continue
            number = known.get(logged.originator_id)
            if number is None or not isinstance(event, Complaint.Acknowledged):
                continue
            changes.messages.append(
                OutboundMessage(
                    key=str(uuid5(MESSAGE_NAMESPACE, f"{logged.originator_id}:ack")),
                    seq=logged.position,
                    case_id=logged.originator_id,
                    version=logged.originator_version,
                    tracking_id=number,
                    kind="acknowledged",
                    created_at=event.timestamp,
                )
            )
        return changes
