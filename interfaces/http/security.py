"""HTTP hardening: security headers on every answer, unexpected errors as bare problems, CORS."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]

# Swagger UI and ReDoc load scripts and styles: the JSON-only policy would blank them.
DOCS_PATHS = ("/docs", "/redoc")
JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"
CORS_HEADERS = ["Authorization", "Content-Type", "If-Match", "Idempotency-Key", "X-Tracking-Pin"]
CORS_EXPOSED = ["ETag", "Location", "Retry-After"]


def _is_docs(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in DOCS_PATHS)


class SecurityHeaders:
    """Adds the security headers to every response, including preflights and errors."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = _is_docs(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "no-referrer"
                if not docs:
                    headers["Content-Security-Policy"] = JSON_POLICY
                    # Answers carry case data: no shared or browser cache keeps them.
                    headers.setdefault("Cache-Control", "no-store")
                if self.hsts:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ErrorsAsProblems:
    """Answers an exception no handler took with the app's own 500 problem, inside the
    middleware stack (Starlette's outermost error middleware would skip the headers and CORS).
    The handler logs the traceback; the body says only that something went wrong."""

    def __init__(self, app: ASGIApp, *, handler: ErrorHandler) -> None:
        self.app = app
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            if started:  # too late for another answer: let the server drop the connection
                raise
            response = await self.handler(Request(scope), error)
            await response(scope, receive, send)


def install(app: FastAPI, *, cors_origins: tuple[str, ...] = (), hsts: bool = False) -> None:
    """Call after the exception handlers are installed: the last-resort one is reused."""
    handler = app.exception_handlers.get(Exception)
    if handler is not None:
        app.add_middleware(ErrorsAsProblems, handler=handler)  # type: ignore[arg-type]
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,  # type: ignore[arg-type]
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSED,
            allow_credentials=False,
            max_age=600,
        )
    # Added last, so outermost: preflight answers and errors get the headers too.
    app.add_middleware(SecurityHeaders, hsts=hsts)  # type: ignore[arg-type]
