"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

import logging
import math
import sqlite3
from typing import Any

import psycopg
import psycopg_pool
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from application.errors import (
    AuthenticationFailed,
    DuplicateCycle,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    PreconditionRequired,
    RequestInFlight,
    StoreUnavailable,
    TooManyAttempts,
    UnknownUnit,
    VersionConflict,
)
from domain.errors import InvalidCommand, TransitionNotAllowed

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("aduan.http")


class Problem(Exception):
    """An error to answer as problem details, raised from the HTTP layer itself."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    if request is not None:
        # A few paths answer errors in their own standard's format (Open311: an array).
        for prefix, render in getattr(request.app.state, "error_formats", {}).items():
            if request.url.path.startswith(prefix):
                return render(problem)  # type: ignore[no-any-return]
    body: dict[str, Any] = {
        "type": f"/problems/{problem.slug}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    body.update(problem.extra)
    return JSONResponse(
        body, status_code=problem.status, headers=problem.headers, media_type=PROBLEM_JSON
    )


def field_errors(error: ValidationError | RequestValidationError) -> list[dict[str, str]]:
    """Each bad field with a JSON pointer and a message, for the ``errors`` member."""
    items = []
    for e in error.errors():
        location = [str(part) for part in e["loc"] if part not in ("body",)]
        message = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
        items.append(
            {
                "field": ".".join(location) or "(body)",
                "pointer": "#/" + "/".join(location),
                "detail": message,
            }
        )
    return items


def invalid(detail: str, errors: list[dict[str, str]]) -> Problem:
    return Problem(422, "validation-error", "Your request is not valid", detail, errors=errors)


def one_field(field: str, message: str) -> Problem:
    return invalid(
        f"{field}: {message}",
        [{"field": field, "pointer": f"#/{field.replace('.', '/')}", "detail": message}],
    )


def _translate(error: Exception) -> Problem | None:
    match error:
        case Problem():
            return error
        case AuthenticationFailed():
            return Problem(
                401,
                "unauthenticated",
                "Authentication required",
                str(error),
                headers={"WWW-Authenticate": 'Bearer realm="aduan"'},
            )
        case NotFound():
            return Problem(404, "not-found", "Not found", str(error))
        case Forbidden():
            return Problem(403, "forbidden", "Not allowed", str(error))
        case PreconditionRequired():
            return Problem(428, "precondition-required", "If-Match required", str(error))
        case VersionConflict():
            return Problem(
                412,
                "stale-version",
                "The case has changed",
                str(error),
                current_version=error.actual,
            )
        case UnknownUnit():
            return one_field(error.field, str(error))
        case InvalidCommand():
            return one_field(error.field, error.message)
        case IdempotencyKeyReused():
            return Problem(
                422, "idempotency-key-reused", "Idempotency-Key already used", str(error)
            )
        case DuplicateCycle():
            return Problem(409, "duplicate-cycle", "Duplicates would form a cycle", str(error))
        case TooManyAttempts():
            seconds = max(1, math.ceil(error.retry_after))
            return Problem(
                429,
                "too-many-attempts",
                "Too many wrong PINs",
                f"too many wrong PINs for this tracking number or from you; retry in {seconds} s",
                headers={"Retry-After": str(seconds)},
            )
        case RequestInFlight():
            return Problem(409, "request-in-flight", "Request still in flight", str(error))
        case TransitionNotAllowed():
            return Problem(
                409,
                "transition-not-allowed",
                "Not allowed in the current status",
                str(error),
                current_status=error.status,
                allowed_from=list(error.allowed_from),
            )
        case StoreUnavailable():
            # The breaker is open: failed at once, without asking the database.
            return _unavailable(max(1, math.ceil(error.retry_after)))
        case (
            OperationalError()
            | InterfaceError()
            | psycopg.OperationalError()
            | psycopg_pool.PoolTimeout()
            | sqlite3.OperationalError()
        ):
            log.warning("database unavailable: %s", type(error).__name__)
            return _unavailable(2)
    return None


def _unavailable(retry_after: int) -> Problem:
    return Problem(
        503,
        "store-unavailable",
        "Service unavailable",
        "the database cannot be reached; retry shortly",
        headers={"Retry-After": str(retry_after)},
    )


def install(app: FastAPI) -> None:
    """Answer every error, the framework's own included, as problem details."""

    async def on_error(request: Request, error: Exception) -> JSONResponse:
        problem = _translate(error)
        if problem is None:
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            problem = Problem(
                500,
                "internal-error",
                "Internal error",
                "something went wrong on our side; nothing was changed by it",
            )
        return problem_response(problem, request)

    async def on_http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed"}
        detail = {
            404: f"no route {request.url.path}",
            405: f"{request.method} is not allowed on {request.url.path}",
        }
        problem = Problem(
            error.status_code,
            "http-error",
            titles.get(error.status_code, "HTTP error"),
            detail.get(error.status_code, str(error.detail)),
            headers=dict(error.headers or {}),
        )
        return problem_response(problem, request)

    async def on_validation(request: Request, error: RequestValidationError) -> JSONResponse:
        return problem_response(invalid("some fields are not valid", field_errors(error)), request)

    app.add_exception_handler(StarletteHTTPException, on_http)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, on_validation)  # type: ignore[arg-type]
    for known in KNOWN_ERRORS:
        app.add_exception_handler(known, on_error)
    app.add_exception_handler(Exception, on_error)


KNOWN_ERRORS: tuple[type[Exception], ...] = (
    Problem,
    AuthenticationFailed,
    NotFound,
    Forbidden,
    PreconditionRequired,
    VersionConflict,
    UnknownUnit,
    InvalidCommand,
    IdempotencyKeyReused,
    RequestInFlight,
    DuplicateCycle,
    TooManyAttempts,
    TransitionNotAllowed,
    StoreUnavailable,
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
    sqlite3.OperationalError,
)
