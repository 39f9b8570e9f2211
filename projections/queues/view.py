"""The queue read model: one item per case, what a unit's work list shows."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

from domain.complaint import Complaint
from domain.vocabulary import OPEN_STATUSES
from projections.casework import CaseStates
from projections.runner import View

NO_DUE = 2**62  # the sort key of an item with nothing due (closed cases): after every date


def sort_key(due_at: datetime | None) -> int:
    """Microseconds since the epoch: one integer orders items in every store alike."""
    if due_at is None:
        return NO_DUE
    delta = due_at.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return delta // datetime.resolution


@dataclass(frozen=True)
class QueueItem:
    id: UUID
    tracking_number: str
    status: str
    kind: str
    category: str
    channel: str
    subject: str
    received_at: datetime
    intake_unit: str
    handling_unit: str
    assignee: str | None
    restricted: bool
    confidential: bool
    waiting_for_complainant: bool
    next_stage: str | None
    next_due_at: datetime | None
    next_due_soon_at: datetime | None
    version: int

    @property
    def sort_key(self) -> int:
        return sort_key(self.next_due_at)

    def sla_state(self, now: datetime) -> str | None:
        """The next stage's state at ``now``; None for a closed case."""
        if self.next_due_at is None:
            return None
        if self.waiting_for_complainant:
            return "paused"
        if now > self.next_due_at:
            return "breached"
        if self.next_due_soon_at is not None and now >= self.next_due_soon_at:
            return "due_soon"
        return "on_track"


@dataclass
class QueueChanges:
    items: dict[UUID, QueueItem] = field(default_factory=dict)
    states: dict[UUID, Complaint] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueQuery:
    unit: str
    statuses: frozenset[str] = frozenset(s.value for s in OPEN_STATUSES)
    assignee: str | None = None
    include_restricted: bool = False
    limit: int = 50
    after: tuple[int, UUID] | None = None


def encode_cursor(item: QueueItem) -> str:
    raw = f"{item.sort_key}:{item.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, UUID]:
    """The position after which a page starts; ValueError for a cursor we did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        key, _, case_id = raw.partition(":")
        return int(key), UUID(case_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise ValueError("not a cursor this service issued") from error


class QueueView(View, CaseStates, Protocol):
    def page(self, query: QueueQuery) -> list[QueueItem]:
        """Items of the unit's queue after the cursor, by (next due, id), at most ``limit``."""
        ...

    def counts(self, unit: str, include_restricted: bool) -> dict[str, int]:
        """How many of the unit's cases are in each status."""
        ...

    def items(self, ids: Collection[UUID]) -> dict[UUID, QueueItem]: ...
