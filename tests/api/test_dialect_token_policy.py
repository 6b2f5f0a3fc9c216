"""One token policy for the dialects' own token calls: the lab-order dialect's
``/v1/oauth/token`` and the portal dialect's ``/api/token`` issue that dialect's scopes
only (refused, in the dialect's error body, to an app registered without them), for the
lifetime the operator set (docs/oauth.md, "One token policy")."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from optihub.app import create_app
from optihub.services import oauth_clients, users
from optihub.settings import Settings
from tests import factories

LAB_SCOPES = {"lab_orders:write", "lab_orders:read", "lab_catalog:read"}
# What the probe found on an app: scopes of every dialect, the broad ones among them.
MANY = "orders:full webhooks:write read:patients fulfillment:write portal:sync " + " ".join(
    sorted(LAB_SCOPES)
)


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


@pytest.fixture
def practice_id(db) -> int:
    with db.transaction() as s:
        return factories.practice(s, "Harbor Optical").id


def register(db, practice_id: int, scope: str) -> tuple[str, str]:
    with db.transaction() as s:
        app = oauth_clients.register_client(
            s, name="Tool", scope=scope, redirect_uris=[], practice_ids=[practice_id]
        )
    return app.client.client_id, app.client_secret or ""


def served(db, tmp_path, **env: str) -> TestClient:
    settings = Settings.from_env(
        {
            "OPTIHUB_DATABASE_URL": db.url,
            "OPTIHUB_DATA_DIR": str(tmp_path / "data"),
            "OPTIHUB_PUBLIC_URL": "https://hub.example.org",
            "OPTIHUB_RUN_WORKER": "false",
            **env,
        }
    )
    app = create_app(settings, database=db)
    return TestClient(app, base_url="https://hub.example.org", raise_server_exceptions=False)


def lab_token(http: TestClient, client_id: str, secret: str) -> Any:
    return http.post("/v1/oauth/token", json={"client_id": client_id, "client_secret": secret})


def portal_token(http: TestClient, client_id: str, secret: str, path: str = "/api/token") -> Any:
    form = {"grant_type": "password", "username": client_id, "password": secret}
    return http.post(path, data=form)


# -- lab-order dialect -------------------------------------------------------------------------


def test_a_lab_token_carries_the_lab_scopes_only(db, tmp_path, practice_id):
    client_id, secret = register(db, practice_id, MANY)
    with served(db, tmp_path) as http:
        response = lab_token(http, client_id, secret)
        assert response.status_code == 200, response.text
        token = response.json()["token"]
        assert set(claims(token)["scope"].split()) == LAB_SCOPES
        # Not a key to the other dialects.
        partner = http.get("/api/v1/partner/orders", headers={"Authorization": f"Bearer {token}"})
        assert partner.status_code == 403, partner.text


def test_a_lab_token_carries_only_the_lab_scopes_the_app_has(db, tmp_path, practice_id):
    client_id, secret = register(db, practice_id, "lab_catalog:read orders:full")
    with served(db, tmp_path) as http:
        response = lab_token(http, client_id, secret)
    assert response.status_code == 200, response.text
    assert claims(response.json()["token"])["scope"] == "lab_catalog:read"


def test_an_app_without_lab_scopes_gets_no_lab_token(db, tmp_path, practice_id):
    client_id, secret = register(db, practice_id, "orders:full webhooks:write portal:sync")
    with served(db, tmp_path) as http:
        response = lab_token(http, client_id, secret)
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["type"] == "permission_error"
    assert error["code"] == "insufficient_scope"
    assert "lab_orders:write" in error["message"]
    assert "token" not in response.json()


@pytest.mark.parametrize(
    ("env", "lifetime"),
    [
        ({}, 24 * 3600),  # the vendor's documented lifetime, by default
        ({"OPTIHUB_ACCESS_TOKEN_TTL_LABS": "1800"}, 1800),
        ({"OPTIHUB_ACCESS_TOKEN_TTL": "600", "OPTIHUB_ACCESS_TOKEN_TTL_LABS": "7200"}, 7200),
    ],
)
def test_a_lab_token_lives_as_long_as_the_operator_says(db, tmp_path, practice_id, env, lifetime):
    client_id, secret = register(db, practice_id, " ".join(sorted(LAB_SCOPES)))
    with served(db, tmp_path, **env) as http:
        response = lab_token(http, client_id, secret)
    assert response.status_code == 200, response.text
    token = claims(response.json()["token"])
    assert token["exp"] - token["iat"] == lifetime


# -- portal dialect ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/token", "/token"])
def test_a_portal_token_carries_portal_sync_only(db, tmp_path, practice_id, path):
    client_id, secret = register(db, practice_id, MANY)
    with served(db, tmp_path) as http:
        response = portal_token(http, client_id, secret, path)
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        assert claims(token)["scope"] == "portal:sync"
        lab = http.get(
            "/v1/labs", headers={"Authorization": f"Bearer {token}", "User-Email": "x@y.example"}
        )
        assert lab.status_code == 403, lab.text


def test_an_app_without_portal_sync_gets_no_portal_token(db, tmp_path, practice_id):
    client_id, secret = register(db, practice_id, "orders:full webhooks:write lab_orders:write")
    with served(db, tmp_path) as http:
        response = portal_token(http, client_id, secret)
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == "invalid_scope"
    assert "portal:sync" in body["error_description"]


@pytest.mark.parametrize(
    ("env", "lifetime"),
    [
        ({}, 900),  # OPTIHUB_ACCESS_TOKEN_TTL's default, as every OAuth token
        ({"OPTIHUB_ACCESS_TOKEN_TTL": "1200"}, 1200),
        ({"OPTIHUB_ACCESS_TOKEN_TTL": "1200", "OPTIHUB_ACCESS_TOKEN_TTL_PORTAL": "600"}, 600),
    ],
)
def test_a_portal_token_lives_as_long_as_the_operator_says(
    db, tmp_path, practice_id, env, lifetime
):
    client_id, secret = register(db, practice_id, "portal:sync")
    with served(db, tmp_path, **env) as http:
        response = portal_token(http, client_id, secret)
    assert response.status_code == 200, response.text
    assert response.json()["expires_in"] == lifetime
    token = claims(response.json()["access_token"])
    assert token["exp"] - token["iat"] == lifetime


# -- fulfillment dialect (its sign-in) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "lifetime"),
    [
        ({}, 3600),  # the vendor's documented 60 minutes
        ({"OPTIHUB_ACCESS_TOKEN_TTL_FULFILLMENT": "1500"}, 1500),
    ],
)
def test_a_fulfillment_sign_in_lives_as_long_as_the_operator_says(
    db, tmp_path, practice_id, env, lifetime
):
    with db.transaction() as s:
        users.create_user(
            s,
            email="dana@harbor.example",
            password="harbor-pass-1",
            practice_id=practice_id,
            role="staff",
        )
    with served(db, tmp_path, **env) as http:
        signed_in = http.post(
            "/fulfillment/v1/auth/login",
            json={"email": "dana@harbor.example", "password": "harbor-pass-1"},
        )
        assert signed_in.status_code == 200, signed_in.text
        refreshed = http.post(
            "/fulfillment/v1/auth/refresh",
            headers={"Authorization": f"Bearer {signed_in.json()['refresh_token']}"},
        )
        assert refreshed.status_code == 200, refreshed.text
    for response in (signed_in, refreshed):
        token = claims(response.json()["access_token"])
        assert token["exp"] - token["iat"] == lifetime
        assert token["scope"] == "fulfillment:read fulfillment:write"


# -- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OPTIHUB_ACCESS_TOKEN_TTL_LAB": "60"}, "OPTIHUB_ACCESS_TOKEN_TTL_LAB"),
        ({"OPTIHUB_ACCESS_TOKEN_TTL_LABS": "a day"}, "OPTIHUB_ACCESS_TOKEN_TTL_LABS"),
        ({"OPTIHUB_ACCESS_TOKEN_TTL_PORTAL": "0"}, "OPTIHUB_ACCESS_TOKEN_TTL_PORTAL"),
        ({"OPTIHUB_ACCESS_TOKEN_TTL": "-5"}, "OPTIHUB_ACCESS_TOKEN_TTL"),
    ],
)
def test_a_lifetime_setting_that_cannot_be_right_stops_the_start(env, named):
    with pytest.raises(ValueError, match=named):
        Settings.from_env({"OPTIHUB_DATABASE_URL": "sqlite://", **env})
