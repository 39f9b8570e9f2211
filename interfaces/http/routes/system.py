"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse

from interfaces.http.deps import ServicesDep

router = APIRouter(tags=["system"])


@router.get("/healthz", operation_id="health", summary="The process is up")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="ready",
    summary="The event store answers",
    responses={503: {"description": "Event store unavailable"}},
)
def ready(services: ServicesDep) -> dict[str, object]:
    return {"status": "ok", "position": services.complaints.recorder.max_notification_id() or 0}


@router.get(
    "/metrics",
    operation_id="metrics",
    summary="Prometheus metrics",
    include_in_schema=True,
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(services: ServicesDep) -> Response:
    return Response(services.metrics(), media_type="text/plain; version=0.0.4; charset=utf-8")
