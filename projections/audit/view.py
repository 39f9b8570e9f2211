"""The audit read model: one entry per stored event, in one gapless global sequence."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from projections.runner import View


@dataclass(frozen=True)
class AuditEntry:
    """One link of the chain: what the event was, and the hashes that pin it in place."""

    seq: int
    position: int
    complaint_id: UUID
    originator_id: UUID
    version: int
    type: str
    recorded_at: datetime
    actor_sub: str | None
    actor_unit: str | None
    event_hash: str
    prev_hash: str
    hash: str

    @property
    def actor(self) -> dict[str, str | None] | None:
        if self.actor_sub is None:
            return None
        return {"sub": self.actor_sub, "unit": self.actor_unit}

    def to_json(self) -> dict[str, Any]:
        """The entry as an export line carries it (everything needed to re-verify it)."""
        return {
            "seq": self.seq,
            "position": self.position,
            "complaint_id": str(self.complaint_id),
            "originator_id": str(self.originator_id),
            "version": self.version,
            "type": self.type,
            "recorded_at": self.recorded_at.isoformat(),
            "actor": self.actor,
            "event_hash": self.event_hash,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditEntry:
        """An entry read back from an export line; ValueError/KeyError/TypeError when malformed."""
        actor = data["actor"]
        return cls(
            seq=int(data["seq"]),
            position=int(data["position"]),
            complaint_id=UUID(data["complaint_id"]),
            originator_id=UUID(data["originator_id"]),
            version=int(data["version"]),
            type=str(data["type"]),
            recorded_at=datetime.fromisoformat(data["recorded_at"]),
            actor_sub=None if actor is None else actor["sub"],
            actor_unit=None if actor is None else actor["unit"],
            event_hash=str(data["event_hash"]),
            prev_hash=str(data["prev_hash"]),
            hash=str(data["hash"]),
        )


@dataclass
class AuditChanges:
    entries: list[AuditEntry] = field(default_factory=list)


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the chain had ``head`` at ``seq`` (event ``position``)."""

    seq: int
    head: str
    position: int
    signed_at: datetime
    public_key: str
    signature: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "head": self.head,
            "position": self.position,
            "signed_at": self.signed_at.isoformat(),
            "public_key": self.public_key,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        return cls(
            seq=int(data["seq"]),
            head=str(data["head"]),
            position=int(data["position"]),
            signed_at=datetime.fromisoformat(data["signed_at"]),
            public_key=str(data["public_key"]),
            signature=str(data["signature"]),
        )


class AuditView(View, Protocol):
    name: str
    version: int

    def head(self) -> AuditEntry | None:
        """The last entry (None while the chain is empty)."""
        ...

    def entries(
        self, after: int = 0, limit: int = 1000, complaint_id: UUID | None = None
    ) -> list[AuditEntry]:
        """Entries with a seq greater than ``after``, oldest first, at most ``limit``."""
        ...

    def entry(self, seq: int) -> AuditEntry | None: ...

    def version_at(self, complaint_id: UUID, at: datetime) -> int | None:
        """The case's version as recorded at ``at`` (an index lookup on case and time)."""
        ...

    def record_checkpoint(self, checkpoint: Checkpoint) -> None: ...

    def checkpoints(self) -> list[Checkpoint]: ...


def all_entries(view: AuditView, batch_size: int = 5000) -> Iterator[AuditEntry]:
    """The whole chain, read batch by batch (never all at once)."""
    after = 0
    while True:
        batch = view.entries(after, batch_size)
        yield from batch
        if len(batch) < batch_size:
            return
        after = batch[-1].seq
