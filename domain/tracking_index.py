"""An aggregate per tracking number: the event store's uniqueness makes numbers unique."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate


class TrackingNumberIndex(Aggregate):
    """Points a tracking number at its case; saved in the same transaction as the case."""

    class Assigned(Aggregate.Created):
        tracking_number: str
        complaint_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.tracking_number = self.tracking_number
            aggregate.complaint_id = self.complaint_id

    if TYPE_CHECKING:  # set by Assigned.apply
        tracking_number: str
        complaint_id: UUID

    @staticmethod
    def id_for(tracking_number: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"aduan:tracking-number:{tracking_number}")

    @classmethod
    def assign(cls, tracking_number: str, complaint_id: UUID, at: datetime) -> TrackingNumberIndex:
        return cls._create(
            cls.Assigned,
            timestamp=at,
            id=cls.id_for(tracking_number),
            tracking_number=tracking_number,
            complaint_id=complaint_id,
        )
