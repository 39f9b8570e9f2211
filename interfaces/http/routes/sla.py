"""SLA alerts and the daily early-warning report, from the SLA read model at the clock's now."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from application.access import (
    ALL_UNITS,
    Principal,
    Read,
    may_read_unit,
    require_read,
    sees_restricted,
)
from application.errors import Forbidden, NotFound
from domain.calendar import end_of_day
from domain.tracking_number import display
from interfaces.http.deps import PrincipalDep, ServicesDep, caught_up
from projections.sla.alerts import alert_id
from projections.sla.view import BREACHED, DUE_SOON, SlaQuery, SlaRow

router = APIRouter(prefix="/v1/sla", tags=["sla"])

UnitQuery = Annotated[str, Query(description="A unit code, e.g. BBPOM-JAKARTA", max_length=64)]
MAX_ALERTS = 5000


class AlertState(StrEnum):
    DUE_SOON = DUE_SOON
    BREACHED = BREACHED


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


class AlertOut(BaseModel):
    id: UUID
    alert_id: UUID
    tracking_number: str
    unit: str
    stage: str
    due_at: datetime
    state: str


class AlertsOut(BaseModel):
    now: datetime
    items: list[AlertOut]
    more: bool
    position: int


class WarningItemOut(BaseModel):
    id: UUID
    tracking_number: str
    stage: str
    due_at: datetime
    state: str


class EarlyWarningOut(BaseModel):
    unit: str
    zone: str
    date: date
    as_of: datetime
    generated_at: datetime
    counts: dict[str, int]
    breached: list[WarningItemOut]
    due_soon: list[WarningItemOut]
    excluded_restricted: int
    position: int


def _known_unit(services: ServicesDep, unit: str) -> None:
    if unit not in services.complaints.units:
        raise NotFound(f"no unit {unit}")


def _alert_units(
    services: ServicesDep, principal: Principal, unit: str | None
) -> frozenset[str] | None:
    """The units whose alerts the caller asked for and may read (None: every unit)."""
    if unit is not None:
        _known_unit(services, unit)
        if not may_read_unit(principal, unit, Read.ALERTS):
            raise Forbidden(f"you do not serve {unit}")
        return frozenset({unit})
    require_read(principal, Read.ALERTS)
    return None if may_read_unit(principal, ALL_UNITS, Read.ALERTS) else principal.units


@router.get(
    "/alerts",
    response_model=AlertsOut,
    operation_id="slaAlerts",
    summary="Stages due soon or past due right now, of the units you serve",
    dependencies=[caught_up("sla")],
    responses={
        401: {"description": "No token or a bad token"},
        403: {"description": "A unit you do not serve"},
        404: {"description": "No unit"},
        504: {"description": "Read model still behind after_position"},
    },
)
def sla_alerts(
    principal: PrincipalDep,
    services: ServicesDep,
    unit: Annotated[str | None, Query(max_length=64)] = None,
    state: AlertState | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ALERTS)] = 1000,
) -> AlertsOut:
    units = _alert_units(services, principal, unit)
    view = services.read_side.view("sla")
    position = view.position()
    now = services.clock.now()
    query = SlaQuery(
        now,
        units,
        sees_restricted(principal, unit),
        state.value if state is not None else None,
        limit + 1,
    )
    rows = view.flagged(query)
    items = []
    for row in rows[:limit]:
        row_state = row.state(now)
        if row_state is None:
            continue
        items.append(
            AlertOut(
                id=row.case_id,
                alert_id=alert_id(row.case_id, row.stage, row_state, row.due_at),
                tracking_number=display(row.tracking_number),
                unit=row.unit,
                stage=row.stage,
                due_at=row.due_at,
                state=row_state,
            )
        )
    return AlertsOut(now=now, items=items, more=len(rows) > limit, position=position)


def _warning_item(row: SlaRow, state: str) -> WarningItemOut:
    return WarningItemOut(
        id=row.case_id,
        tracking_number=display(row.tracking_number),
        stage=row.stage,
        due_at=row.due_at.astimezone(ZoneInfo(row.zone)),
        state=state,
    )


def _csv(report: EarlyWarningOut) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["unit", "date", "state", "tracking_number", "case_id", "stage", "due_at"])
    for item in [*report.breached, *report.due_soon]:
        writer.writerow(
            [
                report.unit,
                report.date.isoformat(),
                item.state,
                item.tracking_number,
                str(item.id),
                item.stage,
                item.due_at.isoformat(),
            ]
        )
    return out.getvalue()


@router.get(
    "/early-warning",
    response_model=EarlyWarningOut,
    operation_id="slaEarlyWarning",
    summary="A unit's daily early-warning report: open stages breached or due soon that day",
    description=(
        "The unit's open stages (as they stand now) that are breached or due soon at the end of "
        "the given local date (default: today in the unit's time zone), grouped by state, with "
        "counts. Stages paused for the complainant's data are left out. JSON by default; CSV "
        "with `?format=csv` (wins) or `Accept: text/csv`. Callers who may not see WBS and "
        "staff-ethics cases get them left out, counted in `excluded_restricted`."
    ),
    dependencies=[caught_up("sla")],
    responses={
        200: {"content": {"text/csv": {}}},
        401: {"description": "No token or a bad token"},
        403: {"description": "A unit you do not serve"},
        404: {"description": "No unit"},
        504: {"description": "Read model still behind after_position"},
    },
)
def early_warning(
    unit: UnitQuery,
    principal: PrincipalDep,
    services: ServicesDep,
    date: Annotated[date | None, Query(description="Local date (default: today)")] = None,
    format: Annotated[ReportFormat | None, Query(description="json or csv")] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    _known_unit(services, unit)
    if not may_read_unit(principal, unit, Read.ALERTS):
        raise Forbidden(f"you do not serve {unit}")
    zone = services.complaints.units.zone_of(unit)
    now = services.clock.now()
    day = date or now.astimezone(ZoneInfo(zone)).date()
    as_of = end_of_day(day, zone)
    view = services.read_side.view("sla")
    position = view.position()
    rows = view.flagged(SlaQuery(as_of, frozenset({unit}), include_restricted=True, limit=10**6))
    shown = sees_restricted(principal, unit)
    groups: dict[str, list[WarningItemOut]] = {BREACHED: [], DUE_SOON: []}
    excluded = 0
    for row in rows:
        state = row.state(as_of)
        if state is None:
            continue
        if row.restricted and not shown:
            excluded += 1
            continue
        groups[state].append(_warning_item(row, state))
    report = EarlyWarningOut(
        unit=unit,
        zone=zone,
        date=day,
        as_of=as_of,
        generated_at=now,
        counts={
            BREACHED: len(groups[BREACHED]),
            DUE_SOON: len(groups[DUE_SOON]),
            "total": len(groups[BREACHED]) + len(groups[DUE_SOON]),
        },
        breached=groups[BREACHED],
        due_soon=groups[DUE_SOON],
        excluded_restricted=excluded,
        position=position,
    )
    wants_csv = format == ReportFormat.CSV or (
        format is None and accept is not None and "text/csv" in accept.lower()
    )
    if not wants_csv:
        return JSONResponse(report.model_dump(mode="json"), headers={"Vary": "Accept"})
    return Response(
        _csv(report),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="early-warning-{unit}-{day}.csv"',
            "Vary": "Accept",
        },
    )
