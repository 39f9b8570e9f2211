"""The tamper-evident audit trail: its entries, and a verification against the event store."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from application.access import Principal, Role
from application.errors import Forbidden
from interfaces.http.deps import PrincipalDep, ServicesDep, caught_up
from interfaces.http.problems import Problem
from projections.audit.verify import verify_view
from projections.audit.view import AuditEntry

router = APIRouter(prefix="/v1/audit", tags=["audit"])

MAX_PAGE = 1000
AUDIT_ROLES = (Role.AUDITOR, Role.ADMIN)


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


class VerificationOut(BaseModel):
    ok: bool
    entries: int
    head: str
    position: int
    seq: int | None = None
    reason: str | None = None


def require_auditor(principal: Principal) -> None:
    if not principal.has(*AUDIT_ROLES):
        raise Forbidden("the audit trail is for auditors (and admins)")


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
    responses={403: {"description": "Not an auditor"}, 504: {"description": "Trail behind"}},
)
def audit_log(
    principal: PrincipalDep,
    services: ServicesDep,
    after: Annotated[int, Query(ge=0, description="List entries after this seq")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    complaint_id: Annotated[UUID | None, Query(description="Only this case's entries")] = None,
) -> AuditLogOut:
    require_auditor(principal)
    view = services.read_side.view("audit")
    position = view.position()
    entries = view.entries(after, limit + 1, complaint_id)
    more = len(entries) > limit
    entries = entries[:limit]
    return AuditLogOut(
        entries=[_out(e) for e in entries],
        next_after=entries[-1].seq if more and entries else None,
        position=position,
    )


@router.get(
    "/verify",
    response_model=VerificationOut,
    response_model_exclude_none=True,
    operation_id="auditVerify",
    summary="Recompute the chain from the event store and report the first bad entry",
    dependencies=[caught_up("audit")],
    responses={403: {"description": "Not an auditor"}, 504: {"description": "Trail behind"}},
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
