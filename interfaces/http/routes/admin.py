"""Agency configuration for admins: closures, SLA policies, answer templates, auditors' grants."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field, StrictInt

from application.access import Configure, Principal, Read, require_configure, require_read
from application.admin import Administration, NewPolicy
from domain.configuration import (
    MAX_CLOSURE_DAYS,
    MAX_PERIOD,
    AnswerTemplate,
    Closure,
    Grant,
    IkmWeights,
    PolicyRecord,
    TemplateVersionConflict,
)
from domain.errors import InvalidCommand
from domain.ikm import weight_text
from domain.vocabulary import SURVEY_ELEMENTS, Category, SurveyElement
from interfaces.http.deps import (
    IfMatchDep,
    PrincipalDep,
    ServicesDep,
    body_openapi,
    json_body,
    parse_if_match,
)
from interfaces.http.problems import Problem
from interfaces.http.schemas import RequestBody

router = APIRouter(prefix="/v1/admin", tags=["admin"])

Period = Annotated[StrictInt, Field(ge=1, le=MAX_PERIOD)]
ERRORS = {
    401: {"description": "No token or a bad token"},
    403: {"description": "Not an admin"},
    422: {"description": "Invalid input, unknown fields included"},
}


# --- bodies --------------------------------------------------------------------------------


class ClosureIn(RequestBody):
    """Whole local days an office is closed: for a time zone, or for one unit."""

    days: list[date] = Field(min_length=1, max_length=MAX_CLOSURE_DAYS)
    zone: str | None = Field(None, description="Asia/Jakarta, Asia/Makassar or Asia/Jayapura")
    unit: str | None = Field(None, max_length=64, description="A unit code (instead of zone)")
    reason: str = Field(min_length=1, max_length=500)


class ClosePeriodsIn(RequestBody):
    information_request: Period
    complaint: Period
    complaint_inspection: Period
    suggestion: Period


class SlaPolicyIn(RequestBody):
    """A new policy version: working days per stage; every close period is required."""

    acknowledge: Period
    route: Period
    first_follow_up: Period
    close: ClosePeriodsIn
    archive_after_silence: Period
    description: str = Field("", max_length=500)


class AnswerTemplateIn(RequestBody):
    category: Category
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=10_000)


WeightValue = Annotated[Decimal, Field(gt=0, le=1, max_digits=12, decimal_places=10)]


class IkmWeightsIn(RequestBody):
    """A unit's IKM weights: one per element, summing to exactly 1; null: equal weights again."""

    unit: str = Field(min_length=1, max_length=64, description="A unit code")
    weights: dict[SurveyElement, WeightValue] | None = Field(
        description='Each of the nine elements with its weight, e.g. "persyaratan": 0.2'
    )
    description: str = Field("", max_length=500)


class GrantIn(RequestBody):
    sub: str = Field(min_length=1, max_length=200, description="The auditor's token subject")
    unit: str = Field(min_length=1, max_length=64, description="A unit code, or * for all")
    note: str = Field("", max_length=500)


REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    ClosureIn,
    ClosePeriodsIn,
    SlaPolicyIn,
    AnswerTemplateIn,
    GrantIn,
    IkmWeightsIn,
)


# --- answers -------------------------------------------------------------------------------


class ClosureOut(BaseModel):
    id: UUID
    days: list[date]
    zone: str | None
    unit: str | None
    reason: str
    added_at: datetime
    added_by: str


class ClosuresOut(BaseModel):
    items: list[ClosureOut]


class SlaPolicyOut(BaseModel):
    version: int
    acknowledge: int
    route: int
    first_follow_up: int
    close: dict[str, int]
    archive_after_silence: int
    description: str
    added_at: datetime | None
    added_by: str | None
    current: bool


class SlaPoliciesOut(BaseModel):
    items: list[SlaPolicyOut]


class AnswerTemplateOut(BaseModel):
    id: UUID
    version: int
    category: str
    title: str
    body: str
    saved_at: datetime
    saved_by: str


class AnswerTemplatesOut(BaseModel):
    items: list[AnswerTemplateOut]


class GrantOut(BaseModel):
    id: UUID
    sub: str
    unit: str
    note: str
    granted_at: datetime
    granted_by: str


class GrantsOut(BaseModel):
    items: list[GrantOut]


