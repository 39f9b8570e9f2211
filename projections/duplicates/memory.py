"""The duplicates view in memory, for fast tests."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Collection
from uuid import UUID

from projections.duplicates.view import (
    TOKEN_THRESHOLD,
    Candidate,
    CaseRow,
    DuplicateChanges,
    DuplicateQuery,
    in_scope,
    matches,
    merged,
    token_similarity,
    tokens,
)


class MemoryDuplicateView:
    def __init__(self) -> None:
        self._rows: dict[UUID, CaseRow] = {}
        self._position = 0
        self._lock = threading.Lock()

    def position(self) -> int:
        return self._position

    def commit(self, changes: DuplicateChanges, position: int) -> None:
        with self._lock:
            if position <= self._position:
                raise ValueError(f"position {position} is not after {self._position}")
            self._rows.update(changes.rows)
            for case_id, columns in changes.updates.items():
                if case_id in self._rows:
                    self._rows[case_id] = dataclasses.replace(self._rows[case_id], **columns)
            for case_id in changes.erased:
                if case_id in self._rows:
                    row = self._rows[case_id]
                    self._rows[case_id] = dataclasses.replace(
                        row, email_match=None, phone_match=None, match_text=row.subject
                    )
            self._position = position

    def candidates(self, query: DuplicateQuery) -> list[Candidate]:
        probe = tokens(query.text)
        found = []
        with self._lock:
            rows = [r for r in self._rows.values() if in_scope(r, query)]
        for row in rows:
            similarity = token_similarity(probe, tokens(row.match_text))
            candidate = matches(
                row, query, round(similarity, 3) if similarity >= TOKEN_THRESHOLD else None
            )
            if candidate.has_reason:
                found.append(candidate)
        return merged(found)

    def duplicates_of(self, case_id: UUID) -> list[CaseRow]:
        with self._lock:
            found = [r for r in self._rows.values() if r.duplicate_of == case_id]
        return sorted(found, key=lambda r: (r.received_at, str(r.id)))

    def rows(self, ids: Collection[UUID]) -> dict[UUID, CaseRow]:
        with self._lock:
            return {i: self._rows[i] for i in ids if i in self._rows}
