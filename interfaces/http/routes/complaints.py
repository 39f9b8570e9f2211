"""Officers' commands and queries on complaint cases."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from typing import Annotated, Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from pydantic import AwareDatetime, StringConstraints, TypeAdapter, ValidationError

from application.access import Command, can_see_units
from application.committer import Committer, CommitterUnavailable
from application.complaints import (
    CaseSnapshot,
    CommandResult,
    Complaints,
    HistoryEntry,
    NewCase,
    PreparedCase,
    TemplateChoice,
)
from application.errors import VersionConflict
from application.privacy import NewKey
from domain.service_levels import next_due
from domain.tracking_number import display
from domain.values import Reporter
from interfaces.http.deps import (
    IfMatchDep,
    PrincipalDep,
    ServicesDep,
    body_openapi,
    caught_up,
    json_body,
    limit_per_caller,
    parse_if_match,
)
from interfaces.http.problems import Problem, invalid
from interfaces.http.schemas import (
    AcknowledgeIn,
    CloseIn,
    CommandOut,
    ComplainantReplyIn,
    ComplaintOut,
    CreatedOut,
    FollowUpIn,
    HistoryEventOut,
    HistoryOut,
    MarkDuplicateIn,
    NewComplaintIn,
    ReopenIn,
    ReporterErasedOut,
    ReporterHiddenOut,
    ReporterOut,
    RouteIn,
    StageOut,
    TemplatePick,
)

router = APIRouter(prefix="/v1/complaints", tags=["complaints"])

CaseId = Annotated[UUID, Path(description="The case id")]
ERRORS = {
    401: {"description": "No token or a bad token"},
    403: {"description": "Your role may not do this"},
    404: {"description": "No such case, or one you may not see"},
    409: {"description": "Not allowed in the case's current status"},
    412: {"description": "Stale If-Match, or another write won the same version"},
    413: {"description": "Body too large"},
    422: {"description": "Invalid input"},
    428: {"description": "If-Match missing"},
    503: {"description": "Event store unavailable"},
}


def _command_out(result: CommandResult, response: Response) -> CommandOut:
    response.headers["ETag"] = f'"{result.version}"'
    return CommandOut(
        id=result.id, status=result.status, version=result.version, position=result.position
    )


def _gate(*commands: Command):  # type: ignore[no-untyped-def]
    """Dependency: the 404/403/428/412 checks of a command, before its body is read."""

    def check(
        case_id: CaseId,
        principal: PrincipalDep,
        services: ServicesDep,
        if_match: IfMatchDep = None,
    ) -> int | None:
        try:
            version, malformed = parse_if_match(if_match), None
        except Problem as error:
            # Still a 412, but not before 404/403: no case has version 0, so authorize
            # answers those first and otherwise fails the version check.
            version, malformed = 0, error
        try:
            services.complaints.authorize(principal, case_id, commands, version)
        except VersionConflict:
            if malformed is not None:
                raise malformed from None
            raise
        return version

    return Depends(check)


IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
IDEMPOTENCY_KEY_DESCRIPTION = "A retry with the same key and body returns the first result again"
IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {
        "anyOf": [
            {"type": "string", "maxLength": 255, "pattern": IDEMPOTENCY_KEY_PATTERN},
            {"type": "null"},
        ],
        "description": IDEMPOTENCY_KEY_DESCRIPTION,
        "title": "Idempotency-Key",
    },
    "description": IDEMPOTENCY_KEY_DESCRIPTION,
}
_IDEMPOTENCY_KEY = TypeAdapter(
    Annotated[str, StringConstraints(max_length=255, pattern=IDEMPOTENCY_KEY_PATTERN)]
)
_IDEMPOTENCY_KEY_FORM = re.compile(IDEMPOTENCY_KEY_PATTERN)


def _idempotency_key(request: Request) -> str | None:
    """The Idempotency-Key header, checked as a declared header parameter would be (same 422),
    read here rather than declared: one parameter less for FastAPI to resolve per create."""
    value = request.headers.get("idempotency-key")
    if value is None or _IDEMPOTENCY_KEY_FORM.match(value):
        return value
    try:
        _IDEMPOTENCY_KEY.validate_python(value)
    except ValidationError as error:
        raise invalid(
            "some fields are not valid",
            [
                {
                    "field": "header.Idempotency-Key",
                    "pointer": "#/header/Idempotency-Key",
                    "detail": e["msg"],
                }
                for e in error.errors()
            ],
        ) from None
    return value  # pragma: no cover - the pattern above and the adapter agree
def _template(body: TemplatePick) -> TemplateChoice | None:
    if body.template_id is None:
        return None
    return TemplateChoice(body.template_id, body.template_version)


def _fingerprint(key: bytes, body: NewComplaintIn) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


@router.post(
    "",
    status_code=201,
    response_model=CreatedOut,
    operation_id="createComplaint",
    summary="Record a case that arrived on any channel",
    dependencies=[limit_per_caller("create-complaint")],
    responses={
        **ERRORS,
        409: {"description": "The same Idempotency-Key is still in flight"},
        429: {"description": "Too many new cases from you; see Retry-After"},
    },
    openapi_extra=body_openapi(NewComplaintIn) | {"parameters": [IDEMPOTENCY_KEY_PARAMETER]},
)
async def create_complaint(
    principal: PrincipalDep,
    services: ServicesDep,
    response: Response,
    body: Annotated[NewComplaintIn, Depends(json_body(NewComplaintIn))],
    request: Request,
) -> CreatedOut:
    idempotency_key = _idempotency_key(request)
    reporter = body.reporter
    new = NewCase(
        kind=body.kind,
        channel=body.channel,
        category=body.category,
        subject=body.subject,
        description=body.description,
        reporter=Reporter(reporter.name, reporter.email, reporter.phone, reporter.address)
        if reporter
        else None,
        anonymous=body.anonymous,
        confidential=body.confidential,
        needs_inspection=body.needs_inspection,
        intake_unit=body.intake_unit,
        received_at=body.received_at,
        external_ref=body.external_ref,
        product_registration=body.product_registration,
    )
    # Only a keyed create can be replayed (an unkeyed one gets a fresh id), so only it needs
    # the fingerprint that tells a replay from a different body under the same key.
    fingerprint = _fingerprint(services.fingerprint_key, body) if idempotency_key else None
    complaints, committer = services.complaints, services.committer
    if committer is None:
        result = await run_in_threadpool(
            complaints.file_case,
            principal,
            new,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
        )
    else:
        outcome = await run_in_threadpool(
            complaints.prepare_case,
            principal,
            new,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            store_key=False,  # the writer stores a batch's keys together, before its events
        )
        result = (
            outcome
            if isinstance(outcome, CommandResult)
            else await _file_together(complaints, committer, outcome)
        )
    response.headers["ETag"] = f'"{result.version}"'
    response.headers["Location"] = f"/v1/complaints/{result.id}"
    assert result.tracking_number is not None
    return CreatedOut(
        id=result.id,
        status=result.status,
        version=result.version,
        position=result.position,
        tracking_number=display(result.tracking_number),
        possible_duplicates_url=f"/v1/complaints/{result.id}/possible-duplicates"
        f"?after_position={result.position}",
    )


async def _file_together(
    complaints: Complaints, committer: Committer, prepared: PreparedCase
) -> CommandResult:
    """Store a prepared create through the group-commit writer, as file_case would alone."""
    try:
        while True:
            try:
                keys = () if prepared.key is None else (prepared.key,)
                recordings = await _committed(committer, prepared.aggregates, keys)
            except IntegrityError:
                outcome = await run_in_threadpool(complaints.after_clash, prepared)
                if isinstance(outcome, CommandResult):
                    return outcome
                prepared = outcome
            else:
                return complaints.case_filed(prepared, recordings)
    finally:
        complaints.release(prepared)


async def _committed(
    committer: Committer, aggregates: tuple[object, ...], keys: tuple[NewKey, ...]
) -> list[Any]:
    """The writer's answer; a timeout only while still queued, never once the writer has it."""
    try:
        future = committer.submit(aggregates, keys)
    except CommitterUnavailable as error:
        raise _busy(str(error)) from None
    answer = asyncio.wrap_future(future)
    try:
        try:
            return await asyncio.wait_for(asyncio.shield(answer), committer.queued_seconds)
        except TimeoutError:
            if future.cancel():  # still queued: nothing of it was or will be stored
                raise _busy("too many new cases waiting to be stored") from None
            return await answer  # taken: a 5xx now could hide a stored case
    except CommitterUnavailable as error:
        raise _busy(str(error)) from None
    except asyncio.CancelledError:
        future.cancel()  # the client left: if still queued, store nothing
        raise


