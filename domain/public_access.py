"""The complainant's key to their case: a PIN, stored only as a slow salted hash.

An aggregate of its own (like the tracking-number index), saved in the same transaction as the
case it opens, so a case filed by the public never exists without its PIN, and the Complaint's
events keep their shape. Officer-filed cases have none: the public cannot open them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.values import Actor


class PublicAccess(Aggregate):
    """Points at one case and holds the hash of its PIN (never the PIN itself)."""

    class Granted(Aggregate.Created):
        complaint_id: UUID
        pin_hash: str
        actor: Actor

        def apply(self, aggregate: Any) -> None:
            aggregate.complaint_id = self.complaint_id
            aggregate.pin_hash = self.pin_hash

    if TYPE_CHECKING:  # set by Granted.apply
        complaint_id: UUID
        pin_hash: str

    @staticmethod
    def id_for(complaint_id: UUID) -> UUID:
        return uuid5(NAMESPACE_URL, f"aduan:public-access:{complaint_id}")

    @classmethod
    def grant(cls, complaint_id: UUID, pin_hash: str, actor: Actor, at: datetime) -> PublicAccess:
        if not pin_hash:
            raise ValueError("a PIN hash is required")
        return cls._create(
            cls.Granted,
            timestamp=at,
            id=cls.id_for(complaint_id),
            complaint_id=complaint_id,
            pin_hash=pin_hash,
            actor=actor,
        )
