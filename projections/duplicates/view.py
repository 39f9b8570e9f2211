"""The duplicates read model: what finding a case's likely duplicates compares, one row per case.

A row holds personal data in two forms, both gone once the reporter is erased: the reporter's
keyed match hashes (HMAC of the normalised email and phone, as the events carry them) and the
case's text (subject and description) for text similarity. After ``ReporterErased`` a row keeps
only its subject as text, so erased people can no longer be linked to other cases through it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from projections.runner import View

# What each reason adds to a candidate's score, combined as 1 - prod(1 - weight): a registration
# number is near-proof, the same reporter strong, a similar text as strong as it is similar.
REGISTRATION_WEIGHT = 0.9
REPORTER_WEIGHT = 0.8
# Text similarity: trigram similarity on PostgreSQL (pg_trgm), token overlap (Jaccard) elsewhere.
TRIGRAM_THRESHOLD = 0.3
TOKEN_THRESHOLD = 0.25
MAX_PER_REASON = 60  # per reason, before visibility checks; a page shows at most 50
_STOPWORDS = frozenset(
    (
        "yang", "dan", "di", "ke", "dari", "untuk", "dengan", "ini", "itu", "tidak", "ada", "pada",
        "sudah", "saya", "kami", "kita", "akan", "atau", "juga", "karena", "oleh", "dalam", "telah",
        "bisa", "mohon", "agar", "the", "and", "for", "with",
    )
)


@dataclass(frozen=True)
class CaseRow:
    id: UUID
    tracking_number: str
    category: str
    subject: str
    received_at: datetime
    intake_unit: str
    handling_unit: str
    restricted: bool
    anonymous: bool
    is_open: bool
    product_registration: str | None
    email_match: str | None
    phone_match: str | None
    match_text: str
    duplicate_of: UUID | None

    @property
    def units(self) -> tuple[str, ...]:
        return (self.intake_unit, self.handling_unit)


@dataclass
class DuplicateChanges:
    """New rows (their ``Received`` was in the batch), then changes of older rows, in order."""

    rows: dict[UUID, CaseRow] = field(default_factory=dict)
    updates: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    erased: set[UUID] = field(default_factory=set)  # hashes dropped, text back to the subject

    def change(self, case_id: UUID, **columns: Any) -> None:
        if case_id in self.rows:
            self.rows[case_id] = dataclasses.replace(self.rows[case_id], **columns)
        else:
            self.updates.setdefault(case_id, {}).update(columns)

    def erase(self, case_id: UUID) -> None:
        if case_id in self.rows:
            row = self.rows[case_id]
            self.rows[case_id] = dataclasses.replace(
                row, email_match=None, phone_match=None, match_text=row.subject
            )
        else:
            self.erased.add(case_id)


@dataclass(frozen=True)
class DuplicateQuery:
    """Open cases like ``case_id``; ``units`` None: every unit, else those units' cases only."""

    case_id: UUID
    category: str
    product_registration: str | None
    email_match: str | None
    phone_match: str | None
    text: str
    units: frozenset[str] | None = None


@dataclass(frozen=True)
class Candidate:
    row: CaseRow
    same_registration: bool = False
    same_email: bool = False
    same_phone: bool = False
    similarity: float | None = None  # None: the text is not similar enough to count

    @property
    def same_reporter(self) -> bool:
        return self.same_email or self.same_phone

    @property
    def score(self) -> float:
        weights = [
            REGISTRATION_WEIGHT if self.same_registration else 0.0,
            REPORTER_WEIGHT if self.same_reporter else 0.0,
            self.similarity or 0.0,
        ]
        unlikely = 1.0
        for weight in weights:
            unlikely *= 1.0 - weight
        return round(1.0 - unlikely, 3)

    @property
    def has_reason(self) -> bool:
        return self.same_registration or self.same_reporter or self.similarity is not None

    def without_reporter(self) -> Candidate:
        return dataclasses.replace(self, same_email=False, same_phone=False)


def tokens(text: str) -> frozenset[str]:
    """The words that carry meaning: three letters or more, no common function words."""
    words = re.findall(r"[0-9a-z]+", text.lower())
    return frozenset(w for w in words if len(w) >= 3 and w not in _STOPWORDS)


def token_similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard overlap of two token sets, 0..1."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def merged(found: Iterable[Candidate]) -> list[Candidate]:
    """One candidate per case (its reasons together), best first: score, then newest."""
    by_id: dict[UUID, Candidate] = {}
    for c in found:
        seen = by_id.get(c.row.id)
        if seen is None:
            by_id[c.row.id] = c
            continue
        by_id[c.row.id] = dataclasses.replace(
            seen,
            same_registration=seen.same_registration or c.same_registration,
            same_email=seen.same_email or c.same_email,
            same_phone=seen.same_phone or c.same_phone,
            similarity=max(
                (s for s in (seen.similarity, c.similarity) if s is not None), default=None
            ),
        )
    return sorted(
        by_id.values(), key=lambda c: (-c.score, -c.row.received_at.timestamp(), str(c.row.id))
    )


def matches(row: CaseRow, query: DuplicateQuery, similarity: float | None) -> Candidate:
    """The reasons ``row`` is like the query's case (similarity computed by the caller)."""
    return Candidate(
        row,
        same_registration=query.product_registration is not None
        and row.product_registration == query.product_registration,
        same_email=query.email_match is not None and row.email_match == query.email_match,
        same_phone=query.phone_match is not None and row.phone_match == query.phone_match,
        similarity=similarity if row.category == query.category else None,
    )


def in_scope(row: CaseRow, query: DuplicateQuery) -> bool:
    return (
        row.is_open
        and row.id != query.case_id
        and (query.units is None or any(u in query.units for u in row.units))
    )


class DuplicateView(View, Protocol):
    def candidates(self, query: DuplicateQuery) -> list[Candidate]:
        """Open cases sharing the registration number or the reporter, or (same category) a
        similar text; merged per case, best first. Visibility is the caller's to check."""
        ...

    def duplicates_of(self, case_id: UUID) -> list[CaseRow]:
        """The cases closed as duplicates of ``case_id`` (the reverse of ``duplicate_of``)."""
        ...

    def rows(self, ids: Collection[UUID]) -> dict[UUID, CaseRow]: ...
