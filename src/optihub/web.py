"""HTTP plumbing shared by every surface and page: the per-request session, request ids,
the access log and metrics, health checks. (Errors: ``optihub.problems`` and the surface
kit's handlers.)"""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import os
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy import text
from sqlalchemy.orm import Session
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from optihub.db.session import Database
from optihub.errors import OptiHubError
from optihub.logging import access, get_logger

log = get_logger("optihub.http")
T = TypeVar("T")

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


async def in_transaction(request: Request, work: Callable[[Session], T]) -> T:
    """``work(session)`` in one worker thread, in one transaction: committed before this
    returns (so before the response is sent), rolled back if it raises — ``DbSession``'s
    contract for an ``async`` route. A ``def`` route with ``DbSession`` costs three trips
    through the thread pool (the dependency's start and end, and the route); this is one,
    for the writes that clients repeat (a create)."""
    return await run_transaction(request.app.state.db, work)


async def run_transaction(db: Database, work: Callable[[Session], T]) -> T:
    """``in_transaction`` for a caller that has the database but no request (a hot write),
    run on the database's write threads (``Database.write_threads``, ``Database.write``)
    with this request's context (its log fields), as the thread pool would carry it."""

    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(
        db.write_threads(), context.run, db.write, work
    )


# Sent with every response, the hot routes' included (a constant list appended as the
# response starts: no per-request work beyond that). One policy serves the pages, the API
# reference and the JSON APIs: every script and stylesheet is a file this server serves (no
# inline script or style, no CDN); images may be data: URIs (Swagger UI's icons). No
# ``form-action``: the consent form's answer redirects to the app's own redirect URI.
CONTENT_SECURITY_POLICY = (
    "frame-ancestors 'none'; default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'"
)
HSTS_MAX_AGE = 365 * 24 * 3600
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
# Over https only (the request's scheme: TLS at uvicorn, or a proxy uvicorn trusts saying
# ``X-Forwarded-Proto: https``); over plain http a browser would ignore it anyway.
HTTPS_SECURITY_HEADERS = (
    *SECURITY_HEADERS,
    (b"strict-transport-security", f"max-age={HSTS_MAX_AGE}".encode()),
)


def security_headers(scope: Scope) -> tuple[tuple[bytes, bytes], ...]:
    """The constant headers every response to this request carries."""
    return HTTPS_SECURITY_HEADERS if scope.get("scheme") == "https" else SECURITY_HEADERS


@dataclass(frozen=True)
class HotAnswer:
    """A hot route's response when it is not a plain 200 JSON body: a page, a body with
    headers of its own, or a refusal rendered in the owning dialect's envelope."""

    body: bytes
    content_type: bytes = b"application/json"
    headers: tuple[tuple[bytes, bytes], ...] = ()
    status: int = 200


# A hot route's handler: the response of its happy path (a 200 JSON body, or a
# ``HotAnswer``), or None (or an unexpected exception) to let the application answer it.
HotHandler = Callable[[Scope], Awaitable[bytes | HotAnswer | None]]

# Where a hot write's handler finds the request body the middleware read for it.
HOT_BODY = "optihub.hot_body"


@dataclass(frozen=True)
class HotRoute:
    """A request answered before routing and dependency resolution when its handler can.

    ``route`` is the template the access log and metrics name (the framework route's
    ``path``). The handler does everything the framework route does (authentication,
    scopes, rate limit, tenancy) and returns the response; whatever it does not handle (an
    unusual query string, a missing object) it leaves to the framework route by returning
    None, and that route answers as it always does.

    A write (``body_limit`` set: the most bytes its surface reads) gets the request body,
    read here in full (``scope[HOT_BODY]``); a body over the limit, or one the handler
    leaves, is replayed to the application as it came, so the route reads it as always.
    Its handler must not leave a request once it has written anything: an exception it
    raises is not a reason to try the route (nothing may be written twice).
    """

    route: str
    handler: HotHandler
    body_limit: int | None = None


class _Table:
    """One method's hot routes: by exact path, by a prefix followed by one segment, or by
    a template with ``{name}`` segments anywhere."""

    def __init__(self) -> None:
        self.exact: dict[str, HotRoute] = {}
        self.segment: dict[str, HotRoute] = {}
        # Paths with ``{name}`` segments anywhere: (segment count, literals by position).
        self.patterns: list[tuple[int, tuple[tuple[int, str], ...], HotRoute]] = []

    def find(self, path: str) -> HotRoute | None:
        found = self.exact.get(path)
        if found is None and self.segment:
            head, slash, tail = path.rpartition("/")
            if slash and tail:
                found = self.segment.get(head + "/")
        if found is None and self.patterns:
            parts = path.split("/")
            for count, literals, route in self.patterns:
                if (
                    count == len(parts)
                    and all(parts[i] == literal for i, literal in literals)
                    and all(parts[1:])
                ):
                    return route
        return found


