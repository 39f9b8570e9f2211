"""Dependencies of the routes, in the order API.md checks things: 401, 404/403/428/412, 413/422."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ValidationError

from application.access import Principal, Role
from application.admin import Administration
from application.committer import Committer
from application.complaints import Complaints
from application.errors import AuthenticationFailed
from application.inbound import InboundMessages
from application.open311 import Open311
from application.ports import Authenticator, Clock
from application.public import RESERVED_SUBJECTS, PublicDesk
from interfaces.http.problems import Problem, field_errors, invalid
from projections.queues.feed import QueueFeed
from projections.read_side import ReadSide, wait_for
from projections.runner import EventLog

M = TypeVar("M", bound=BaseModel)
_ETAG = re.compile(r'^"(\d{1,18})"$|^(\d{1,18})$')


class RateLimiter(Protocol):
    def allow(self, key: str) -> tuple[bool, float]:
        """Whether one more request under ``key`` may pass, and else the seconds to wait."""
        ...


@dataclass
class Services:
    """What the HTTP layer is handed by the composition root."""

    complaints: Complaints
    authenticator: Authenticator
    max_body_bytes: int
    fingerprint_key: bytes
    read_side: ReadSide
    clock: Clock
    metrics: Callable[[], bytes]
    wait_seconds: float = 5.0
    queue_feed: QueueFeed | None = None
    event_log: EventLog | None = None  # the audit verifier reads the whole log
    rate_limiter: RateLimiter | None = None  # None: no rate limits
    cors_origins: tuple[str, ...] = ()  # empty: CORS off
    hsts: bool = False  # behind HTTPS: send Strict-Transport-Security
    admin: Administration | None = None  # agency configuration; auditors' WBS grants
    committer: Committer | None = None  # group commit of creates (PostgreSQL); None: one save each
    public: PublicDesk | None = None  # the complainant's side (/v1/public/...); None: off
    open311: Open311 | None = None  # the Open311 GeoReport v2 facade (/open311/v2/...); None: off
    inbound: InboundMessages | None = None  # messaging gateways (/v1/inbound/...); None: off


# The dependencies every route shares are ``async``: a plain ``def`` one costs a trip through the
# thread pool per request. What may block (a JWKS fetch, Redis, the stored configuration) still
# goes to the thread pool; what says ``blocking = False`` (HS256 tokens, in-process buckets) runs
# here, on the event loop, as the CPU-only work it is.


def _blocks(part: object) -> bool:
    return bool(getattr(part, "blocking", True))


async def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(services)]


async def principal(request: Request) -> Principal:
    # The services and the header straight from the request, not as a dependency and a header
    # parameter: every route resolves this one (some twice), and each of those is one more step
    # of FastAPI's resolution per request. (The header is not in the OpenAPI document anyway.)
    services: Services = request.app.state.services
    authorization = request.headers.get("authorization")
    if not authorization:
        raise AuthenticationFailed("send a bearer token in the Authorization header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("the Authorization header must be 'Bearer <token>'")
    authenticator = services.authenticator
    if _blocks(authenticator):
        found = await run_in_threadpool(authenticator.authenticate, token.strip())
    else:
        found = authenticator.authenticate(token.strip())
    if found.sub in RESERVED_SUBJECTS:
        raise AuthenticationFailed(f"the subject '{found.sub}' is reserved for the service")
    if services.admin is not None and Role.AUDITOR in found.roles:
        # Grants live in the agency's configuration, not in the token: add them here, once.
        found = found.with_grants(await run_in_threadpool(services.admin.grants_for, found.sub))
    return found


PrincipalDep = Annotated[Principal, Depends(principal)]


def enforce_rate_limit(services: Services, key: str) -> None:
    """429 with Retry-After when ``key`` has used up its requests (no-op without a limiter)."""
    if services.rate_limiter is None:
        return
    allowed, wait = services.rate_limiter.allow(key)
    if not allowed:
        seconds = max(1, math.ceil(wait))
        raise Problem(
            429,
            "rate-limited",
            "Too many requests",
            f"too many requests from you; retry in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )


async def _enforce(services: Services, key: str) -> None:
    if services.rate_limiter is None:
        return
    if _blocks(services.rate_limiter):
        await run_in_threadpool(enforce_rate_limit, services, key)
    else:
        enforce_rate_limit(services, key)


def limit_per_caller(scope: str):  # type: ignore[no-untyped-def]
    """Dependency: a rate limit per token subject (after 401, before the body is read)."""

    async def check(request: Request, principal: PrincipalDep) -> None:
        await _enforce(request.app.state.services, f"{scope}:sub:{principal.sub}")

    return Depends(check)


def limit_per_client(scope: str):  # type: ignore[no-untyped-def]
    """Dependency: a rate limit per client address, for routes without a token (public intake).

    The address is the connection's peer: behind a proxy, run uvicorn with ``--proxy-headers
    --forwarded-allow-ips=<proxy>`` so it is the client's, not the proxy's. A route that knows a
    better key (a public client id) calls ``enforce_rate_limit`` itself.
    """

    async def check(request: Request, services: ServicesDep) -> None:
        client = request.client.host if request.client is not None else "unknown"
        await _enforce(services, f"{scope}:ip:{client}")

    return Depends(check)


def parse_if_match(value: str | None) -> int | None:
    """The version a client expects, from ``If-Match: "7"``; None when absent."""
    if value is None:
        return None
    match = _ETAG.match(value.strip())
    if match is None:
        raise Problem(
            412,
            "stale-version",
            "The case has changed",
            f"If-Match {value!r} does not name a version of this case "
            '(send the ETag you got, e.g. "3")',
        )
    return int(match.group(1) or match.group(2))


# The raw header: the route parses it with ``parse_if_match`` only after the 404 and 403 checks.
IfMatchDep = Annotated[
    str | None,
    Header(alias="If-Match", description='The case version you act on, e.g. "3"'),
]


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(
            413,
            "body-too-large",
            "Request body too large",
            f"the body may be at most {limit} bytes",
        )
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(
                413,
                "body-too-large",
                "Request body too large",
                f"the body may be at most {limit} bytes",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def json_body(model: type[M]) -> Callable[..., Awaitable[M]]:
    """A dependency that reads, size-checks and validates the body after the other checks."""

    async def dependency(request: Request) -> M:
        services: Services = request.app.state.services
        raw = await read_body(request, services.max_body_bytes)
        try:
            # The common case in one step (pydantic parses and validates the JSON together);
            # anything it refuses goes the long way below, for the same errors as ever.
            return model.model_validate_json(raw)
        except ValidationError:
            pass
        try:
            data: Any = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise invalid(
                "the body is not valid JSON",
                [{"field": "(body)", "pointer": "#", "detail": str(error)}],
            ) from error
        if not isinstance(data, dict):
            raise invalid(
                "the body must be a JSON object",
                [
                    {
                        "field": "(body)",
                        "pointer": "#",
                        "detail": f"expected an object, got {type(data).__name__}",
                    }
                ],
            )
        try:
            return model.model_validate(data)
        except ValidationError as error:
            raise invalid("some fields are not valid", field_errors(error)) from error

    dependency.__name__ = f"{model.__name__}_body"
    return dependency


def body_openapi(model: type[BaseModel]) -> dict[str, Any]:
    """The request body's place in the OpenAPI document (the body is read by ``json_body``)."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }


def caught_up(*names: str):  # type: ignore[no-untyped-def]
    """Dependency: with ``?after_position=P``, answer only once the read models reached P."""

    def wait(
        services: ServicesDep,
        # Authenticated first: 401 comes before anything else, and no anonymous call may wait.
        _principal: PrincipalDep,
        after_position: Annotated[
            int | None,
            Query(ge=0, description="Answer only once the read model has taken in this position"),
        ] = None,
    ) -> None:
        if after_position is None:
            return
        for name in names:
            if not wait_for(services.read_side, name, after_position, services.wait_seconds):
                raise Problem(
                    504,
                    "read-model-behind",
                    "Read model still catching up",
                    f"the {name} read model did not reach position {after_position} within "
                    f"{services.wait_seconds:g} s; retry",
                    headers={"Retry-After": "1"},
                )

    return Depends(wait)
