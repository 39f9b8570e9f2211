"""Likely duplicates of a case, found among the open cases the caller may see."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from application.access import ALL_UNITS, Principal, Role, can_see_units
from application.complaints import DuplicateProbe
from application.privacy import sees_identity_of
from domain.tracking_number import display
from interfaces.http.deps import PrincipalDep, ServicesDep, caught_up
from projections.duplicates.view import Candidate, DuplicateQuery

router = APIRouter(prefix="/v1/complaints", tags=["complaints"])


class ReasonOut(BaseModel):
    reason: Literal["same_product_registration", "same_reporter", "similar_text"]
    product_registration: str | None = None
    matched_on: list[Literal["email", "phone"]] | None = Field(
        None, description="same_reporter: which of the reporter's contacts agree (keyed hashes)"
    )
    similarity: float | None = Field(
        None,
        description="similar_text: 0..1, trigram similarity (PostgreSQL pg_trgm) or token "
        "overlap (SQLite) of subject and description, within the same category",
    )


class PossibleDuplicateOut(BaseModel):
    id: UUID
    tracking_number: str
    category: str
    subject: str
    received_at: datetime
    intake_unit: str
    handling_unit: str
    score: float = Field(description="0..1; the reasons' weights combined, 1 - prod(1 - w)")
    reasons: list[ReasonOut]


class PossibleDuplicatesOut(BaseModel):
    id: UUID = Field(description="The case the candidates are likely duplicates of")
    items: list[PossibleDuplicateOut]
    position: int = Field(description="The read model's position when it answered")


def _scope(principal: Principal) -> frozenset[str] | None:
    """Units whose cases the caller may see at all (None: every unit); exact checks follow."""
    if principal.has(Role.AUDITOR) or ALL_UNITS in principal.units:
        return None
    return frozenset(principal.units)


def _query(probe: DuplicateProbe, principal: Principal) -> DuplicateQuery:
    return DuplicateQuery(
        case_id=probe.case_id,
        category=probe.category,
        product_registration=probe.product_registration,
        email_match=probe.email_match,
        phone_match=probe.phone_match,
        text=probe.text,
        units=_scope(principal),
    )


def _shown(principal: Principal, candidate: Candidate) -> Candidate | None:
    """The candidate as the caller may see it: hidden cases dropped, and "same reporter" only
    where the caller sees that case's reporter too (an anonymous or WBS reporter stays unlinked).
    """
    row = candidate.row
    if not can_see_units(principal, row.restricted, row.units):
        return None
    if candidate.same_reporter and not sees_identity_of(
        principal, row.anonymous, row.restricted, row.intake_unit, row.units
    ):
        candidate = candidate.without_reporter()
    return candidate if candidate.has_reason else None


def _reasons(candidate: Candidate) -> list[ReasonOut]:
    reasons = []
    if candidate.same_registration:
        reasons.append(
            ReasonOut(
                reason="same_product_registration",
                product_registration=candidate.row.product_registration,
                matched_on=None,
                similarity=None,
            )
        )
    if candidate.same_reporter:
        matched: list[Literal["email", "phone"]] = []
        if candidate.same_email:
            matched.append("email")
        if candidate.same_phone:
            matched.append("phone")
        reasons.append(
            ReasonOut(
                reason="same_reporter",
                product_registration=None,
                matched_on=matched,
                similarity=None,
            )
        )
    if candidate.similarity is not None:
        reasons.append(
            ReasonOut(
                reason="similar_text",
                product_registration=None,
                matched_on=None,
                similarity=candidate.similarity,
            )
        )
    return reasons


@router.get(
    "/{case_id}/possible-duplicates",
    response_model=PossibleDuplicatesOut,
    operation_id="possibleDuplicates",
    summary="Open cases that are likely duplicates of this one, best first, with the reasons",
    description=(
        "Open cases you may see that share the product registration number, the reporter "
        "(keyed hashes of the normalised email and phone; only where you see both reporters), "
        "or a similar subject and description in the same category. From a read model: pass "
        "`?after_position=` (e.g. the create's position) to wait until it has the case."
    ),
    dependencies=[caught_up("duplicates")],
    responses={
        401: {"description": "No token or a bad token"},
        404: {"description": "No such case, or one you may not see"},
        422: {"description": "Invalid query"},
        503: {"description": "Store unavailable"},
        504: {"description": "Read model still behind after_position"},
    },
)
def possible_duplicates(
    case_id: Annotated[UUID, Path(description="The case id")],
    principal: PrincipalDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=50, description="At most this many")] = 10,
) -> PossibleDuplicatesOut:
    probe = services.complaints.duplicate_probe(
        principal, case_id, route="GET /v1/complaints/{id}/possible-duplicates"
    )
    view = services.read_side.view("duplicates")
    position = view.position()
    items = []
    for found in view.candidates(_query(probe, principal)):
        candidate = _shown(principal, found)
        if candidate is None:
            continue
        row = candidate.row
        items.append(
            PossibleDuplicateOut(
                id=row.id,
                tracking_number=display(row.tracking_number),
                category=row.category,
                subject=row.subject,
                received_at=row.received_at,
                intake_unit=row.intake_unit,
                handling_unit=row.handling_unit,
                score=candidate.score,
                reasons=_reasons(candidate),
            )
        )
    items.sort(key=lambda i: (-i.score, -i.received_at.timestamp(), str(i.id)))
    return PossibleDuplicatesOut(id=case_id, items=items[:limit], position=position)