class HotRoutes:
    """Hot routes by method, then by exact path, by a prefix followed by one path segment,
    or by a template. Served by ``RequestContextMiddleware``, inside the request's context
    like any other request."""

    def __init__(self) -> None:
        self._tables: dict[str, _Table] = {}

    def _table(self, method: str) -> _Table:
        return self._tables.setdefault(method, _Table())

    def add(
        self,
        path: str,
        route: str,
        handler: HotHandler,
        *,
        method: str = "GET",
        body_limit: int | None = None,
    ) -> None:
        self._table(method).exact[path] = HotRoute(route, handler, body_limit)

    def add_segment(
        self,
        prefix: str,
        route: str,
        handler: HotHandler,
        *,
        method: str = "GET",
        body_limit: int | None = None,
    ) -> None:
        """``prefix`` ends with ``/``; the handler reads the segment after it."""
        assert prefix.endswith("/"), prefix
        self._table(method).segment[prefix] = HotRoute(route, handler, body_limit)

    def add_pattern(
        self,
        template: str,
        handler: HotHandler,
        *,
        method: str = "GET",
        body_limit: int | None = None,
    ) -> None:
        """A path with ``{name}`` segments (each matches one non-empty segment)."""
        parts = template.split("/")
        literals = tuple((i, part) for i, part in enumerate(parts) if not part.startswith("{"))
        route = HotRoute(template, handler, body_limit)
        self._table(method).patterns.append((len(parts), literals, route))

    def find(self, path: str, method: str = "GET") -> HotRoute | None:
        table = self._tables.get(method)
        return table.find(path) if table is not None else None

    async def answer(self, hot: HotRoute, scope: Scope) -> HotAnswer | None:
        """The hot route's response, or None: the application answers."""
        try:
            answer = await hot.handler(scope)
        except OptiHubError:
            if hot.body_limit is not None:
                raise
            return None  # a refusal the handler left to the route's envelope
        except Exception:
            if hot.body_limit is not None:
                raise  # a write may have happened: never tried again by the route
            log.warning("hot_route_failed", route=hot.route, exc_info=True)
            return None
        if answer is None or isinstance(answer, HotAnswer):
            return answer
        return HotAnswer(answer)