class IkmWeightsOut(BaseModel):
    unit: str
    version: int
    weights: dict[str, str] | None  # exact: "0.2", or "1/3"; null: equal weights (1/9)
    description: str
    set_at: datetime
    set_by: str


class IkmWeightsListOut(BaseModel):
    items: list[IkmWeightsOut]


def _ikm_weights(w: IkmWeights) -> IkmWeightsOut:
    return IkmWeightsOut(
        unit=w.unit,
        version=w.version,
        weights=None
        if w.weights is None
        else {e.value: weight_text(x) for e, x in zip(SURVEY_ELEMENTS, w.weights, strict=True)},
        description=w.description,
        set_at=w.set_at,
        set_by=w.set_by,
    )


def _closure(c: Closure) -> ClosureOut:
    return ClosureOut(
        id=c.id,
        days=list(c.days),
        zone=c.zone,
        unit=c.unit,
        reason=c.reason,
        added_at=c.added_at,
        added_by=c.added_by,
    )


def _policy(r: PolicyRecord, current: int) -> SlaPolicyOut:
    p = r.policy
    return SlaPolicyOut(
        version=p.version,
        acknowledge=p.acknowledge,
        route=p.route,
        first_follow_up=p.first_follow_up,
        close=dict(p.close),
        archive_after_silence=p.archive_after_silence,
        description=r.description,
        added_at=r.added_at,
        added_by=r.added_by,
        current=p.version == current,
    )


def _template(t: AnswerTemplate) -> AnswerTemplateOut:
    return AnswerTemplateOut(
        id=t.id,
        version=t.version,
        category=t.category,
        title=t.title,
        body=t.body,
        saved_at=t.saved_at,
        saved_by=t.saved_by,
    )


def _grant(g: Grant) -> GrantOut:
    return GrantOut(
        id=g.id,
        sub=g.sub,
        unit=g.unit,
        note=g.note,
        granted_at=g.granted_at,
        granted_by=g.granted_by,
    )


# --- dependencies: 401, then 403, before any body is read ----------------------------------


def _administration(services: ServicesDep) -> Administration:
    if services.admin is None:
        raise Problem(503, "admin-unavailable", "Configuration unavailable", "not wired here")
    return services.admin


AdminDep = Annotated[Administration, Depends(_administration)]


def _reader(principal: PrincipalDep) -> Principal:
    require_read(principal, Read.CONFIGURATION)
    return principal


def _configurer(what: Configure):  # type: ignore[no-untyped-def]
    def check(principal: PrincipalDep) -> Principal:
        require_configure(principal, what)
        return principal

    return Depends(check)


ReaderDep = Annotated[Principal, Depends(_reader)]
TemplateId = Annotated[UUID, Path(description="The answer template's id")]
GrantId = Annotated[UUID, Path(description="The grant's id")]


# --- closures ------------------------------------------------------------------------------


@router.get(
    "/closures",
    response_model=ClosuresOut,
    operation_id="listClosures",
    summary="One-off office closures (per time zone or unit)",
    responses=ERRORS,
)
def list_closures(principal: ReaderDep, admin: AdminDep) -> ClosuresOut:
    return ClosuresOut(items=[_closure(c) for c in admin.closures(principal)])


@router.post(
    "/closures",
    status_code=201,
    response_model=ClosureOut,
    operation_id="addClosure",
    summary="Close offices on whole days; deadlines computed from now on skip them",
    responses=ERRORS,
    openapi_extra=body_openapi(ClosureIn),
)
def add_closure(
    principal: Annotated[Principal, _configurer(Configure.CLOSURES)],
    admin: AdminDep,
    body: Annotated[ClosureIn, Depends(json_body(ClosureIn))],
) -> ClosureOut:
    closure = admin.add_closure(
        principal, days=body.days, zone=body.zone, unit=body.unit, reason=body.reason
    )
    return _closure(closure)


# --- SLA policies --------------------------------------------------------------------------


@router.get(
    "/sla-policies",
    response_model=SlaPoliciesOut,
    operation_id="listSlaPolicies",
    summary="Every SLA policy version, oldest first; new cases start under the newest",
    responses=ERRORS,
)
def list_sla_policies(principal: ReaderDep, admin: AdminDep) -> SlaPoliciesOut:
    records = admin.sla_policies(principal)
    current = max(r.policy.version for r in records)
    return SlaPoliciesOut(items=[_policy(r, current) for r in records])


