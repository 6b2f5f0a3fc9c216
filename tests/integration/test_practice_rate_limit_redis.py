"""The practice surface's budget (100 requests a minute per module and OAuth client) is
shared by every OptiHub process pointing at one Redis: two app instances (two processes'
worth of state: their own limiter, client-rate cache and token verifier) over one
database and one Redis, requests spread over both.

Runs against the throw-away Redis `make test` starts (OPTIHUB_TEST_REDIS_URL), like
tests/integration/test_shared_rate_limits.py; skipped without it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from optihub.cli import app as cli
from optihub.services.oauth_clients import register_client
from tests import factories

REDIS_URL = os.environ.get("OPTIHUB_TEST_REDIS_URL", "")
pytestmark = pytest.mark.skipif(
    not REDIS_URL, reason="no Redis (make test starts one when redis-server is installed)"
)


def _settings(db: Any, data_dir: Any) -> Any:
    from optihub.settings import Settings

    return Settings.from_env(
        {
            "OPTIHUB_DATABASE_URL": db.url,
            "OPTIHUB_DATA_DIR": str(data_dir),
            "OPTIHUB_PUBLIC_URL": "http://testserver",
            "OPTIHUB_REDIS_URL": REDIS_URL,
            "OPTIHUB_RUN_WORKER": "false",
        }
    )


@pytest.fixture
def two(db, tmp_path) -> Iterator[tuple[TestClient, TestClient]]:
    """Two OptiHub app instances sharing the database, the data directory and Redis."""
    from optihub.app import create_app

    settings = _settings(db, tmp_path / "data")
    first, second = create_app(settings, database=db), create_app(settings, database=db)
    with (
        TestClient(first, raise_server_exceptions=False) as a,
        TestClient(second, raise_server_exceptions=False) as b,
    ):
        yield a, b


@pytest.fixture
def practice_id(db) -> int:
    with db.transaction() as s:
        practice = factories.practice(s, "Harbor Optical")
        factories.location(s, practice.id, "Main Street")
        return practice.id


def _app(db, rate: str | None = None) -> str:
    """A registered app (a fresh client id: Redis windows of other runs never collide)."""
    with db.transaction() as s:
        client = register_client(
            s, name="Practice link", scope="read:stores", redirect_uris=["https://x.example/cb"]
        ).client
        client.rate_limit = rate
        return client.client_id


def _token(client: TestClient, practice_id: int, client_id: str) -> str:
    return client.app.state.tokens.issue_access_token(  # type: ignore[attr-defined]
        client_id=client_id,
        subject="user-1",
        scope="read:stores read:patients read:pricebooks:frames",
        practice_ids=[practice_id],
    ).token


def _get(client: TestClient, practice_id: int, token: str, path: str) -> Any:
    return client.get(f"/v2/{practice_id}{path}", headers={"Authorization": f"Bearer {token}"})


def test_two_processes_share_the_practice_budget_per_module(db, two, practice_id):
    a, b = two
    client_id = _app(db)
    token = _token(a, practice_id, client_id)
    # 100 requests in one module, alternating between the two processes.
    statuses = [
        _get(a if i % 2 else b, practice_id, token, "/stores").status_code for i in range(100)
    ]
    assert statuses == [200] * 100
    for process in (a, b):
        refused = _get(process, practice_id, token, "/stores")
        assert refused.status_code == 429
        assert refused.json() == {
            "status": "ERROR",
            "message": refused.json()["message"],
            "error": {"statusCode": 429, "isOperational": True},
        }
        assert 1 <= int(refused.headers["retry-after"]) <= 61
    # The module's single-object route shares the budget; other modules have their own.
    assert _get(b, practice_id, token, "/stores/not-a-guid").status_code == 429
    assert _get(a, practice_id, token, "/patients").status_code == 200
    assert _get(b, practice_id, token, "/pricebooks/frames").status_code == 200
    # Another app of the same practice is not affected.
    other = _token(b, practice_id, _app(db))
    assert _get(a, practice_id, other, "/stores").status_code == 200


def _rate_limit(db, monkeypatch, tmp_path, *args: str) -> None:
    monkeypatch.setenv("OPTIHUB_DATABASE_URL", db.url)
    monkeypatch.setenv("OPTIHUB_DATA_DIR", str(tmp_path / "cli"))
    result = CliRunner().invoke(cli, ["client", "rate-limit", *args])
    assert result.exit_code == 0, result.output


def test_an_apps_own_rate_lowers_the_practice_limit_across_processes(
    db, two, practice_id, monkeypatch, tmp_path
):
    a, b = two
    client_id = _app(db)
    _rate_limit(db, monkeypatch, tmp_path, client_id, "5/minute")
    token = _token(a, practice_id, client_id)
    statuses = [
        _get(a if i % 2 else b, practice_id, token, "/stores").status_code for i in range(6)
    ]
    assert statuses == [200] * 5 + [429]
    assert _get(a, practice_id, token, "/stores").status_code == 429
    # Still per module.
    assert _get(b, practice_id, token, "/patients").status_code == 200


def test_an_apps_own_rate_raises_the_practice_limit(db, two, practice_id, monkeypatch, tmp_path):
    a, b = two
    client_id = _app(db)
    _rate_limit(db, monkeypatch, tmp_path, client_id, "120/minute")
    token = _token(a, practice_id, client_id)
    statuses = [
        _get(a if i % 2 else b, practice_id, token, "/stores").status_code for i in range(121)
    ]
    assert statuses == [200] * 120 + [429]
