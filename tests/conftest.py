"""Shared fixtures.

Every test that touches storage runs on SQLite, and again on PostgreSQL when
OPTIHUB_TEST_DATABASE_URL points at a server (``make test`` starts one). Each backend is
migrated once per test process with Alembic; after each test every table is emptied, so
tests may commit freely (the webhook worker and HTTP servers need real commits).

``make test`` runs the suite on every core (pytest-xdist): each worker process has its own
databases (a SQLite file, a PostgreSQL database named after the worker) and its own Redis
database number, so workers never see each other's rows or rate-limit windows.

Two costs that production pays once and the suite would pay per test are paid once per
process here (``pytest_configure``): password hashing at the cheapest argon2 parameters
(``tests/unit/test_security.py`` checks production's), and FastAPI's build of each route's
validators (``_reuse_route_builds``).

Checks that cannot depend on the database (auth refusals, path and parameter parsing, body
limits, envelopes) are marked ``storage_independent``: they run on SQLite only.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from optihub.db.base import Base
from optihub.db.migrate import upgrade
from optihub.db.session import Database

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER_URL = os.environ.get("OPTIHUB_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_SERVER_URL else [])


def _worker_number() -> int:
    """0 outside xdist, 1 for ``gw0``, 2 for ``gw1``…"""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) + 1 if worker.startswith("gw") else 0


def _own_redis_database() -> None:
    """Point this worker at a Redis database number of its own (before test modules read
    OPTIHUB_TEST_REDIS_URL): rate-limit windows are keyed by practice and client ids, which
    every worker's freshly numbered rows share."""
    url = os.environ.get("OPTIHUB_TEST_REDIS_URL", "")
    if url:
        base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
        os.environ["OPTIHUB_TEST_REDIS_URL"] = f"{base}/{_worker_number()}"


_own_redis_database()


def _reuse_route_builds() -> None:
    """Build each route's validators once per test process instead of once per app.

    FastAPI (0.16x) builds an included route's dependant and its pydantic validators for
    parameters, body and responses the first time an app routes a request: 0.1–0.3 s per
    app, a third of the suite's time, since every test makes its own app. Every app
    includes the same module-level routes under the same prefixes, so the build of a route
    under a prefix is the same for every app; only that first build is kept. Route handlers
    read the app from the request (``request.app``), never from the build.
    """
    from fastapi import routing

    build = routing._EffectiveRouteContext.from_api_route.__func__  # type: ignore[attr-defined]
    built: dict[tuple[int, int, str], object] = {}

    def from_api_route(cls, *, original_route, include_context):
        key = (id(include_context.included_router), id(original_route), include_context.prefix)
        if key not in built:
            built[key] = build(cls, original_route=original_route, include_context=include_context)
        return built[key]

    routing._EffectiveRouteContext.from_api_route = classmethod(from_api_route)  # type: ignore[assignment]


def pytest_configure(config: pytest.Config) -> None:
    from argon2.profiles import CHEAPEST

    from optihub import security

    security.use_hash_parameters(CHEAPEST)
    _reuse_route_builds()
    _register_order_projections()


