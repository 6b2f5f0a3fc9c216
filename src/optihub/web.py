"""HTTP plumbing shared by every surface: the per-request session, request ids, metrics,
health checks and the last-resort error handler."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Annotated, Protocol

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy import text
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from optihub.db.session import Database
from optihub.logging import get_logger

log = get_logger("optihub.http")

REQUESTS = Counter("optihub_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "optihub_http_request_duration_seconds",
    "HTTP request duration",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def database(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def db_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back if it raises.

    Services only flush; this is the single place a request's work is committed.
    """
    db: Database = request.app.state.db
    # Reads begin deferred (on SQLite they then never queue behind a writer).
    factory = db.read_sessions if request.method in ("GET", "HEAD") else db.sessions
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# scope="function": the commit happens before the response is sent, so a client that got
# a 2xx can rely on its write being stored (and sees it on its next request).
DbSession = Annotated[Session, Depends(db_session, scope="function")]


class RequestContextMiddleware:
    """Request id (``X-Request-Id``, echoed or generated), access log line and metrics.

    Pure ASGI (not BaseHTTPMiddleware) to keep the per-request cost small on hot paths.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 64 else "req_" + secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            REQUESTS.labels(scope["method"], template, str(status)).inc()
            LATENCY.labels(scope["method"], template).observe(elapsed)
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                route=template,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")


def request_id_of(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """Last resort: log the traceback with the request id, show the caller only the id."""
    request_id = request_id_of(request)
    log.error("unhandled_error", exc_info=exc, path=request.url.path)
    return JSONResponse(
        status_code=500,
        content={
            "error": {
                "code": "internal_error",
                "message": f"Something went wrong on our side. Request id: {request_id}",
            }
        },
        headers={"X-Request-Id": request_id},
    )


class ErrorRenderer(Protocol):
    """Renders one kind of failure in a surface's own envelope."""

    def __call__(self, request: Request, exc: Exception) -> Response: ...


class ErrorRenderers:
    """Error envelopes by path prefix: the longest registered prefix of the request path wins.

    FastAPI's exception handlers are app-wide; this lets every surface keep its dialect's
    envelope for auth failures, service errors, request validation and unknown routes.
    Unmatched paths get OptiHub's plain ``{"error": {"code", "message"}}``.
    """

    def __init__(self) -> None:
        self._by_prefix: list[tuple[str, ErrorRenderer]] = []

    def register(self, prefix: str, renderer: ErrorRenderer) -> None:
        self._by_prefix.append((prefix.rstrip("/"), renderer))
        self._by_prefix.sort(key=lambda item: len(item[0]), reverse=True)

    def render(self, request: Request, exc: Exception) -> Response:
        path = request.url.path
        for prefix, renderer in self._by_prefix:
            if path == prefix or path.startswith(prefix + "/"):
                return renderer(request, exc)
        return default_renderer(request, exc)


def default_renderer(request: Request, exc: Exception) -> Response:
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    from optihub.auth.resource import AuthError
    from optihub.errors import Conflict, NotFound, OptiHubError, RateLimited, ValidationFailed

    headers: dict[str, str] = {}
    if isinstance(exc, AuthError):
        status, code, message = exc.status_code, exc.error, exc.description
        headers["WWW-Authenticate"] = exc.www_authenticate
    elif isinstance(exc, RequestValidationError):
        status, code = 422, "validation_failed"
        message = "; ".join(
            ".".join(str(p) for p in e.get("loc", ())) + ": " + str(e.get("msg", ""))
            for e in exc.errors()
        )
    elif isinstance(exc, HTTPException):
        status, code, message = exc.status_code, "http_error", str(exc.detail)
    elif isinstance(exc, OptiHubError):
        status = {NotFound: 404, ValidationFailed: 422, Conflict: 409, RateLimited: 429}.get(
            type(exc), 400
        )
        code, message = exc.code, exc.message
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after_seconds)
    else:
        return JSONResponse({"error": {"code": "internal_error", "message": "Internal error"}}, 500)
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


def install_error_handlers(app: FastAPI) -> ErrorRenderers:
    """Route auth, service, validation and HTTP errors to the owning surface's envelope."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    from optihub.auth.resource import AuthError
    from optihub.errors import OptiHubError

    renderers = ErrorRenderers()
    app.state.error_renderers = renderers

    async def handle(request: Request, exc: Exception) -> Response:
        return renderers.render(request, exc)

    for kind in (AuthError, OptiHubError, RequestValidationError, HTTPException):
        app.add_exception_handler(kind, handle)
    app.add_exception_handler(Exception, unexpected_error)
    return renderers


INDEX_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>OptiHub</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main>
<h1>OptiHub</h1>
<p>The optical order hub is running.</p>
<ul>
<li><a href="/login">Sign in</a> (staff: connected apps, developer apps)</li>
<li><a href="/docs">API reference</a> (<a href="/openapi.json">OpenAPI document</a>)</li>
<li><a href="/.well-known/openid-configuration">OpenID Connect discovery</a></li>
</ul>
</main></body></html>
"""


def install_operational_routes(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return HTMLResponse(INDEX_PAGE)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz(request: Request) -> Response:
        db: Database = request.app.state.db
        try:
            with db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:
            log.warning("readiness_failed", exc_info=True)
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        return JSONResponse({"status": "ok", "database": db.dialect})

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)
