"""Monitoring and evaluation (monev) recaps: JSON, CSV, XLSX, and a PNG chart of the period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from fractions import Fraction
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse, Response

from application.access import ALL_UNITS, Read, may_read_unit, sees_restricted
from application.errors import Forbidden, NotFound
from domain.calendar import end_of_day
from interfaces.http.deps import PrincipalDep, ServicesDep, caught_up
from interfaces.http.problems import Problem, invalid
from interfaces.reports_render import MEDIA_TYPES, filename, render
from projections.monev.report import monev_report
from projections.monev.view import Period
from projections.surveys.report import ikm_summary
from projections.surveys.view import SurveyQuery

router = APIRouter(prefix="/v1/reports", tags=["reports"])


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


@dataclass(frozen=True)
class Scope:
    """Whose cases a recap covers, and whether restricted cases may show in it."""

    unit: str | None
    include_restricted: bool
    include_restricted_agency: bool = False  # in agency-wide figures of a unit's recap (IKM)


def report_scope(
    principal: PrincipalDep,
    services: ServicesDep,
    unit: Annotated[
        str | None,
        Query(
            max_length=64,
            description="A unit code: cases it received or handles. Without it, agency-wide "
            "(for agency-wide readers only).",
        ),
    ] = None,
) -> Scope:
    """404 for an unknown unit, 403 for one the caller does not serve (before any 422)."""
    if unit is None:
        if not may_read_unit(principal, ALL_UNITS, Read.REPORTS):
            raise Forbidden("an agency-wide recap is for agency-wide readers; pass unit=")
    else:
        if unit not in services.complaints.units:
            raise NotFound(f"no unit {unit}")
        if not may_read_unit(principal, unit, Read.REPORTS):
            raise Forbidden(f"you do not serve {unit}")
    return Scope(unit, sees_restricted(principal, unit), sees_restricted(principal, None))


def report_period(
    year: Annotated[int, Query(ge=2000, le=2100, description="e.g. 2026")],
    quarter: Annotated[
        int | None, Query(ge=1, le=4, description="Triwulan 1-4 (or give month)")
    ] = None,
    month: Annotated[int | None, Query(ge=1, le=12, description="1-12 (or give quarter)")] = None,
) -> Period:
    if (quarter is None) == (month is None):
        detail = "give exactly one of quarter and month"
        raise invalid(
            detail,
            [
                {"field": name, "pointer": f"#/query/{name}", "detail": detail}
                for name in ("quarter", "month")
            ],
        )
    return Period(year, quarter, month)


ScopeDep = Annotated[Scope, Depends(report_scope)]
PeriodDep = Annotated[Period, Depends(report_period)]

_BY_MEDIA_TYPE = {MEDIA_TYPES[f.value]: f.value for f in ReportFormat}
_WILDCARDS = {"*/*": "json", "application/*": "json", "text/*": "csv"}


def negotiate(accept: str | None, chosen: ReportFormat | None) -> str:
    """``?format=`` wins; else the most preferred type of ``Accept`` we can give; else JSON."""
    if chosen is not None:
        return chosen.value
    if not accept or not accept.strip():
        return "json"
    offers = []
    for order, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if weight > 0:
            offers.append((-weight, order, media.lower()))
    for _, _, media in sorted(offers):
        found = _BY_MEDIA_TYPE.get(media) or _WILDCARDS.get(media)
        if found is not None:
            return found
    raise Problem(
        406,
        "not-acceptable",
        "Not acceptable",
        f"this report comes as {', '.join(sorted(_BY_MEDIA_TYPE))}; "
        "send one of them in Accept, or ?format=json|csv|xlsx",
    )


def build_report(services: ServicesDep, scope: Scope, period: Period) -> dict[str, Any]:
    view = services.read_side.view("monev")
    position = view.position()
    report = monev_report(
        view.facts(period, scope.unit),
        period,
        unit=scope.unit,
        include_restricted=scope.include_restricted,
        generated_at=services.clock.now(),
        position=position,
    )
    titles = services.admin.template_titles() if services.admin is not None else {}
    for row in report["by_template"]:
        row["title"] = titles.get(row["template_id"])
    return report | {"ikm": ikm_of_period(services, scope, period)}


def unit_weights(
    services: ServicesDep, unit: str | None, last_day: date
) -> tuple[tuple[Fraction, ...] | None, int | None]:
    """The unit's IKM weights in force at the end of ``last_day`` (the period's), with their
    version; (None, None): equal weights, as always agency-wide."""
    if unit is None or services.admin is None:
        return None, None
    end = end_of_day(last_day, services.complaints.units.zone_of(unit))
    found = services.admin.ikm_weights(unit, end)
    return (None, None) if found is None else (found.weights, found.version)


def ikm_of_period(services: ServicesDep, scope: Scope, period: Period) -> dict[str, Any]:
    """The satisfaction index of the recap's period: the unit's (with a unit) and the agency's."""
    rows = services.read_side.view("surveys").surveys(
        SurveyQuery(year=period.year, quarter=(period.months[0] + 2) // 3)
    )
    agency = ikm_summary(
        rows,
        months=period.months,
        unit=None,
        include_restricted=scope.include_restricted_agency,
    )
    if scope.unit is None:
        return {"unit": None, "agency": agency}
    weights, _ = unit_weights(services, scope.unit, period.last_day)
    unit = ikm_summary(
        rows,
        months=period.months,
        unit=scope.unit,
        include_restricted=scope.include_restricted,
        weights=weights,
    )
    return {"unit": unit, "agency": agency}


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No token or a bad token"},
    403: {"description": "A unit you do not serve, or agency-wide without an agency-wide role"},
    404: {"description": "No unit"},
    422: {"description": "Not exactly one of quarter and month, or a value out of range"},
    504: {"description": "Read model still behind after_position"},
}


