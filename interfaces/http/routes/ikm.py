"""The satisfaction index (IKM) of a period, and the flagged surveys a unit head reviews."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from application.access import ALL_UNITS, Read, may_read_unit, sees_restricted
from application.errors import Forbidden, NotFound
from application.surveys import survey_comments
from domain.tracking_number import display
from domain.vocabulary import LOWEST_SCORE, SURVEY_ELEMENTS
from interfaces.http.deps import PrincipalDep, ServicesDep, caught_up
from interfaces.http.routes.reports import ReportFormat, ScopeDep, negotiate, unit_weights
from interfaces.ikm_render import ikm_csv, ikm_filename, ikm_xlsx
from interfaces.reports_render import MEDIA_TYPES
from projections.surveys.report import ikm_report
from projections.surveys.view import SurveyQuery

router = APIRouter(prefix="/v1/reports", tags=["reports"])

YearQuery = Annotated[int, Query(ge=2000, le=2100, description="The survey year, e.g. 2026")]
QuarterQuery = Annotated[
    int | None, Query(ge=1, le=4, description="Triwulan 1-4; without it, the whole year")
]
MAX_FLAGGED = 200

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No token or a bad token"},
    403: {"description": "A unit you do not serve, or agency-wide without an agency-wide role"},
    404: {"description": "No unit"},
    422: {"description": "A value out of range"},
    504: {"description": "Read model still behind after_position"},
}


class IkmElementOut(BaseModel):
    element: str
    total: int = Field(description="The sum of the element's scores")
    nrr: float | None = Field(description="Mean score, shown rounded half up to 2 decimals")


class IkmReportOut(BaseModel):
    """The JSON form of the IKM report."""

    title: str
    year: int
    quarter: int | None
    unit: str | None
    respondents: int
    elements: list[IkmElementOut]
    ikm: float | None = Field(description="25-100, rounded once to 2 decimals, half up")
    grade: str | None = Field(description="A, B, C or D; null without respondents")
    grade_label: str | None
    weights: list[str] = Field(description='Exact, in element order: "1/9", or "0.2"')
    flagged: int
    weights_note: str
    rounding: str
    method: dict[str, str]
    excluded_restricted: int
    notes: list[str]
    generated_at: datetime
    position: int | None


@router.get(
    "/ikm",
    operation_id="ikmReport",
    summary="The satisfaction index (IKM, PermenPANRB 14/2017) of a year or quarter",
    description=(
        "Respondents, each element's mean score (NRR, shown rounded half up to 2 decimals), the "
        "index sum(weight x NRR) x 25 computed exactly (weights exactly 1/9 unless the unit "
        "configured its own) and rounded once to 2 decimals half up, and the grade read from "
        "the rounded index (A >= 88.31, B >= 76.61, C >= 65.00, else D). A survey counts in the "
        "period of its own date (in its unit's time zone), for the unit handling the case when "
        "it was answered; respondents are pooled. Surveys of whistle-blowing and staff-ethics "
        "cases are left out for callers who may not see them (`excluded_restricted`). Output by "
        "`?format=` (wins) or `Accept`: JSON, CSV or XLSX."
    ),
    dependencies=[caught_up("surveys")],
    responses={
        200: {
            "description": "The index",
            "model": IkmReportOut,
            "content": {"text/csv": {}, MEDIA_TYPES["xlsx"]: {}},
        },
        406: {"description": "Accept names no format this report comes in"},
        **_ERRORS,
    },
)
def ikm(
    scope: ScopeDep,
    year: YearQuery,
    services: ServicesDep,
    quarter: QuarterQuery = None,
    format: Annotated[
        ReportFormat | None, Query(description="json, csv or xlsx; wins over Accept")
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    fmt = negotiate(accept, format)
    view = services.read_side.view("surveys")
    position = view.position()
    last_month = 12 if quarter is None else 3 * quarter
    last_day = date(year, last_month, calendar.monthrange(year, last_month)[1])
    weights, version = unit_weights(services, scope.unit, last_day)
    report = ikm_report(
        view.surveys(SurveyQuery(year=year, quarter=quarter, unit=scope.unit)),
        year=year,
        quarter=quarter,
        unit=scope.unit,
        include_restricted=scope.include_restricted,
        generated_at=services.clock.now(),
        weights=weights,
        weights_version=version,
        position=position,
    )
    if fmt == "json":
        return JSONResponse(report, headers={"Vary": "Accept"})
    body = ikm_csv(report) if fmt == "csv" else ikm_xlsx(report)
    return Response(
        body,
        media_type=MEDIA_TYPES[fmt] + ("; charset=utf-8" if fmt == "csv" else ""),
        headers={
            "Content-Disposition": f'attachment; filename="{ikm_filename(report, fmt)}"',
            "Vary": "Accept",
        },
    )


class FlaggedSurveyOut(BaseModel):
    id: UUID
    tracking_number: str
    unit: str
    answered_at: datetime
    scores: list[int]
    low_elements: list[str]
    comment: str | None
    comment_hidden: bool


class FlaggedSurveysOut(BaseModel):
    unit: str | None
    items: list[FlaggedSurveyOut]
    more: bool
    excluded_restricted: int
    position: int


@router.get(
    "/ikm/flagged",
    response_model=FlaggedSurveysOut,
    operation_id="ikmFlaggedSurveys",
    summary="Surveys with a score of 1 on any element, newest first, for the unit head's review",
    description=(
        "For unit heads of the unit and auditors (agency-wide without `unit`). Each item names "
        "the elements scored 1 (`low_elements`). The complainant's comment is shown to callers "
        "who may read the case (its reads of confidential and WBS cases are logged); otherwise "
        "`comment` is null and `comment_hidden` true. Surveys of whistle-blowing and "
        "staff-ethics cases are left out for callers who may not see them."
    ),
    dependencies=[caught_up("surveys")],
    responses=_ERRORS,
)
def flagged_surveys(
    principal: PrincipalDep,
    services: ServicesDep,
    unit: Annotated[
        str | None,
        Query(max_length=64, description="A unit code; without it, every unit (agency-wide)"),
    ] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    quarter: QuarterQuery = None,
    limit: Annotated[int, Query(ge=1, le=MAX_FLAGGED)] = 50,
) -> FlaggedSurveysOut:
    if unit is not None and unit not in services.complaints.units:
        raise NotFound(f"no unit {unit}")
    if not may_read_unit(principal, unit or ALL_UNITS, Read.FLAGGED_SURVEYS):
        raise Forbidden(
            "flagged surveys are for the unit's heads and auditors"
            + ("" if unit is not None else "; agency-wide needs an agency-wide role: pass unit=")
        )
    view = services.read_side.view("surveys")
    position = view.position()
    shown = sees_restricted(principal, unit)
    query = SurveyQuery(
        year=year,
        quarter=quarter,
        unit=unit,
        flagged_only=True,
        include_restricted=shown,
        limit=limit + 1,
    )
    rows = view.surveys(query)
    page = rows[:limit]
    comments = survey_comments(services.complaints, principal, [r.id for r in page])
    items = [
        FlaggedSurveyOut(
            id=row.id,
            tracking_number=display(row.tracking_number),
            unit=row.unit,
            answered_at=row.answered_at,
            scores=list(row.scores),
            low_elements=[
                e.value
                for e, score in zip(SURVEY_ELEMENTS, row.scores, strict=True)
                if score == LOWEST_SCORE
            ],
            comment=comments.get(row.id),
            comment_hidden=row.id not in comments,
        )
        for row in page
    ]
    return FlaggedSurveysOut(
        unit=unit,
        items=items,
        more=len(rows) > limit,
        excluded_restricted=0 if shown else view.count_restricted(query),
        position=position,
    )
