"""The audit view in memory, for fast tests."""

from __future__ import annotations

import bisect
import threading
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from projections.audit.view import AuditChanges, AuditEntry, Checkpoint


class MemoryAuditView:
    name = "audit"
    version = 1

    def __init__(self) -> None:
        self._entries: list[AuditEntry] = []
        self._checkpoints: list[Checkpoint] = []
        self._lock = threading.Lock()

    def position(self) -> int:
        return self._entries[-1].position if self._entries else 0

    def head(self) -> AuditEntry | None:
        return self._entries[-1] if self._entries else None

    def commit(self, changes: AuditChanges, position: int) -> None:
        with self._lock:
            head = self.head()
            expected = head.seq + 1 if head is not None else 1
            if changes.entries and changes.entries[0].seq != expected:
                raise ValueError(f"the chain continues at seq {expected}, not a rewrite")
            if changes.entries and changes.entries[-1].position != position:
                raise ValueError("an audit batch ends at its last entry's position")
            self._entries.extend(changes.entries)

    def entries(
        self, after: int = 0, limit: int = 1000, complaint_id: UUID | None = None
    ) -> list[AuditEntry]:
        with self._lock:
            start = bisect.bisect_right(self._entries, after, key=lambda e: e.seq)
            chosen = []
            for entry in self._entries[start:]:
                if complaint_id is None or entry.complaint_id == complaint_id:
                    chosen.append(entry)
                    if len(chosen) == limit:
                        break
            return chosen

    def entry(self, seq: int) -> AuditEntry | None:
        with self._lock:
            if 1 <= seq <= len(self._entries) and self._entries[seq - 1].seq == seq:
                return self._entries[seq - 1]
            return next((e for e in self._entries if e.seq == seq), None)

    def version_at(self, complaint_id: UUID, at: datetime) -> int | None:
        with self._lock:
            versions = [
                e.version
                for e in self._entries
                if e.complaint_id == complaint_id
                and e.originator_id == complaint_id
                and e.recorded_at <= at
            ]
        return max(versions, default=None)

    def record_checkpoint(self, checkpoint: Checkpoint) -> None:
        with self._lock:
            self._checkpoints.append(checkpoint)

    def checkpoints(self) -> list[Checkpoint]:
        with self._lock:
            return list(self._checkpoints)

    def tamper(self, seq: int, **fields: object) -> None:
        """Change one stored entry in place, as someone with write access to the table could."""
        with self._lock:
            index = next(i for i, e in enumerate(self._entries) if e.seq == seq)
            self._entries[index] = replace(self._entries[index], **fields)  # type: ignore[arg-type]

    def remove(self, seq: int) -> None:
        with self._lock:
            self._entries = [e for e in self._entries if e.seq != seq]
