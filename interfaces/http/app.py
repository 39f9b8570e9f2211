"""The FastAPI application: routers, problem details, and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from interfaces.http import problems, security
from interfaces.http.deps import Services
from interfaces.http.routes import (
    admin,
    audit,
    complaints,
    duplicates,
    ikm,
    inbound,
    open311,
    privacy,
    public,
    queues,
    reports,
    sla,
    system,
    templates,
)
from interfaces.http.schemas import (
    AcknowledgeIn,
    CloseIn,
    ComplainantReplyIn,
    EraseReporterIn,
    FollowUpIn,
    MarkDuplicateIn,
    NewComplaintIn,
    ReopenIn,
    RouteIn,
)

REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    NewComplaintIn,
    AcknowledgeIn,
    RouteIn,
    FollowUpIn,
    ComplainantReplyIn,
    CloseIn,
    MarkDuplicateIn,
    ReopenIn,
    EraseReporterIn,
)

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "pointer": {"type": "string"},
                    "detail": {"type": "string"},
                },
            },
        },
    },
    "required": ["type", "title", "status", "detail"],
}
OPEN311_ERRORS_SCHEMA = {
    "type": "array",
    "description": "Open311 GeoReport v2 errors (the /open311/ routes only)",
    "items": {
        "type": "object",
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
        "required": ["code", "description"],
    },
}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated document, plus the request bodies the routes read themselves."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (
        *REQUEST_MODELS,
        *admin.REQUEST_MODELS,
        *public.REQUEST_MODELS,
        *inbound.REQUEST_MODELS,
    ):
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(model_schema.pop("$defs", {}))
        components[model.__name__] = model_schema
    components["Problem"] = PROBLEM_SCHEMA
    components["Open311Errors"] = OPEN311_ERRORS_SCHEMA
    for name, path in schema.get("paths", {}).items():
        errors = (
            {"application/json": {"schema": {"$ref": "#/components/schemas/Open311Errors"}}}
            if name.startswith(open311.PREFIX + "/")
            else {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        )
        for operation in path.values():
            for code, answer in operation.get("responses", {}).items():
                if code.startswith(("4", "5")):
                    answer["content"] = errors
    app.openapi_schema = schema
    return schema


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="aduan",
        version="0.1.0",
        description=(
            "Event-sourced public-service complaint handling (pengaduan masyarakat). "
            "Errors are RFC 9457 problem details; commands on a case need `If-Match`."
        ),
    )
    app.state.services = services
    app.state.error_formats = {open311.PREFIX + "/": open311.error_response}
    problems.install(app)
    security.install(app, cors_origins=services.cors_origins, hsts=services.hsts)
    app.include_router(complaints.router)
    app.include_router(duplicates.router)
    app.include_router(templates.router)
    app.include_router(queues.router)
    app.include_router(sla.router)
    app.include_router(reports.router)
    app.include_router(ikm.router)
    app.include_router(system.router)
    app.include_router(audit.router)
    app.include_router(privacy.router)
    app.include_router(admin.router)
    app.include_router(public.router)
    app.include_router(open311.router)
    app.include_router(inbound.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