@router.get(
    "/monev",
    operation_id="monevReport",
    summary="Quarterly or monthly recap (rekapitulasi), overall or for a unit",
    description=(
        "Counts by channel, kind and category; information requests vs complaints; follow-up; "
        "the share of each SLA stage done in time; median and 90th-percentile (nearest-rank) "
        "working days to acknowledge, route and close; the top five categories. Whistle-blowing "
        "and staff-ethics cases are left out for callers who may not see them, and "
        "`excluded_restricted` says how many. Output by `?format=` (wins) or `Accept`."
    ),
    dependencies=[caught_up("monev", "surveys")],
    responses={
        200: {
            "description": "The recap",
            "content": {
                "application/json": {},
                "text/csv": {},
                MEDIA_TYPES["xlsx"]: {},
            },
        },
        406: {"description": "Accept names no format this report comes in"},
        **_ERRORS,
    },
)
def monev(
    scope: ScopeDep,
    period: PeriodDep,
    services: ServicesDep,
    format: Annotated[
        ReportFormat | None, Query(description="json, csv or xlsx; wins over Accept")
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    fmt = negotiate(accept, format)
    report = build_report(services, scope, period)
    if fmt == "json":
        return JSONResponse(report, headers={"Vary": "Accept"})
    return Response(
        render(report, fmt),
        media_type=MEDIA_TYPES[fmt] + ("; charset=utf-8" if fmt == "csv" else ""),
        headers={
            "Content-Disposition": f'attachment; filename="{filename(report, fmt)}"',
            "Vary": "Accept",
        },
    )


@router.get(
    "/monev/chart.png",
    operation_id="monevChart",
    summary="Chart of the period: cases per month by kind, and the share within SLA per stage",
    dependencies=[caught_up("monev", "surveys")],
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "A PNG image"}, **_ERRORS},
)
def monev_chart(scope: ScopeDep, period: PeriodDep, services: ServicesDep) -> Response:
    report = build_report(services, scope, period)
    return Response(
        render(report, "png"),
        media_type="image/png",
        headers={"Content-Disposition": f'inline; filename="{filename(report, "png")}"'},
    )
