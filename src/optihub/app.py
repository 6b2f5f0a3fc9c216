"""The FastAPI application: operational routes, the OAuth server, every API surface and
the dashboard, over one database."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import Message, Receive, Scope, Send

from optihub import __version__
from optihub.apidocs import install_api_docs
from optihub.auth.keys import InstanceKey, KeyRing, ensure_signing_key
from optihub.auth.routes import install as install_authorization_server
from optihub.auth.tokens import RevocationList, TokenService
from optihub.dashboard import install as install_dashboard
from optihub.db.session import DATABASE_ERRORS, Database
from optihub.errors import OptiHubError
from optihub.events.worker import DeliveryWorker
from optihub.patient_view import install as install_patient_view
from optihub.patient_view import link_key
from optihub.problems import is_outage
from optihub.services import stuck_orders
from optihub.services.patient_messages import EyewearMail
from optihub.settings import Settings
from optihub.surfaces import SURFACES
from optihub.surfaces.kit import install_kit
from optihub.surfaces.kit.surface import Surfaces
from optihub.web import (
    RequestContextMiddleware,
    hot_routes,
    install_operational_routes,
    security_headers,
    skip_on_paths,
)

DESCRIPTION = """
OptiHub keeps one store of practices, patients, prescriptions, frames and orders and speaks
the API dialects optical software already uses. Every surface below is protected by bearer
tokens from OptiHub's own OAuth 2.1 / OpenID Connect server.
"""


def build_worker(app: FastAPI) -> DeliveryWorker:
    """The webhook delivery worker over this app's database and key, delivering each
    surface's subscribers in that surface's shape, sending the patients' eyewear-ready
    e-mails, and running the periodic jobs (``order.stuck``)."""
    settings: Settings = app.state.settings
    instance_key: InstanceKey = app.state.instance_key
    return DeliveryWorker(
        app.state.db,
        decrypt=instance_key.decrypt,
        allowed_hosts=settings.webhook_allowed_hosts,
        renderers=app.state.surfaces.webhook_renderers(),
        periodic=[stuck_orders.periodic()],
        mailer=EyewearMail(link_key(instance_key), instance_key.decrypt, settings.issuer),
        lease=timedelta(seconds=settings.webhook_lease_seconds),
    )


def start_worker(app: FastAPI) -> DeliveryWorker:
    worker = build_worker(app)
    threading.Thread(target=worker.run_forever, name="webhook-worker", daemon=True).start()
    return worker


def _start_keys(db: Database, instance_key: InstanceKey, keyring: KeyRing) -> None:
    """The signing key made if there is none, and the key ring loaded (off the loop)."""
    with db.transaction() as session:
        ensure_signing_key(session, instance_key)
    keyring.load()


class OptiHub(FastAPI):
    """FastAPI, with every HTTP response, whoever answers it (a hot route, a route, an
    error handler, the last-resort 500), carrying the constant security headers
    (``web.security_headers``): added here, outside everything else, so nothing can answer
    without them. Hot routes (``web.HotRoutes``) are answered by the outermost of the
    app's own middleware (``web.RequestContextMiddleware``), before routing."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        extra = security_headers(scope)

        async def send_hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await super().__call__(scope, receive, send_hardened)


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """Build the app. ``database`` lets tests and the CLI share an engine they created."""
    settings = settings or Settings.from_env()
    db = database or Database(settings.database_url)

    instance_key = InstanceKey.from_settings(settings)
    if db.dialect == "postgresql" and not settings.secret_key:
        # Every machine sharing this database must read the others' secrets: a key of its
        # own in its data directory cannot (docs/operating.md, Settings and secrets).
        structlog.get_logger("optihub.app").warning(
            "instance_key_not_shared",
            hint="set OPTIHUB_SECRET_KEY to the same value on every machine of this database",
        )
    keyring = KeyRing(db, instance_key)
    tokens = TokenService(
        keyring,
        RevocationList(db),
        issuer=settings.issuer,
        audience=settings.api_audience,
        access_token_ttl=settings.access_token_ttl_seconds,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(_start_keys, db, instance_key, keyring)
        worker = start_worker(app) if settings.run_worker_in_server else None
        yield
        if worker is not None:
            worker.close()
        await db.close_async_reads()  # this loop's; the next loop (a test's) opens its own
        if database is None:
            db.dispose()

    app = OptiHub(
        title="OptiHub",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # OptiHub's telemetry is its own (the JSON access log, /metrics). FastAPI's native
        # OpenTelemetry, on by default, asked the global providers whether anything was
        # configured on every request: 2 % of a practice-API create's server time.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.db = db
    app.state.instance_key = instance_key
    app.state.tokens = tokens
    surfaces = install_kit(app, settings.redis_url)
    _answer_outages_early(app)
    install_operational_routes(app)
    install_api_docs(app)
    install_authorization_server(app)
    install_dashboard(app)
    install_patient_view(app)
    for surface in SURFACES:
        surface.install(app)
    # Sessions (the sign-in cookie) are for the pages; API surfaces and the operational
    # routes take bearer tokens or nothing, so the cookie is neither read nor refreshed there.
    skip_on_paths(app, SessionMiddleware, lambda path: _sessionless(surfaces, path))
    # Outermost of the app's own middleware: request ids, the access log and metrics.
    app.add_middleware(RequestContextMiddleware, hot_routes=hot_routes(app))
    return app


def _answer_outages_early(app: FastAPI) -> None:
    """The database away inside a route: answered by the kit's handler (503 in the
    dialect's envelope) before Starlette's last-resort handler, which answers and then
    re-raises every exception to the server by design: uvicorn would log a stack per
    request, the access log a 500, and close the client's connection under the 503 (a
    reset for a client reusing it). Any other database error still goes there (a 500,
    logged with its stack). Found by scripts/reliability.py during a PostgreSQL restart."""
    handle = app.exception_handlers[OptiHubError]

    async def database_error(request: Request, exc: Exception) -> Response:
        if not is_outage(exc):
            raise exc
        return await handle(request, exc)  # type: ignore[no-any-return]

    for kind in DATABASE_ERRORS:
        app.add_exception_handler(kind, database_error)


OPERATIONAL_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Stylesheets and scripts: no session read, and no Set-Cookie that would make them uncacheable.
ASSET_PREFIXES = ("/static/", "/docs/static/")
# The patients' pages: no staff session is read there, and no cookie is ever set.
PATIENT_PREFIX = "/p/"


def _sessionless(surfaces: Surfaces, path: str) -> bool:
    return (
        path in OPERATIONAL_PATHS
        or path.startswith(ASSET_PREFIXES)
        or path.startswith(PATIENT_PREFIX)
        or surfaces.owner(path) is not None
    )