def _register_order_projections() -> None:
    """Register every surface's order projection, as installing an app does. A worker runs
    any slice of the suite in any order: a service test that changes orders must render the
    same documents whether or not an earlier test in its process happened to build an app."""
    from optihub.reads import documents
    from optihub.surfaces import SURFACES

    for surface in SURFACES:
        if surface.projection is not None:
            documents.register(surface.projection)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A ``storage_independent`` check runs once, on SQLite: its answer cannot differ on
    PostgreSQL (the request is refused before any query). So does a ``pages_only`` browser
    tour: it judges how pages look and are reached, which the database does not change."""
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        once = any(item.get_closest_marker(m) for m in ("storage_independent", "pages_only"))
        (dropped if once and params.get("database_url") == "postgresql" else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def testdata_dir() -> Path:
    """The shared third-party test files (never copied into the project)."""
    path = Path(os.environ.get("OPTIHUB_TESTDATA") or ROOT.parent / "shared" / "testdata")
    if not path.is_dir():
        pytest.fail(
            f"test data not found at {path}: set OPTIHUB_TESTDATA or keep shared/ beside the repo"
        )
    return path


@pytest.fixture(scope="session")
def testdata() -> Path:
    return testdata_dir()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _create_pg_database(server_url: str) -> str:
    name = f"optihub_test_{_worker()}_{uuid.uuid4().hex[:6]}"
    admin = Database(server_url, poolclass=NullPool)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return str(make_url(server_url).set(database=name).render_as_string(hide_password=False))


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A freshly migrated, empty database of one backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'optihub.db'}"
    else:
        url = _create_pg_database(PG_SERVER_URL)
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def _session_db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def _empty_all_tables(database: Database) -> None:
    """Empty every table a test wrote to, and start ids at 1 again.

    One statement finds the tables that hold rows (a test writes to a handful of the ~50);
    only those are emptied, children first. Emptying all of them with ``TRUNCATE … CASCADE``
    cost PostgreSQL ~0.3 s a test (a new file per table and index); this costs a few ms.
    """
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    holding_rows = " UNION ALL ".join(
        f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM \"{name}\")"  # noqa: S608
        for name in tables
    )
    with database.engine.begin() as connection:
        written = set(connection.execute(text(holding_rows)).scalars())
        for name in (t for t in tables if t in written):
            connection.execute(text(f'DELETE FROM "{name}"'))  # noqa: S608
        if database.dialect == "postgresql":
            # Every sequence that handed out a value (a rolled-back insert's too).
            used = connection.execute(
                text("SELECT sequencename FROM pg_sequences WHERE last_value IS NOT NULL")
            ).scalars()
            for sequence in list(used):
                connection.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))


@pytest.fixture
def db(_session_db: Database) -> Iterator[Database]:
    """The test's database, emptied afterwards."""
    yield _session_db
    _empty_all_tables(_session_db)
    _forget_what_processes_keep(_session_db)


def _forget_what_processes_keep(database: Database) -> None:
    """Ids start at 1 again in the emptied tables: what a process keeps per practice (its
    phone country, the copies of order readings) would belong to the next test's practice 1."""
    from optihub.reads import orders as order_reads
    from optihub.services.patients import forget_regions

    forget_regions(database.engine)
    order_reads._copies.pop(database, None)


@pytest.fixture
def backend(db: Database) -> str:
    return db.dialect


@pytest.fixture
def settings(db, tmp_path):
    from optihub.settings import Settings

    return Settings.from_env(
        {
            "OPTIHUB_DATABASE_URL": db.url,
            "OPTIHUB_DATA_DIR": str(tmp_path / "data"),
            "OPTIHUB_PUBLIC_URL": "http://testserver",
            "OPTIHUB_WEBHOOK_ALLOWED_HOSTS": "127.0.0.0/8,localhost",
            "OPTIHUB_RUN_WORKER": "false",
        }
    )


@pytest.fixture
def app(settings, db):
    """The application; a synchronous database or Redis call its requests make on the event
    loop's thread fails the test (``tests/loop_guard.py``), whichever client drives it."""
    from optihub.app import create_app
    from tests.loop_guard import guarded

    with guarded(db) as blocking:
        yield create_app(settings, database=db)
    assert not blocking, "blocking calls on the event loop:\n" + "\n".join(sorted(set(blocking)))


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def issue_token(client):
    """Mint an access token as the authorization server would (for surface tests)."""

    def issue(practice_ids, scope, *, client_id="test-app", subject="user-1", ttl=None):
        ids = [practice_ids] if isinstance(practice_ids, int) else list(practice_ids)
        return client.app.state.tokens.issue_access_token(
            client_id=client_id, subject=subject, scope=scope, practice_ids=ids, ttl=ttl
        ).token

    return issue