class BufferedReceive:
    """A request's ``receive``, its body read once for a hot write and its messages handed
    out again, as they came, to the application when the route answers instead."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._messages: list[Message] = []
        self._replayed = 0

    async def body(self, scope: Scope, limit: int) -> bytes | None:
        """The whole body, or None when it is (or declares itself) over ``limit`` bytes or
        the client went away: the route then reads it and refuses it as it always does.
        Never more than the limit plus one chunk is held."""
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self._receive()
            self._messages.append(message)
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def __call__(self) -> Message:
        if self._replayed < len(self._messages):
            message = self._messages[self._replayed]
            self._replayed += 1
            return message
        return await self._receive()


# Prometheus children by (method, route, status): ``labels()`` takes a lock and hashes the
# label values on every call; the children it returns are the same objects each time.
_metric_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _observe(method: str, template: str, status: int, elapsed: float) -> None:
    key = (method, template, status)
    children = _metric_children.get(key)
    if children is None:
        if len(_metric_children) > 10_000:  # methods are client-chosen: keep it bounded
            _metric_children.clear()
        children = (
            REQUESTS.labels(method, template, str(status)),
            LATENCY.labels(method, template),
        )
        _metric_children[key] = children
    children[0].inc()
    children[1].observe(elapsed)


class _RequestIds:
    """``req_`` and 16 hex digits: unique, not secret (it is echoed and logged), so drawn
    from a generator seeded from the OS once per process rather than a system call each."""

    def __init__(self) -> None:
        self._random = random.Random(secrets.randbits(128))  # noqa: S311 (ids, not secrets)
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self._random.seed(secrets.randbits(128))

    def new(self) -> str:
        return f"req_{self._random.getrandbits(64):016x}"


_request_ids = _RequestIds()


def _request_id(headers: list[tuple[bytes, bytes]]) -> str:
    incoming = b""
    for name, value in headers:
        if name == b"x-request-id":
            incoming = value  # the last one wins
    if 0 < len(incoming) <= 64:
        return incoming.decode("latin-1")
    return _request_ids.new()


class RequestContextMiddleware:
    """Request id (``X-Request-Id``, echoed or generated), access log line and metrics, for
    every request: the hot routes' (answered here, before routing) and the application's.

    Pure ASGI (not BaseHTTPMiddleware) to keep the per-request cost small on hot paths.
    """

    def __init__(self, app: ASGIApp, hot_routes: HotRoutes | None = None) -> None:
        self.app = app
        self.hot_routes = hot_routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        request_id = state["request_id"] = _request_id(scope["headers"])
        rid = request_id.encode("latin-1")
        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        template = "unmatched"
        try:
            hot = None
            if self.hot_routes is not None:
                hot = self.hot_routes.find(scope["path"], scope["method"])
            answer = None
            if hot is not None:
                assert self.hot_routes is not None
                if hot.body_limit is None:
                    answer = await self.hot_routes.answer(hot, scope)
                else:
                    # A write: its body read here, and replayed if the route answers.
                    receive = buffered = BufferedReceive(receive)
                    body = await buffered.body(scope, hot.body_limit)
                    if body is not None:
                        scope[HOT_BODY] = body
                        try:
                            answer = await self.hot_routes.answer(hot, scope)
                        except BaseException:
                            template = hot.route  # logged under its route, not "unmatched"
                            raise
                        finally:
                            del scope[HOT_BODY]
            if answer is not None:
                assert hot is not None
                template, status = hot.route, answer.status
                await send(
                    {
                        "type": "http.response.start",
                        "status": status,
                        "headers": [
                            (b"content-length", str(len(answer.body)).encode()),
                            (b"content-type", answer.content_type),
                            *answer.headers,
                            (b"x-request-id", rid),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": answer.body})
                return

            async def send_with_id(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid)]
                await send(message)

            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            if template == "unmatched":
                template = route_template(scope)
            method = scope["method"]
            _observe(method, template, status, elapsed)
            access(method, scope["path"], template, status, round(elapsed * 1000, 2), request_id)
            structlog.contextvars.reset_contextvars(**bound)


def route_template(scope: Scope) -> str:
    """The full path template of the route that answered (``/v2/{client_id}/orders``).

    The framework names a route of an included router by its own path (``/orders``, the
    same for every dialect); the prefix it was mounted under is the request path's leading
    segments beyond the template's (prefixes are literal)."""
    path: str | None = getattr(scope.get("route"), "path", None)
    if not path:
        return "unmatched"
    extra = scope["path"].count("/") - path.count("/")
    if extra > 0 and ":path}" not in path:
        return "/".join(scope["path"].split("/")[: extra + 1]) + path
    return path


class SkipOnPaths:
    """Runs ``middleware`` (built over the same app) except on paths ``skip`` picks."""

    def __init__(
        self,
        app: ASGIApp,
        middleware: type[Any],
        skip: Callable[[str], bool],
        *args: Any,
        **kwargs: Any,
    ) -> None:
        self.app = app
        self.wrapped = middleware(app, *args, **kwargs)
        self.skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.skip(scope["path"]):
            await self.app(scope, receive, send)
        else:
            await self.wrapped(scope, receive, send)


def skip_on_paths(app: FastAPI, middleware: type[Any], skip: Callable[[str], bool]) -> None:
    """Keep an added ``middleware`` (same place, same options) off the paths ``skip`` picks."""
    for index, entry in enumerate(app.user_middleware):
        if entry.cls is middleware:
            app.user_middleware[index] = Middleware(
                SkipOnPaths, middleware, skip, *entry.args, **entry.kwargs
            )


HEALTHZ = b'{"status":"ok"}'


def hot_routes(app: FastAPI) -> HotRoutes:
    """The app's hot routes (created on first use; the app serves them before anything)."""
    routes: HotRoutes | None = getattr(app.state, "hot_routes", None)
    if routes is None:
        routes = app.state.hot_routes = HotRoutes()
    return routes


def install_operational_routes(app: FastAPI) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return Response(HEALTHZ, media_type="application/json")

    async def hot_healthz(_scope: Scope) -> bytes:
        return HEALTHZ

    hot_routes(app).add("/healthz", "/healthz", hot_healthz)

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

    install_metrics(app)


def install_metrics(app: FastAPI) -> None:
    """``/metrics`` for the operator only: with ``OPTIHUB_METRICS_TOKEN`` set it answers a
    request carrying ``Authorization: Bearer <token>`` (401 otherwise); without it the route
    does not exist (404), so nothing about the traffic is public by default."""
    token: str = app.state.settings.metrics_token
    if not token:
        return
    expected = token.encode()

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode("latin-1"), expected):
            return JSONResponse(
                {"error": {"code": "unauthorized", "message": "The metrics token is required."}},
                401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)