@router.post(
    "/sla-policies",
    status_code=201,
    response_model=SlaPolicyOut,
    operation_id="addSlaPolicy",
    summary="Add a policy version; new cases start under it, existing cases keep theirs",
    responses=ERRORS,
    openapi_extra=body_openapi(SlaPolicyIn),
)
def add_sla_policy(
    principal: Annotated[Principal, _configurer(Configure.SLA_POLICIES)],
    admin: AdminDep,
    response: Response,
    body: Annotated[SlaPolicyIn, Depends(json_body(SlaPolicyIn))],
) -> SlaPolicyOut:
    record = admin.add_sla_policy(
        principal,
        NewPolicy(
            acknowledge=body.acknowledge,
            route=body.route,
            first_follow_up=body.first_follow_up,
            close=body.close.model_dump(),
            archive_after_silence=body.archive_after_silence,
            description=body.description,
        ),
    )
    response.headers["Location"] = f"/v1/admin/sla-policies#{record.policy.version}"
    return _policy(record, record.policy.version)


# --- answer templates ----------------------------------------------------------------------


@router.get(
    "/answer-templates",
    response_model=AnswerTemplatesOut,
    operation_id="listAnswerTemplates",
    summary="Standard answers (referensi standar jawaban): the latest version of each",
    responses=ERRORS,
)
def list_answer_templates(
    principal: ReaderDep,
    admin: AdminDep,
    category: Annotated[Category | None, Query(description="Only this category's")] = None,
) -> AnswerTemplatesOut:
    found = admin.answer_templates(principal, category)
    return AnswerTemplatesOut(items=[_template(t) for t in found])


@router.get(
    "/answer-templates/{template_id}",
    response_model=AnswerTemplatesOut,
    operation_id="answerTemplateVersions",
    summary="Every version of one answer template, oldest first (ETag: the latest version)",
    responses={**ERRORS, 404: {"description": "No such template"}},
)
def answer_template_versions(
    template_id: TemplateId, principal: ReaderDep, admin: AdminDep, response: Response
) -> AnswerTemplatesOut:
    versions = admin.answer_template(principal, template_id)
    response.headers["ETag"] = f'"{versions[-1].version}"'
    return AnswerTemplatesOut(items=[_template(t) for t in versions])


@router.post(
    "/answer-templates",
    status_code=201,
    response_model=AnswerTemplateOut,
    operation_id="createAnswerTemplate",
    summary="A new answer template (version 1)",
    responses=ERRORS,
    openapi_extra=body_openapi(AnswerTemplateIn),
)
def create_answer_template(
    principal: Annotated[Principal, _configurer(Configure.ANSWER_TEMPLATES)],
    admin: AdminDep,
    response: Response,
    body: Annotated[AnswerTemplateIn, Depends(json_body(AnswerTemplateIn))],
) -> AnswerTemplateOut:
    template = admin.create_answer_template(
        principal, category=body.category, title=body.title, body=body.body
    )
    response.headers["ETag"] = f'"{template.version}"'
    response.headers["Location"] = f"/v1/admin/answer-templates/{template.id}"
    return _template(template)


def _template_gate(
    template_id: TemplateId,
    principal: Annotated[Principal, _configurer(Configure.ANSWER_TEMPLATES)],
    admin: AdminDep,
    if_match: IfMatchDep = None,
) -> int:
    """403, 404, 428, 412 in that order, before the body is read."""
    latest = admin.answer_template(principal, template_id)[-1].version
    if if_match is None:
        raise Problem(428, "precondition-required", "If-Match required", "send the template's ETag")
    expected = parse_if_match(if_match)
    if expected != latest:
        raise _stale(TemplateVersionConflict(expected or 0, latest))
    return latest


def _stale(error: TemplateVersionConflict) -> Problem:
    return Problem(
        412,
        "stale-version",
        "The template has changed",
        str(error),
        current_version=error.actual,
    )


