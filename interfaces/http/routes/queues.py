"""Work queues of a unit, from the queue read model."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from application.access import Principal, may_read_unit, sees_restricted
from application.errors import Forbidden, NotFound
from domain.tracking_number import display
from domain.vocabulary import OPEN_STATUSES, Status
from interfaces.http.deps import PrincipalDep, ServicesDep, caught_up
from interfaces.http.problems import Problem
from projections.queues.view import QueueItem, QueueQuery, decode_cursor, encode_cursor

router = APIRouter(prefix="/v1/queues", tags=["queues"])

Unit = Annotated[str, Path(description="A unit code, e.g. BBPOM-JAKARTA", max_length=64)]
MAX_PAGE = 200


class QueueItemOut(BaseModel):
    id: UUID
    tracking_number: str
    status: str
    kind: str
    category: str
    channel: str
    subject: str
    received_at: datetime
    handling_unit: str
    intake_unit: str
    assignee: str | None
    waiting_for_complainant: bool
    next_stage: str | None
    next_due_at: datetime | None
    sla_state: str | None
    version: int


class QueueOut(BaseModel):
    unit: str
    items: list[QueueItemOut]
    next_cursor: str | None
    position: int


class QueueCountsOut(BaseModel):
    unit: str
    counts: dict[str, int]
    total_open: int
    position: int


def require_unit(services: ServicesDep, principal: Principal, unit: str) -> None:
    if unit not in services.complaints.units:
        raise NotFound(f"no unit {unit}")
    if not may_read_unit(principal, unit):
        raise Forbidden(f"you do not serve {unit}")


def _out(item: QueueItem, now: datetime) -> QueueItemOut:
    return QueueItemOut(
        id=item.id,
        tracking_number=display(item.tracking_number),
        status=item.status,
        kind=item.kind,
        category=item.category,
        channel=item.channel,
        subject=item.subject,
        received_at=item.received_at,
        handling_unit=item.handling_unit,
        intake_unit=item.intake_unit,
        assignee=item.assignee,
        waiting_for_complainant=item.waiting_for_complainant,
        next_stage=item.next_stage,
        next_due_at=item.next_due_at,
        sla_state=item.sla_state(now),
        version=item.version,
    )


@router.get(
    "/{unit}",
    response_model=QueueOut,
    operation_id="unitQueue",
    summary="A unit's cases, the one due first first",
    dependencies=[caught_up("queues")],
    responses={
        401: {"description": "No token or a bad token"},
        403: {"description": "A unit you do not serve"},
        404: {"description": "No unit"},
        504: {"description": "Read model still behind after_position"},
    },
)
def unit_queue(
    unit: Unit,
    principal: PrincipalDep,
    services: ServicesDep,
    status: Annotated[
        list[Status] | None, Query(description="Statuses to list (default: every open one)")
    ] = None,
    assignee: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> QueueOut:
    require_unit(services, principal, unit)
    after = None
    if cursor is not None:
        try:
            after = decode_cursor(cursor)
        except ValueError as error:
            raise Problem(
                422,
                "validation-error",
                "Your request is not valid",
                str(error),
                errors=[{"field": "cursor", "pointer": "#/query/cursor", "detail": str(error)}],
            ) from error
    statuses = frozenset(s.value for s in (status or OPEN_STATUSES))
    view = services.read_side.view("queues")
    position = view.position()
    items = view.page(
        QueueQuery(unit, statuses, assignee, sees_restricted(principal, unit), limit + 1, after)
    )
    now = services.clock.now()
    more = len(items) > limit
    items = items[:limit]
    return QueueOut(
        unit=unit,
        items=[_out(i, now) for i in items],
        next_cursor=encode_cursor(items[-1]) if more and items else None,
        position=position,
    )


@router.get(
    "/{unit}/counts",
    response_model=QueueCountsOut,
    operation_id="unitQueueCounts",
    summary="How many of a unit's cases are in each status",
    dependencies=[caught_up("queues")],
    responses={
        401: {"description": "No token or a bad token"},
        403: {"description": "A unit you do not serve"},
        404: {"description": "No unit"},
        504: {"description": "Read model still behind after_position"},
    },
)
def unit_queue_counts(unit: Unit, principal: PrincipalDep, services: ServicesDep) -> QueueCountsOut:
    require_unit(services, principal, unit)
    view = services.read_side.view("queues")
    position = view.position()
    counts = view.counts(unit, sees_restricted(principal, unit))
    open_values = {s.value for s in OPEN_STATUSES}
    return QueueCountsOut(
        unit=unit,
        counts=counts,
        total_open=sum(n for s, n in counts.items() if s in open_values),
        position=position,
    )


KEEP_ALIVE_SECONDS = 15.0
FEED_BUFFER = 1000


@router.get(
    "/{unit}/events",
    operation_id="unitQueueEvents",
    summary="Live feed (server-sent events) of changes to a unit's queue",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "`queue-change` events"},
        401: {"description": "No token or a bad token"},
        403: {"description": "A unit you do not serve"},
        404: {"description": "No unit"},
    },
)
async def unit_queue_events(
    unit: Unit, principal: PrincipalDep, services: ServicesDep
) -> StreamingResponse:
    require_unit(services, principal, unit)
    feed = services.queue_feed
    if feed is None:
        raise Problem(503, "feed-unavailable", "Live feed unavailable", "no queue feed runs here")
    restricted_ok = sees_restricted(principal, unit)
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[dict[str, object]] = asyncio.Queue(FEED_BUFFER)

    def deliver(message: dict[str, object]) -> None:
        if message.get("restricted") and not restricted_ok:
            return
        loop.call_soon_threadsafe(_offer, inbox, message)

    async def stream() -> AsyncIterator[str]:
        cancel = await loop.run_in_executor(None, feed.subscribe, unit, deliver)
        try:
            yield "retry: 3000\n: connected\n\n"
            while True:
                try:
                    message = await asyncio.wait_for(inbox.get(), KEEP_ALIVE_SECONDS)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                data = json.dumps(message)
                yield f"id: {message.get('position', '')}\nevent: queue-change\ndata: {data}\n\n"
        finally:
            cancel()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _offer(inbox: asyncio.Queue[dict[str, object]], message: dict[str, object]) -> None:
    """Queue a message; a client too slow to keep up loses the oldest ones, not the stream."""
    if inbox.full():
        inbox.get_nowait()
    inbox.put_nowait(message)