def _busy(detail: str) -> Problem:
    return Problem(503, "store-busy", "Service unavailable", detail, headers={"Retry-After": "1"})


@router.post(
    "/{case_id}/acknowledge",
    response_model=CommandOut,
    operation_id="acknowledgeComplaint",
    summary="Tell the complainant the case was received and will be handled",
    responses=ERRORS,
    openapi_extra=body_openapi(AcknowledgeIn),
)
def acknowledge(
    case_id: CaseId,
    principal: PrincipalDep,
    services: ServicesDep,
    response: Response,
    version: Annotated[int | None, _gate(Command.ACKNOWLEDGE)],
    body: Annotated[AcknowledgeIn, Depends(json_body(AcknowledgeIn))],
) -> CommandOut:
    result = services.complaints.acknowledge(
        principal, case_id, version, message=body.message, template=_template(body)
    )
    return _command_out(result, response)


@router.post(
    "/{case_id}/route",
    response_model=CommandOut,
    operation_id="routeComplaint",
    summary="Route (disposisi) the case to the competent unit, again if need be",
    responses=ERRORS,
    openapi_extra=body_openapi(RouteIn),
)
def route(
    case_id: CaseId,
    principal: PrincipalDep,
    services: ServicesDep,
    response: Response,
    version: Annotated[int | None, _gate(Command.ROUTE)],
    body: Annotated[RouteIn, Depends(json_body(RouteIn))],
) -> CommandOut:
    result = services.complaints.route(
        principal, case_id, version, to_unit=body.to_unit, note=body.note, assignee=body.assignee
    )
    return _command_out(result, response)


