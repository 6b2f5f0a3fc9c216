"""A surface: one API dialect mounted under a prefix, declared once and installed in one
step. What it declares — its envelope, body limit, rate limit, status vocabulary, order
projection and webhook shape — the kit applies to every route under its prefix."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from limits import RateLimitItem
from limits import parse as parse_rate
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Scope

from optihub.auth.resource import Principal, authenticate_cached, route_scopes
from optihub.db.models import Event, OAuthClient
from optihub.db.session import Database
from optihub.domain.orders import VocabularyTable
from optihub.errors import BadRequest, OptiHubError
from optihub.logging import get_logger
from optihub.problems import Problem, problem_from
from optihub.reads import documents
from optihub.surfaces.kit import bodies, fast, fast_write
from optihub.surfaces.kit.fast import FastRead
from optihub.surfaces.kit.fast_write import FastWrite
from optihub.surfaces.kit.limits import BodyLimit, RateLimiter
from optihub.surfaces.kit.responses import json_response
from optihub.surfaces.kit.vocabulary import translate_transition
from optihub.web import hot_routes

log = get_logger("optihub.http")

Envelope = Callable[[Problem], Any]
# The whole delivery body a surface's subscribers get for an event (None: not theirs).
WebhookRender = Callable[[Session, Event], dict[str, Any] | None]
# The same for one of the surface's event codes: ``(session, event, code)``.
WebhookCodeRender = Callable[[Session, Event, str], dict[str, Any] | None]
# Which of the surface's event codes a core event produces: ``(type, data) -> codes``.
WebhookMatch = Callable[[str, Mapping[str, Any]], Iterable[str]]

MIB = 1 << 20


@dataclass(frozen=True)
class WebhookShape:
    """The event codes a surface's subscribers may choose (``events``), which of them each
    core event produces (``match``), and how a delivery body looks (``render``).

    By default the codes are the core's event types (``match``: a core event produces its
    own type when ``events`` lists it) and ``render(session, event)`` makes the body. A
    surface with codes of its own gives ``match`` and ``render_code(session, event, code)``
    instead: the engine renders each code an event produces once and delivers it, signed
    and retried, to the subscriptions that list it (``*``: all of the surface's codes).
    """

    events: tuple[str, ...]
    render: WebhookRender | None = None
    match: WebhookMatch | None = None
    render_code: WebhookCodeRender | None = None

    def __post_init__(self) -> None:
        if (self.render is None) == (self.render_code is None):
            raise ValueError("a WebhookShape takes exactly one of render and render_code")

    def codes(self, type: str, data: Mapping[str, Any]) -> tuple[str, ...]:
        """The codes the core event ``type`` with ``data`` produces, each once, only among
        ``events``."""
        produced = self.match(type, data) if self.match is not None else (type,)
        return tuple(code for code in dict.fromkeys(produced) if code in self.events)

    def body(self, session: Session, event: Event, code: str) -> dict[str, Any] | None:
        """The delivery body of ``event`` under ``code`` (None: not delivered)."""
        if self.render_code is not None:
            return self.render_code(session, event, code)
        assert self.render is not None
        return self.render(session, event)


def first_segment(path: str) -> str:
    """The module of a path below a surface's prefix: its first segment."""
    return path.strip("/").split("/", 1)[0]


@dataclass
class Surface:
    """One dialect. ``envelope`` turns a ``Problem`` into the dialect's error body."""

    name: str
    prefix: str
    router: APIRouter
    envelope: Envelope
    error_model: type[BaseModel]
    # The dialect's scope table: (method, path below the prefix) → the scope it requires
    # (None: a route called without a token, e.g. a dialect's own token call). Every route
    # must declare exactly this (checked at install); the shared checks in
    # tests/api/test_surfaces.py walk it for every installed surface.
    scopes: Mapping[tuple[str, str], str | None] = field(default_factory=dict)
    max_body: int = MIB
    vocabulary: VocabularyTable | None = None
    projection: documents.Projection | None = None
    webhooks: WebhookShape | None = None
    # e.g. "100/minute": per client (per address when unauthenticated) and module.
    rate_limit: str | None = None
    module_of: Callable[[str], str] = first_segment
    error_statuses: tuple[int, ...] = (400, 401, 403, 404, 409, 413, 422, 429, 500)
    media_type: str = "application/json"
    # The dialect's status for a problem's status, where its document says otherwise
    # (e.g. a dialect that answers every validation failure with 400, not 422).
    statuses: Mapping[int, int] = field(default_factory=dict)
    # The reads the kit answers before routing (``kit.fast``): each is also a framework
    # route, which answers whatever the fast read leaves.
    fast_reads: tuple[FastRead, ...] = ()
    # The writes the kit answers before routing (``kit.fast_write``); each is a framework
    # route too, which stays the reference.
    fast_writes: tuple[FastWrite, ...] = ()
    # Routes outside the prefix (e.g. a dialect's token call at the site root), mounted
    # as they are; their errors are in the dialect's envelope too.
    root_router: APIRouter | None = None
    # Renders an error from the problem and the request's headers, for a dialect whose
    # error body follows ``Accept`` (JSON or XML); None: ``envelope`` as JSON.
    render: Callable[[Problem, Mapping[str, str]], Response] | None = None
    # The kit refuses JSON bodies holding what the framework's decoder would hand on but no
    # field can take (``kit.bodies``: text that is not Unicode, numbers a float cannot
    # hold). False for a dialect whose own codec decodes its bodies and checks them.
    checks_json: bool = True
    # How those refusals name a value by its path in the body: ``lines.0.sku`` (the
    # framework's way, as its validation errors do) or ``bodies.indexed``: ``lines[0].sku``.
    body_path: Callable[[bodies.Path], str] = bodies.dotted
    extra: dict[str, Any] = field(default_factory=dict)
    # What staff call the channel an order came through this dialect (the dashboard's
    # "channel"); the name when empty.
    title: str = ""

    def owns(self, path: str) -> bool:
        if path == self.prefix or path.startswith(self.prefix + "/"):
            return True
        return self.root_router is not None and any(
            path == getattr(route, "path", None) for route in self.root_router.routes
        )

    def problem_response(
        self, problem: Problem, request_headers: Mapping[str, str] | None = None
    ) -> Response:
        if problem.code == "invalid_transition" and self.vocabulary is not None:
            problem = translate_transition(problem, self.vocabulary)
        if problem.status in self.statuses:
            problem = replace(problem, status=self.statuses[problem.status])
        if self.render is not None:
            return self.render(problem, request_headers or {})
        return json_response(self.envelope(problem), problem.status, headers=problem.headers)

    def install(self, app: FastAPI) -> None:
        """Mount the routes with the kit's error responses, limits and registrations."""
        self.check_scopes()
        surfaces: Surfaces = app.state.surfaces
        surfaces.add(self)
        dependencies = [Depends(self._rate_limit)] if self.rate_limit else []
        responses: dict[int | str, dict[str, Any]] = {
            status: {"model": self.error_model, "description": DESCRIPTIONS[status]}
            for status in self.error_statuses
        }
        app.include_router(
            self.router, prefix=self.prefix, dependencies=dependencies, responses=responses
        )
        if self.root_router is not None:
            app.include_router(self.root_router, responses=responses)
        if self.projection is not None:
            documents.register(self.projection)
        for read in self.fast_reads:
            fast.install(hot_routes(app), self, read)
        for write in self.fast_writes:
            fast_write.install(hot_routes(app), self, write, self.max_body)

    def check_scopes(self) -> None:
        """Refuse to install a surface whose routes and scope table disagree."""
        declared: dict[tuple[str, str], Any] = {
            key: (scopes[0] if len(scopes) == 1 else scopes) if scopes else None
            for key, scopes in route_scopes(self.router.routes).items()
        }
        if declared != dict(self.scopes):
            wrong = sorted(set(declared.items()) ^ set(self.scopes.items()), key=str)
            raise ValueError(f"surface {self.name!r}: routes and scope table differ: {wrong}")

    async def _rate_limit(self, request: Request) -> None:
        if request.scope.get("state", {}).get(fast.RATE_COUNTED):
            return  # counted on the fast path, whose answer left the request to this route
        await self.count_request(request.app, request.scope, authenticate_cached(request))

    async def count_request(self, app: Any, scope: Scope, principal: Principal | None) -> None:
        """Count the request against its client's budget (its address's without a valid
        token) for the module it calls; over the rate → ``RateLimited``. Nothing to count
        when the surface has no rate limit."""
        if self.rate_limit is None:
            return
        rate: str | RateLimitItem = self.rate_limit
        surfaces: Surfaces = app.state.surfaces
        if principal is not None:
            identity = f"client:{principal.client_id}"
            own = await surfaces.client_rates.rate(app.state.db, principal.client_id)
            rate = own or rate
        else:
            client = scope.get("client")
            identity = f"address:{client[0] if client else 'unknown'}"
        module = self.module_of(scope["path"][len(self.prefix) :])
        await surfaces.limiter.hit_async(rate, self.name, module, identity)


class ClientRates:
    """Each app's own rate (``oauth_clients.rate_limit``, set with ``optihub client
    rate-limit``), remembered for ``ttl`` seconds per client id: a request costs a dict
    lookup, and a change applies within ``ttl``. A client without one (or unknown) gets
    None: the surface's default."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._known: dict[str, tuple[float, RateLimitItem | None]] = {}

    async def rate(self, db: Database, client_id: str) -> RateLimitItem | None:
        now = time.monotonic()
        known = self._known.get(client_id)
        if known is not None and known[0] > now:
            return known[1]
        # A database read: off the event loop, once per client per ``ttl``.
        rate = await run_in_threadpool(self._load, db, client_id)
        self._known[client_id] = (now + self.ttl, rate)
        return rate

    @staticmethod
    def _load(db: Database, client_id: str) -> RateLimitItem | None:
        with db.reading() as reader:
            value = reader.scalar(
                select(OAuthClient.rate_limit).where(OAuthClient.client_id == client_id)
            )
        if not value:
            return None
        try:
            return parse_rate(value)
        except ValueError:
            log.warning("client_rate_limit_invalid", client_id=client_id, rate_limit=value)
            return None


DESCRIPTIONS = {
    400: "Bad request: malformed body, wrong types, unknown fields or values",
    401: "No valid bearer token",
    403: "The token lacks a scope or the practice",
    404: "No such object for this practice",
    409: "Conflicts with the object's current state",
    413: "The body is over the size limit",
    415: "Unsupported body media type",
    422: "Breaks a rule of the domain",
    429: "Too many requests (see Retry-After)",
    500: "Unexpected error (the body carries only a request id)",
}


class Surfaces:
    """The installed surfaces of an app: who owns a path, errors and limits by owner."""

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter
        self.client_rates = ClientRates()
        self._installed: list[Surface] = []
        self._error_bodies: list[tuple[str, Callable[[Problem], Response]]] = []

    def add_error_body(self, prefix: str, render: Callable[[Problem], Response]) -> None:
        """Errors under ``prefix`` (not a surface: the OAuth endpoints) rendered by ``render``."""
        self._error_bodies.append((prefix.rstrip("/"), render))

    def add(self, surface: Surface) -> None:
        if any(s.name == surface.name for s in self._installed):
            raise ValueError(f"a surface named {surface.name!r} is installed already")
        self._installed.append(surface)
        self._installed.sort(key=lambda s: len(s.prefix), reverse=True)

    def __iter__(self) -> Any:
        return iter(sorted(self._installed, key=lambda s: s.name))

    def owner(self, path: str) -> Surface | None:
        for surface in self._installed:
            if surface.owns(path):
                return surface
        return None

    def body_limit(self, path: str) -> int | None:
        owner = self.owner(path)
        return owner.max_body if owner is not None else None

    def body_refusal(self, scope: Scope, body: bytes) -> BadRequest | None:
        """Why the owning surface refuses a JSON body it has read (``kit.bodies``), or None."""
        owner = self.owner(scope["path"])
        if owner is None or not owner.checks_json:
            return None
        if not bodies.is_json(Headers(scope=scope).get("content-type")):
            return None
        return bodies.refusal(body, owner.body_path)

    def webhook_renderers(self) -> dict[str, WebhookShape]:
        """Each installed surface's webhook shape, by surface name (what the relay takes)."""
        return {s.name: s.webhooks for s in self._installed if s.webhooks is not None}

    def respond(
        self,
        path: str,
        exc: BaseException,
        request_id: str,
        request_headers: Mapping[str, str] | None = None,
    ) -> Response:
        problem = problem_from(exc, request_id)
        if problem.status == 503:  # the database away for a moment: no stack per request
            log.warning("unavailable", path=path, error=type(exc).__name__)
        elif problem.status >= 500:
            log.error("unhandled_error", exc_info=exc, path=path)
        owner = self.owner(path)
        if owner is not None:
            return owner.problem_response(problem, request_headers)
        for prefix, render in self._error_bodies:
            if path == prefix or path.startswith(prefix + "/"):
                return render(problem)
        body = {"error": {"code": problem.code, "message": problem.message}}
        return json_response(body, problem.status, headers=problem.headers)


def install_kit(app: FastAPI, redis_url: str = "") -> Surfaces:
    """Error handling by owning surface (the 500 handler too), body limits and body checks,
    once per app."""
    surfaces = Surfaces(RateLimiter(redis_url))
    app.state.surfaces = surfaces

    async def handle(request: Request, exc: Exception) -> Response:
        request_id = str(request.scope.get("state", {}).get("request_id", ""))
        response = surfaces.respond(request.url.path, exc, request_id, request.headers)
        if response.status_code >= 500:
            response.headers["X-Request-Id"] = request_id
        return response

    for kind in (OptiHubError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(kind, handle)

    async def refuse(scope: Scope, exc: Exception) -> ASGIApp:
        return surfaces.respond(scope["path"], exc, "", Headers(scope=scope))

    app.add_middleware(
        BodyLimit, limit_of=surfaces.body_limit, refuse=refuse, check=surfaces.body_refusal
    )
    return surfaces
