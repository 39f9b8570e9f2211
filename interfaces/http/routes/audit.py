"""The tamper-evident audit trail: its entries, and a verification against the event store."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from application.access import Principal, Read, audit_entry_visible, require_read
from application.errors import NotFound
from domain.complaint import Complaint
from interfaces.http.deps import PrincipalDep, ServicesDep, caught_up
from interfaces.http.problems import Problem
from projections.audit.verify import verify_view
from projections.audit.view import AuditEntry

router = APIRouter(prefix="/v1/audit", tags=["audit"])

MAX_PAGE = 1000


class ActorOut(BaseModel):
    sub: str
    unit: str | None


class AuditEntryOut(BaseModel):
    seq: int
    position: int
    complaint_id: UUID
    version: int
    type: str
    recorded_at: datetime
    actor: ActorOut | None
    event_hash: str
    prev_hash: str
    hash: str


class AuditLogOut(BaseModel):
    entries: list[AuditEntryOut]
    next_after: int | None
    position: int
    excluded_restricted: int = Field(
        0,
        description="Entries of WBS and staff-ethics cases left out of this page: they are "
        "shown to admins and to auditors an admin granted those cases' units",
    )


class VerificationOut(BaseModel):
    ok: bool
    entries: int
    head: str
    position: int
    seq: int | None = None
    reason: str | None = None


def require_auditor(principal: Principal) -> None:
    require_read(principal, Read.AUDIT_LOG)


def restricted_units(services: ServicesDep, ids: set[UUID]) -> dict[UUID, frozenset[str] | None]:
    """For each id, the units of its case when that case is restricted (WBS, staff ethics).

    The queue read model knows most cases; one it has not taken in yet is loaded from its events.
    Entries of other aggregates (configuration, tracking numbers of no case) are not restricted.
    """
    known = services.read_side.view("queues").items(ids)
    found: dict[UUID, frozenset[str] | None] = {}
    for case_id in ids:
        item = known.get(case_id)
        if item is not None:
            units = frozenset({item.intake_unit, item.handling_unit})
            found[case_id] = units if item.restricted else None
            continue
        try:
            case = services.complaints.repository.get(case_id)
        except AggregateNotFoundError:
            case = None
        restricted = isinstance(case, Complaint) and case.is_restricted
        found[case_id] = case.units() if restricted else None
    return found


def _out(entry: AuditEntry) -> AuditEntryOut:
    actor = entry.actor
    return AuditEntryOut(
        seq=entry.seq,
        position=entry.position,
        complaint_id=entry.complaint_id,
        version=entry.version,
        type=entry.type,
        recorded_at=entry.recorded_at,
        actor=ActorOut(sub=actor["sub"] or "", unit=actor["unit"]) if actor else None,
        event_hash=entry.event_hash,
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )


@router.get(
    "/log",
    response_model=AuditLogOut,
    operation_id="auditLog",
    summary="Entries of the audit chain, oldest first",
    dependencies=[caught_up("audit")],
    responses={
        401: {"description": "No token or a bad token"},
        403: {"description": "Not an auditor"},
        504: {"description": "Trail behind"},
    },
)
def audit_log(
    principal: PrincipalDep,
    services: ServicesDep,
    after: Annotated[int, Query(ge=0, description="List entries after this seq")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    complaint_id: Annotated[UUID | None, Query(description="Only this case's entries")] = None,
) -> AuditLogOut:
    require_auditor(principal)
    if complaint_id is not None:
        units = restricted_units(services, {complaint_id})[complaint_id]
        if not audit_entry_visible(principal, units):
            raise NotFound(f"no case {complaint_id}")
    view = services.read_side.view("audit")
    position = view.position()
    shown: list[AuditEntry] = []
    excluded: list[int] = []
    cursor = after
    # Entries the caller may not see are skipped, so a page may need more than one read.
    while len(shown) <= limit:
        batch = view.entries(cursor, limit + 1, complaint_id)
        visibility = restricted_units(services, {e.complaint_id for e in batch})
        for entry in batch:
            if len(shown) > limit:
                break
            if audit_entry_visible(principal, visibility[entry.complaint_id]):
                shown.append(entry)
            else:
                excluded.append(entry.seq)
        if len(batch) <= limit:
            break
        cursor = batch[-1].seq
    more = len(shown) > limit
    shown = shown[:limit]
    next_after = shown[-1].seq if more and shown else None
    return AuditLogOut(
        entries=[_out(e) for e in shown],
        next_after=next_after,
        position=position,
        # Only those before the next page's start: the next page does not count them again.
        excluded_restricted=sum(1 for s in excluded if next_after is None or s <= next_after),
    )


@router.get(
    "/verify",
    response_model=VerificationOut,
    response_model_exclude_none=True,
    operation_id="auditVerify",
    summary="Recompute the chain from the event store and report the first bad entry",
    dependencies=[caught_up("audit")],
    responses={
        401: {"description": "No token or a bad token"},
        403: {"description": "Not an auditor"},
        504: {"description": "Trail behind"},
    },
)
def audit_verify(principal: PrincipalDep, services: ServicesDep) -> VerificationOut:
    require_auditor(principal)
    if services.event_log is None:
        raise Problem(503, "verifier-unavailable", "Verifier unavailable", "no event log here")
    result = verify_view(services.read_side.view("audit"), services.event_log)
    return VerificationOut(
        ok=result.ok,
        entries=result.entries,
        head=result.head,
        position=result.position,
        seq=result.first_bad_seq,
        reason=result.reason,
    )