@router.post(
    "/{case_id}/follow-ups",
    response_model=CommandOut,
    operation_id="followUpComplaint",
    summary="Record a follow-up action; 'request_data' pauses the SLA clock",
    responses=ERRORS,
    openapi_extra=body_openapi(FollowUpIn),
)
def follow_up(
    case_id: CaseId,
    principal: PrincipalDep,
    services: ServicesDep,
    response: Response,
    version: Annotated[int | None, _gate(Command.FOLLOW_UP, Command.REQUEST_DATA)],
    body: Annotated[FollowUpIn, Depends(json_body(FollowUpIn))],
) -> CommandOut:
    result = services.complaints.follow_up(
        principal,
        case_id,
        version,
        action=body.action,
        note=body.note,
        public=body.public,
        template=_template(body),
    )
    return _command_out(result, response)


@router.post(
    "/{case_id}/complainant-replies",
    response_model=CommandOut,
    operation_id="recordComplainantReply",
    summary="Record the complainant's missing data, received on any channel; resumes the clock",
    responses=ERRORS,
    openapi_extra=body_openapi(ComplainantReplyIn),
)
def record_complainant_reply(
    case_id: CaseId,
    principal: PrincipalDep,
    services: ServicesDep,
    response: Response,
    version: Annotated[int | None, _gate(Command.RECORD_REPLY)],
    body: Annotated[ComplainantReplyIn, Depends(json_body(ComplainantReplyIn))],
) -> CommandOut:
    result = services.complaints.record_complainant_reply(
        principal, case_id, version, message=body.message
    )
    return _command_out(result, response)


@router.post(
    "/{case_id}/close",
    response_model=CommandOut,
    operation_id="closeComplaint",
    summary="Close the case with an outcome and the final answer",
    responses=ERRORS,
    openapi_extra=body_openapi(CloseIn),
)
def close(
    case_id: CaseId,
    principal: PrincipalDep,
    services: ServicesDep,
    response: Response,
    version: Annotated[int | None, _gate(Command.CLOSE)],
    body: Annotated[CloseIn, Depends(json_body(CloseIn))],
) -> CommandOut:
    result = services.complaints.close_case(
        principal,
        case_id,
        version,
        outcome=body.outcome,
        answer=body.answer,
        duplicate_of=body.duplicate_of,
        forward_to=body.forward_to,
        template=_template(body),
    )
    return _command_out(result, response)


@router.post(
    "/{case_id}/mark-duplicate",
    response_model=CommandOut,
    operation_id="markComplaintDuplicate",
    summary="Close the case as a duplicate of another (one Closed event, outcome 'duplicate')",
    description=(
        "Same roles and statuses as close. `original_id` must be another case you see (404 "
        "otherwise), not this one (422), and must not itself be closed as a duplicate leading "
        "back to this case (409). The original lists this case under `duplicates`."
    ),
    responses={**ERRORS, 409: {"description": "Not closable now, or the marks would cycle"}},
    openapi_extra=body_openapi(MarkDuplicateIn),
)
def mark_duplicate(
    case_id: CaseId,
    principal: PrincipalDep,
    services: ServicesDep,
    response: Response,
    version: Annotated[int | None, _gate(Command.CLOSE)],
    body: Annotated[MarkDuplicateIn, Depends(json_body(MarkDuplicateIn))],
) -> CommandOut:
    result = services.complaints.mark_duplicate(
        principal, case_id, version, original_id=body.original_id, note=body.note
    )
    return _command_out(result, response)


