"""HTTP plumbing shared by every surface and page: the per-request session, request ids,
the access log and metrics, health checks. (Errors: ``optihub.problems`` and the surface
kit's handlers.)"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Annotated

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
