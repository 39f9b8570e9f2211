"""Appends every event of the log to the audit chain, in log order, hashing its stored bytes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from projections.audit.chain import GENESIS, chain_hash, event_hash
from projections.audit.view import AuditChanges, AuditEntry, AuditView
from projections.casework import is_case_event
from projections.runner import LoggedEvent


@dataclass(frozen=True)
class Facts:
    """What an entry says about its event, derived the same way when built and when verified."""

    complaint_id: UUID
    type: str
    recorded_at: datetime
    actor_sub: str | None
    actor_unit: str | None


@lru_cache(maxsize=1024)
def event_type(topic: str) -> str:
    """``Received`` for a case event, ``TrackingNumberIndex.Assigned`` for any other aggregate."""
    qualname = topic.rpartition(":")[2]
    return qualname.rpartition(".")[2] if is_case_event(topic) else qualname


def facts_of(logged: LoggedEvent) -> Facts:
    """The entry's facts, read straight from the stored JSON when it has the usual shape.

    Reading four fields from the JSON is several times faster than decoding the whole event,
    which keeps verification of a large log fast; anything unexpected (compression, another
    encoding) falls back to the decoded event, and a unit test holds the two paths equal. An
    event another read model has decoded already is not parsed a second time.
    """
    if logged.decoded is not None:
        return decoded_facts_of(logged)
    try:
        return _facts_from_json(logged)
    except (ValueError, KeyError, TypeError, AttributeError):
        return decoded_facts_of(logged)


def _facts_from_json(logged: LoggedEvent) -> Facts:
    return Facts(*json_facts(logged.state, logged.originator_id, logged.topic))


_scan_once = json.JSONDecoder().scan_once


def loads(state: bytes) -> Any:
    """``json.loads(state)``, with less work for the usual stored state: UTF-8 text that is one
    object with no space around it. Anything else (and every error) goes to ``json.loads``."""
    if (
        isinstance(state, bytes)
        and state[:1] == b"{"
        and state[-1:] == b"}"
        and state[1:2] != b"\0"
    ):
        # json.loads would detect UTF-8 (no BOM, second byte not NUL) and find no space first.
        text = state.decode("utf-8", "surrogatepass")
        try:
            found, end = _scan_once(text, 0)
        except StopIteration:
            return json.loads(state)
        if end == len(text):
            return found
    return json.loads(state)


def json_facts(state: bytes, originator_id: Any, topic: str) -> tuple[Any, ...]:
    """The facts as a plain tuple, in ``Facts``' order (the verifier compares many); the case is
    ``originator_id`` as given unless the event names another."""
    data = loads(state)
    timestamp = data["timestamp"]
    if timestamp["_type_"] != "datetime_iso":
        raise ValueError("not an ISO timestamp")
    complaint_id = originator_id
    if "complaint_id" in data:
        pointer = data["complaint_id"]
        if pointer["_type_"] != "uuid_hex":
            raise ValueError("not a UUID")
        complaint_id = UUID(pointer["_data_"])
    actor = data.get("actor")
    if actor is not None and actor["_type_"] != "actor":
        raise ValueError("not an actor")
    who = actor["_data_"] if actor is not None else {}
    return (
        complaint_id,
        event_type(topic),
        datetime.fromisoformat(timestamp["_data_"]),
        who.get("sub"),
        who.get("unit"),
    )


def decoded_facts_of(logged: LoggedEvent) -> Facts:
    event = logged.event
    complaint_id = getattr(event, "complaint_id", None)  # the tracking-number index's case
    actor = getattr(event, "actor", None)
    return Facts(
        complaint_id=complaint_id if isinstance(complaint_id, UUID) else logged.originator_id,
        type=event_type(logged.topic),
        recorded_at=event.timestamp,
        actor_sub=getattr(actor, "sub", None),
        actor_unit=getattr(actor, "unit", None),
    )


def digest_of(logged: LoggedEvent) -> str:
    return event_hash(
        logged.position, logged.originator_id, logged.originator_version, logged.topic, logged.state
    )


class AuditProjection:
    """Takes in every topic, so that the removal of any stored event breaks the chain."""

    name = "audit"
    version = 1

    def wants(self, topic: str) -> bool:
        return True

    def process(self, events: Sequence[LoggedEvent], view: AuditView) -> AuditChanges:
        head = view.head()
        seq, prev = (head.seq, head.hash) if head is not None else (0, GENESIS)
        changes = AuditChanges()
        for logged in events:
            seq += 1
            digest = digest_of(logged)
            facts = facts_of(logged)
            entry = AuditEntry(
                seq=seq,
                position=logged.position,
                complaint_id=facts.complaint_id,
                originator_id=logged.originator_id,
                version=logged.originator_version,
                type=facts.type,
                recorded_at=facts.recorded_at,
                actor_sub=facts.actor_sub,
                actor_unit=facts.actor_unit,
                event_hash=digest,
                prev_hash=prev,
                hash=chain_hash(prev, digest, seq),
            )
            changes.entries.append(entry)
            prev = entry.hash
        return changes