@router.put(
    "/answer-templates/{template_id}",
    response_model=AnswerTemplateOut,
    operation_id="updateAnswerTemplate",
    summary="Save a new version of an answer template (If-Match: its current version)",
    responses={
        **ERRORS,
        404: {"description": "No such template"},
        412: {"description": "Stale If-Match"},
        428: {"description": "If-Match missing"},
    },
    openapi_extra=body_openapi(AnswerTemplateIn),
)
def update_answer_template(
    template_id: TemplateId,
    principal: PrincipalDep,
    admin: AdminDep,
    response: Response,
    expected: Annotated[int, Depends(_template_gate)],
    body: Annotated[AnswerTemplateIn, Depends(json_body(AnswerTemplateIn))],
) -> AnswerTemplateOut:
    try:
        template = admin.update_answer_template(
            principal,
            template_id,
            expected,
            category=body.category,
            title=body.title,
            body=body.body,
        )
    except TemplateVersionConflict as error:
        raise _stale(error) from error
    response.headers["ETag"] = f'"{template.version}"'
    return _template(template)


# --- auditors' grants ----------------------------------------------------------------------


@router.get(
    "/grants",
    response_model=GrantsOut,
    operation_id="listGrants",
    summary="Auditors granted read access to WBS and staff-ethics cases",
    responses=ERRORS,
)
def list_grants(principal: ReaderDep, admin: AdminDep) -> GrantsOut:
    return GrantsOut(items=[_grant(g) for g in admin.grants(principal)])


@router.post(
    "/grants",
    status_code=201,
    response_model=GrantOut,
    operation_id="giveGrant",
    summary="Let an auditor read WBS and staff-ethics cases of a unit (* for every unit)",
    responses=ERRORS,
    openapi_extra=body_openapi(GrantIn),
)
def give_grant(
    principal: Annotated[Principal, _configurer(Configure.GRANTS)],
    admin: AdminDep,
    response: Response,
    body: Annotated[GrantIn, Depends(json_body(GrantIn))],
) -> GrantOut:
    grant = admin.give_grant(principal, sub=body.sub, unit=body.unit, note=body.note)
    response.headers["Location"] = f"/v1/admin/grants/{grant.id}"
    return _grant(grant)


@router.delete(
    "/grants/{grant_id}",
    status_code=204,
    operation_id="revokeGrant",
    summary="Withdraw a grant; the auditor no longer sees those cases",
    responses={**ERRORS, 404: {"description": "No such grant"}},
)
def revoke_grant(
    grant_id: GrantId,
    principal: Annotated[Principal, _configurer(Configure.GRANTS)],
    admin: AdminDep,
) -> Response:
    admin.revoke_grant(principal, grant_id)
    return Response(status_code=204)


# --- IKM weights ---------------------------------------------------------------------------


@router.get(
    "/ikm-weights",
    response_model=IkmWeightsListOut,
    operation_id="listIkmWeights",
    summary="Every unit's IKM weights versions (units without any use equal weights, 1/9)",
    responses=ERRORS,
)
def list_ikm_weights(principal: ReaderDep, admin: AdminDep) -> IkmWeightsListOut:
    return IkmWeightsListOut(items=[_ikm_weights(w) for w in admin.ikm_weight_versions(principal)])


@router.post(
    "/ikm-weights",
    status_code=201,
    response_model=IkmWeightsOut,
    operation_id="setIkmWeights",
    summary="Set a unit's IKM weights (a new version); a period's IKM uses the version in force "
    "at its end",
    responses=ERRORS,
    openapi_extra=body_openapi(IkmWeightsIn),
)
def set_ikm_weights(
    principal: Annotated[Principal, _configurer(Configure.IKM_WEIGHTS)],
    admin: AdminDep,
    response: Response,
    body: Annotated[IkmWeightsIn, Depends(json_body(IkmWeightsIn))],
) -> IkmWeightsOut:
    weights = None
    if body.weights is not None:
        missing = [e.value for e in SURVEY_ELEMENTS if e not in body.weights]
        if missing:
            raise InvalidCommand("weights", f"give a weight for every element; missing {missing}")
        weights = [body.weights[e] for e in SURVEY_ELEMENTS]
    found = admin.set_ikm_weights(
        principal, unit=body.unit, weights=weights, description=body.description
    )
    response.headers["Location"] = f"/v1/admin/ikm-weights#{found.unit}-{found.version}"
    return _ikm_weights(found)
