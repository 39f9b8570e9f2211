"""Derives the email outbox from case events: the acknowledgement of each email-channel case.

A case is an email case when it was received on channel ``email``; its ``Acknowledged`` event
queues one message (the acknowledgement email, docs/email.md). The outbox holds the case id and
its tracking number only: the address and the text are read from the case when it is sent. It
is append-only and never rebuilt; a message's key derives from its event, so taking the same
event in twice queues it once.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, uuid5

from domain.complaint import Complaint
from domain.vocabulary import Channel
from projections.casework import COMPLAINT_TOPIC_PREFIX
from projections.lapor.outbox import CaseOutboxProjection
from projections.runner import LoggedEvent

MESSAGE_NAMESPACE = uuid5(NAMESPACE_URL, "urn:aduan:email-message")
_TOPICS = frozenset(COMPLAINT_TOPIC_PREFIX + name for name in ("Received", "Acknowledged"))


class EmailOutboxProjection(CaseOutboxProjection):
    name = "email-outbox"
    topics = _TOPICS

    def reference(self, event: Complaint.Received) -> str | None:
        return str(event.tracking_number) if event.channel == Channel.EMAIL else None

    def message(self, logged: LoggedEvent) -> tuple[str, str] | None:
        if not isinstance(logged.event, Complaint.Acknowledged):
            return None
        return str(uuid5(MESSAGE_NAMESPACE, f"{logged.originator_id}:ack")), "acknowledged"
