"""Personal data: erasing a reporter (UU 27/2022), and the access log of confidential cases."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response

from application.errors import VersionConflict
from domain.vocabulary import Status
from interfaces.http.deps import (
    IfMatchDep,
    PrincipalDep,
    ServicesDep,
    body_openapi,
    json_body,
    parse_if_match,
)
from interfaces.http.problems import Problem
from interfaces.http.schemas import (
    AccessEntryOut,
    AccessLogOut,
    CommandOut,
    EraseReporterIn,
)

router = APIRouter(tags=["privacy"])

CaseId = Annotated[UUID, Path(description="The case id")]
MAX_PAGE = 1000


def _erasure_gate(
    case_id: CaseId, principal: PrincipalDep, services: ServicesDep, if_match: IfMatchDep = None
) -> int | None:
    """404, 403, 428, 412 before the body is read (API.md's order)."""
    try:
        version, malformed = parse_if_match(if_match), None
    except Problem as error:
        version, malformed = 0, error  # no case has version 0: 404 and 403 still come first
    try:
        services.complaints.authorize_erasure(principal, case_id, version)
    except VersionConflict:
        if malformed is not None:
            raise malformed from None
        raise
    return version


@router.post(
    "/v1/complaints/{case_id}/erase-reporter",
    response_model=CommandOut,
    operation_id="eraseReporter",
    summary="Erase the reporter's personal data for good (UU 27/2022): destroys the case's key",
    description=(
        "Admins only. The case's data key is destroyed and a `ReporterErased` event records "
        'who, when and why. Afterwards the reporter shows as `{"erased": true}` and the free '
        'text as "[erased]" everywhere; counts, SLA figures and the audit chain are unchanged.'
    ),
    responses={
        401: {"description": "No token or a bad token"},
        403: {"description": "Only admins erase reporters"},
        404: {"description": "No such case"},
        409: {"description": "Already erased"},
        412: {"description": "Stale If-Match"},
        422: {"description": "Invalid input"},
        428: {"description": "If-Match missing"},
    },
    openapi_extra=body_openapi(EraseReporterIn),
)
def erase_reporter(
    case_id: CaseId,
    principal: PrincipalDep,
    services: ServicesDep,
    response: Response,
    version: Annotated[int | None, Depends(_erasure_gate)],
    body: Annotated[EraseReporterIn, Depends(json_body(EraseReporterIn))],
) -> CommandOut:
    result = services.complaints.erase_reporter(principal, case_id, version, reason=body.reason)
    response.headers["ETag"] = f'"{result.version}"'
    return CommandOut(
        id=result.id, status=Status(result.status), version=result.version, position=result.position
    )


@router.get(
    "/v1/audit/access-log",
    response_model=AccessLogOut,
    operation_id="getAccessLog",
    summary="Who read which confidential, whistle-blowing or staff-ethics case, and when",
    responses={
        401: {"description": "No token or a bad token"},
        403: {"description": "Only auditors and admins read the access log"},
        422: {"description": "Invalid input"},
    },
)
def access_log(
    principal: PrincipalDep,
    services: ServicesDep,
    complaint_id: Annotated[UUID | None, Query(description="Only reads of this case")] = None,
    after: Annotated[int, Query(ge=0, description="Entries after this seq")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> AccessLogOut:
    page, next_after = services.complaints.access_log_entries(
        principal, complaint_id, after, limit
    )
    return AccessLogOut(
        items=[
            AccessEntryOut(
                seq=e.seq or 0,
                at=e.at,
                sub=e.sub,
                roles=list(e.roles),
                complaint_id=e.complaint_id,
                route=e.route,
            )
            for e in page
        ],
        next_after=next_after,
    )
