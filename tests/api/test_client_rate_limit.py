"""An app's own rate (``optihub client rate-limit``) replaces a surface's default rate for
that app only, per module, with the usual 429 and Retry-After."""

from __future__ import annotations

import json
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import select
from typer.testing import CliRunner

from optihub.auth.resource import Principal, require_scopes
from optihub.cli import app as cli
from optihub.db.models import OAuthClient
from optihub.services.oauth_clients import register_client
from optihub.surfaces import kit
from tests import factories

router = APIRouter()
Reader = Annotated[Principal, Depends(require_scopes("orders:read"))]


@router.get("/things")
async def things(principal: Reader):
    return {"by": principal.client_id}


@router.get("/other")
async def other(principal: Reader):
    return {"by": principal.client_id}


class RatedError(BaseModel):
    kind: str


RATED = kit.Surface(
    name="rated",
    prefix="/rated/v1",
    router=router,
    envelope=lambda problem: {"kind": problem.code},
    error_model=RatedError,
    scopes={("GET", "/things"): "orders:read", ("GET", "/other"): "orders:read"},
    rate_limit="5/minute",
)


def _register(db, rate: str | None) -> str:
    with db.transaction() as s:
        client = register_client(
            s, name="Lab link", scope="orders:read", redirect_uris=["https://lab.example/cb"]
        ).client
        client.rate_limit = rate
        return client.client_id


@pytest.fixture
def rated(app, db, issue_token):
    RATED.install(app)
    with db.transaction() as s:
        practice = factories.practice(s)
    slow = _register(db, "3/minute")
    plain = _register(db, None)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield (
            client,
            {
                "slow": issue_token(practice.id, "orders:read", client_id=slow),
                "plain": issue_token(practice.id, "orders:read", client_id=plain),
            },
        )


def _get(client, token, path="/rated/v1/things"):
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def test_a_client_with_its_own_rate_gets_429_after_it(rated):
    client, tokens = rated
    statuses = [_get(client, tokens["slow"]).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = _get(client, tokens["slow"])
    assert limited.json() == {"kind": "rate_limited"}
    assert 1 <= int(limited.headers["retry-after"]) <= 61
    # its own rate is still per module
    assert _get(client, tokens["slow"], "/rated/v1/other").status_code == 200


def test_a_client_without_one_keeps_the_surface_default(rated):
    client, tokens = rated
    statuses = [_get(client, tokens["plain"]).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]


def _cli(db, monkeypatch, *args):
    monkeypatch.setenv("OPTIHUB_DATABASE_URL", db.url)
    return CliRunner().invoke(cli, ["client", "rate-limit", *args])


def _stored(db, client_id):
    with db.reading() as r:
        return r.scalar(select(OAuthClient.rate_limit).where(OAuthClient.client_id == client_id))


def test_cli_sets_and_clears_a_clients_rate(db, monkeypatch, tmp_path):
    monkeypatch.setenv("OPTIHUB_DATA_DIR", str(tmp_path))
    client_id = _register(db, None)
    result = _cli(db, monkeypatch, client_id, "250/minute", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "client_id": client_id,
        "rate_limit": "250/minute",
    }
    assert _stored(db, client_id) == "250/minute"

    human = _cli(db, monkeypatch, client_id, "10/second")
    assert human.exit_code == 0
    assert human.stdout.strip() == f"{client_id}: 10/second"
    assert _stored(db, client_id) == "10/second"

    assert _cli(db, monkeypatch, client_id, "default").exit_code == 0
    assert _stored(db, client_id) is None
    _cli(db, monkeypatch, client_id, "3/minute")
    cleared = _cli(db, monkeypatch, client_id, "--clear", "--json")
    assert json.loads(cleared.stdout.splitlines()[-1])["rate_limit"] is None
    assert _stored(db, client_id) is None


@pytest.mark.parametrize("rate", ["fast", "0/minute", "1/second;5/minute"])
def test_cli_refuses_what_is_not_one_rate(db, monkeypatch, tmp_path, rate):
    monkeypatch.setenv("OPTIHUB_DATA_DIR", str(tmp_path))
    client_id = _register(db, "3/minute")
    result = _cli(db, monkeypatch, client_id, rate)
    assert result.exit_code == 1
    assert "rate: " in result.output
    assert _stored(db, client_id) == "3/minute"


def test_cli_refuses_an_unknown_client(db, monkeypatch, tmp_path):
    monkeypatch.setenv("OPTIHUB_DATA_DIR", str(tmp_path))
    result = _cli(db, monkeypatch, "app_nope", "5/minute")
    assert result.exit_code == 1
    assert "App app_nope not found" in result.output