@router.post(
    "/{case_id}/reopen",
    response_model=CommandOut,
    operation_id="reopenComplaint",
    summary="Reopen a closed case the complainant disputes",
    responses=ERRORS,
    openapi_extra=body_openapi(ReopenIn),
)
def reopen(
    case_id: CaseId,
    principal: PrincipalDep,
    services: ServicesDep,
    response: Response,
    version: Annotated[int | None, _gate(Command.REOPEN)],
    body: Annotated[ReopenIn, Depends(json_body(ReopenIn))],
) -> CommandOut:
    result = services.complaints.reopen(principal, case_id, version, reason=body.reason)
    return _command_out(result, response)


def _reporter_out(
    snapshot: CaseSnapshot,
) -> ReporterOut | ReporterHiddenOut | ReporterErasedOut | None:
    personal = snapshot.personal
    if personal.reporter_hidden == "erased":
        return ReporterErasedOut()
    if personal.reporter_hidden == "anonymous":
        return ReporterHiddenOut()
    reporter = personal.reporter
    if reporter is None:
        return None
    return ReporterOut(
        name=reporter.name, email=reporter.email, phone=reporter.phone, address=reporter.address
    )


def _complaint_out(snapshot: CaseSnapshot, duplicates: list[UUID] | None = None) -> ComplaintOut:
    case = snapshot.case
    following = next_due(snapshot.stages)
    return ComplaintOut(
        id=case.id,
        tracking_number=display(case.tracking_number),
        version=case.version,
        status=case.status,
        waiting_for_complainant=case.waiting_for_complainant,
        kind=case.kind,
        channel=case.channel,
        category=case.category,
        subject=case.subject,
        description=snapshot.personal.description,
        reporter=_reporter_out(snapshot),
        anonymous=case.anonymous,
        confidential=case.confidential,
        needs_inspection=case.needs_inspection,
        intake_unit=case.intake_unit,
        handling_unit=case.handling_unit,
        assignee=case.assignee,
        received_at=case.received_at,
        recorded_at=case.created_on,
        updated_at=case.modified_on,
        external_ref=case.external_ref,
        policy_version=case.policy_version,
        outcome=case.outcome,
        answer=snapshot.personal.answer,
        duplicate_of=case.duplicate_of,
        duplicates=duplicates or [],
        product_registration=case.product_registration,
        closed_at=case.closed_at,
        reopened_at=case.reopened_at,
        service_levels=[
            StageOut(
                stage=s.stage,
                started_at=s.started_at,
                due_at=s.due_at,
                state=s.state,
                completed_at=s.completed_at,
                time_zone=s.zone,
            )
            for s in snapshot.stages
        ],
        next_due_at=following.due_at if following else None,
        as_of=snapshot.as_of,
    )


@router.get(
    "/{case_id}",
    response_model=ComplaintOut,
    operation_id="getComplaint",
    summary="The case now, loaded from its events, or as it stood at a version or time",
    dependencies=[caught_up("duplicates")],
    responses={
        **{k: ERRORS[k] for k in (401, 404, 422, 503)},
        504: {"description": "The duplicates read model still behind after_position"},
    },
)
def get_complaint(
    case_id: CaseId,
    principal: PrincipalDep,
    services: ServicesDep,
    response: Response,
    as_of_version: Annotated[
        int | None, Query(ge=1, description="Replay up to this version")
    ] = None,
    as_of: Annotated[
        AwareDatetime | None, Query(description="Replay up to this recorded time (with offset)")
    ] = None,
) -> ComplaintOut:
    route = "GET /v1/complaints/{id}" + ("?as_of" if as_of or as_of_version else "")
    snapshot = services.complaints.case(
        principal, case_id, as_of_version=as_of_version, as_of=as_of, route=route
    )
    response.headers["ETag"] = f'"{snapshot.case.version}"'
    rows = services.read_side.view("duplicates").duplicates_of(case_id)
    seen = [r.id for r in rows if can_see_units(principal, r.restricted, r.units)]
    return _complaint_out(snapshot, seen)


def _history_out(entry: HistoryEntry) -> HistoryEventOut:
    data = jsonable_encoder(entry.data)
    if "tracking_number" in data:
        data["tracking_number"] = display(data["tracking_number"])
    return HistoryEventOut(
        version=entry.version,
        type=entry.type,
        occurred_at=entry.occurred_at,
        actor={"sub": entry.actor.sub, "unit": entry.actor.unit},
        position=entry.position,
        data=data,
    )


@router.get(
    "/{case_id}/history",
    response_model=HistoryOut,
    operation_id="getComplaintHistory",
    summary="Every event of the case, oldest first, with who recorded it and when",
    responses={k: ERRORS[k] for k in (401, 404, 503)},
)
def history(case_id: CaseId, principal: PrincipalDep, services: ServicesDep) -> HistoryOut:
    return HistoryOut(
        events=[
            _history_out(e)
            for e in services.complaints.history(
                principal, case_id, route="GET /v1/complaints/{id}/history"
            )
        ]
    )
