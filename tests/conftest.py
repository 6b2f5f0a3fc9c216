"""Shared fixtures.

Every test that touches storage runs on SQLite, and again on PostgreSQL when
OPTIHUB_TEST_DATABASE_URL points at a server (``make test`` starts one). Each backend is
migrated once per test process with Alembic; after each test every table is emptied, so
tests may commit freely (the webhook worker and HTTP servers need real commits).
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
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as connection:
        if database.dialect == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f'DELETE FROM "{table}"'))  # noqa: S608


@pytest.fixture
def db(_session_db: Database) -> Iterator[Database]:
    """The test's database, emptied afterwards."""
    yield _session_db
    _empty_all_tables(_session_db)


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
    from optihub.app import create_app

    return create_app(settings, database=db)


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
