"""Every rule of the authorization server, each from the side a client or user sees."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from optihub.db.models import OAuthAuthorizationCode, OAuthClient
from optihub.services import oauth_clients
from tests.api.oauth.conftest import as_form, csrf_of, hidden_fields, pkce_pair, query_of


def authorize_url(world, challenge="", method="S256", **extra):
    params = {
        "response_type": "code",
        "client_id": world.client_id,
        "redirect_uri": world.redirect_uri,
        "scope": "openid orders:read",
        "state": "st-123",
    }
    if challenge:
        params["code_challenge"] = challenge
    if method:
        params["code_challenge_method"] = method
    params.update(extra)
    return "/oauth/authorize?" + httpx.QueryParams(params).__str__()


def get_code(browser, world, *, challenge, **extra):
    browser.login(world.email)
    answer = browser.authorize(
        authorize_url(world, challenge, **extra), practice_id=world.practice_id
    )
    assert answer.status_code == 303, answer.text
    return query_of(answer.headers["location"])["code"]


def exchange(http, world, code, verifier, **extra):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": world.redirect_uri}
    if verifier is not None:
        data["code_verifier"] = verifier
    data.update(extra)
    return http.post("/oauth/token", data=data, auth=(world.client_id, world.client_secret))


# --- PKCE --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("challenge", "method", "why"),
    [
        ("", "", "PKCE is required"),
        ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "plain", "must be S256"),
        ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "", "must be S256"),
    ],
)
def test_authorize_without_s256_pkce_is_refused_to_the_redirect_uri(
    live_server, world, browser, challenge, method, why
):
    browser.login(world.email)
    response = browser.http.get(authorize_url(world, challenge, method))
    assert response.status_code == 303
    params = query_of(response.headers["location"])
    assert response.headers["location"].startswith(world.redirect_uri)
    assert params["error"] == "invalid_request"
    assert why in params["error_description"]
    assert params["state"] == "st-123"
    assert params["iss"] == live_server.url


def test_wrong_verifier_and_missing_verifier_are_refused(live_server, world, browser):
    verifier, challenge = pkce_pair()
    code = get_code(browser, world, challenge=challenge)
    missing = exchange(browser.http, world, code, None)
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    code = get_code(browser, world, challenge=challenge)
    wrong = exchange(browser.http, world, code, "x" * 50)
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    good = exchange(browser.http, world, get_code(browser, world, challenge=challenge), verifier)
    assert good.status_code == 200
    assert good.headers["cache-control"] == "no-store"
    assert good.headers["pragma"] == "no-cache"


def test_verifier_without_a_challenge_is_refused(live_server, world, browser, db):
    verifier, challenge = pkce_pair()
    code = get_code(browser, world, challenge=challenge)
    with db.transaction() as s:
        s.execute(update(OAuthAuthorizationCode).values(code_challenge=""))
    response = exchange(browser.http, world, code, verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


# --- codes -------------------------------------------------------------------------------


def test_code_is_single_use_and_reuse_revokes_what_it_issued(live_server, world, browser):
    verifier, challenge = pkce_pair()
    code = get_code(browser, world, challenge=challenge)
    first = exchange(browser.http, world, code, verifier)
    assert first.status_code == 200
    again = exchange(browser.http, world, code, verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    introspection = browser.http.post(
        "/oauth/introspect",
        data={"token": first.json()["refresh_token"]},
        auth=(world.client_id, world.client_secret),
    )
    assert introspection.json() == {"active": False}
    live_server.app.state.tokens.revocations.refresh()
    me = browser.http.get(
        "/oauth/userinfo", headers={"Authorization": f"Bearer {first.json()['access_token']}"}
    )
    assert me.status_code == 401


def test_codes_live_at_most_60_seconds(live_server, world, browser, db):
    verifier, challenge = pkce_pair()
    code = get_code(browser, world, challenge=challenge)
    with db.transaction() as s:
        row = s.scalars(select(OAuthAuthorizationCode)).one()
        assert row.expires_at - row.auth_time <= timedelta(seconds=60)
        row.expires_at = row.auth_time - timedelta(seconds=1)
    response = exchange(browser.http, world, code, verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


# --- redirect URIs -------------------------------------------------------------------------


def test_unregistered_redirect_uri_is_shown_here_not_redirected(live_server, world, browser):
    browser.login(world.email)
    url = authorize_url(world, pkce_pair()[1], redirect_uri="https://evil.example/cb")
    response = browser.http.get(url)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "not valid" in response.text


def test_token_redirect_uri_must_match_the_authorization(live_server, world, browser):
    verifier, challenge = pkce_pair()
    code = get_code(browser, world, challenge=challenge)
    response = exchange(
        browser.http, world, code, verifier, redirect_uri="https://lab.example/other"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_loopback_redirect_uri_may_use_any_port(live_server, world, browser):
    verifier, challenge = pkce_pair()
    code = get_code(browser, world, challenge=challenge, redirect_uri="http://127.0.0.1:53682/cb")
    response = exchange(
        browser.http, world, code, verifier, redirect_uri="http://127.0.0.1:53682/cb"
    )
    assert response.status_code == 200
    browser.login(world.email)
    other_path = browser.http.get(
        authorize_url(world, challenge, redirect_uri="http://127.0.0.1:53682/elsewhere")
    )
    assert other_path.status_code == 400


# --- grants and response types refused ---------------------------------------------------------


def test_implicit_and_password_grants_are_refused(live_server, world, browser):
    browser.login(world.email)
    implicit = browser.http.get(authorize_url(world, pkce_pair()[1], response_type="token"))
    assert implicit.status_code == 303
    assert query_of(implicit.headers["location"])["error"] == "unsupported_response_type"
    password = browser.http.post(
        "/oauth/token",
        data={"grant_type": "password", "username": world.email, "password": "x"},
        auth=(world.client_id, world.client_secret),
    )
    assert password.status_code == 400
    assert password.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize("scope", ["openid webhooks:write", "openid teleport"])
def test_unregistered_or_unknown_scope_is_refused(live_server, world, browser, scope):
    browser.login(world.email)
    response = browser.http.get(authorize_url(world, pkce_pair()[1], scope=scope))
    assert response.status_code == 303
    assert query_of(response.headers["location"])["error"] == "invalid_scope"


def test_deny_redirects_access_denied_with_state(live_server, world, browser):
    browser.login(world.email)
    answer = browser.authorize(authorize_url(world, pkce_pair()[1]), decision="deny")
    params = query_of(answer.headers["location"])
    assert params["error"] == "access_denied"
    assert params["state"] == "st-123"


def test_wrong_client_secret_is_invalid_client(live_server, world, browser):
    verifier, challenge = pkce_pair()
    code = get_code(browser, world, challenge=challenge)
    response = browser.http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": world.redirect_uri,
        },
        auth=(world.client_id, "not-the-secret"),
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


# --- client credentials ---------------------------------------------------------------------


def test_client_credentials_act_for_connected_practices_only(live_server, world, browser, db):
    http = browser.http
    token = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "orders:read"},
        auth=(world.client_id, world.client_secret),
    )
    assert token.status_code == 200
    assert "refresh_token" not in token.json()
    claims = live_server.app.state.tokens.verify(token.json()["access_token"])
    assert claims.practice_ids == (world.practice_id,)
    assert claims.subject == world.client_id
    foreign = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "practice_id": str(world.other_practice_id)},
        auth=(world.client_id, world.client_secret),
    )
    assert foreign.status_code == 400
    assert foreign.json()["error"] == "invalid_request"
    with db.transaction() as s:
        lonely = oauth_clients.register_client(
            s, name="Unconnected", scope="orders:read", redirect_uris=[]
        )
    unconnected = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(lonely.client.client_id, lonely.client_secret),
    )
    assert unconnected.status_code == 400
    assert unconnected.json()["error"] == "unauthorized_client"


# --- resource side ----------------------------------------------------------------------------


def test_userinfo_needs_openid_and_refuses_query_string_tokens(live_server, world, browser):
    token = live_server.app.state.tokens.issue_access_token(
        client_id=world.client_id,
        subject="x",
        scope="orders:read",
        practice_ids=[world.practice_id],
    ).token
    response = browser.http.get("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert 'scope="openid"' in response.headers["www-authenticate"]
    query = browser.http.get(f"/oauth/userinfo?access_token={token}")
    assert query.status_code == 401
    assert 'error="invalid_request"' in query.headers["www-authenticate"]


# --- metadata ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]
)
def test_metadata_documents(live_server, browser, path):
    from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

    document = browser.http.get(path).json()
    AuthorizationServerMetadata(document).validate()
    assert document["issuer"] == live_server.url
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["response_types_supported"] == ["code"]
    assert set(document["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
    }
    assert "orders:read" in document["scopes_supported"]
    assert "read:patients" in document["scopes_supported"]
    assert document["authorization_response_iss_parameter_supported"] is True
    jwks = browser.http.get(document["jwks_uri"].removeprefix(live_server.url)).json()
    assert jwks["keys"][0]["alg"] == "ES256"
    assert "d" not in jwks["keys"][0]


def test_introspection_requires_client_authentication(live_server, world, browser):
    response = browser.http.post("/oauth/introspect", data={"token": "anything"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


# --- pages: CSRF, throttling, connected apps, developer apps ------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/login", "/logout", "/oauth/authorize", "/account/developer", "/account/apps/x/revoke"],
)
def test_every_form_refuses_a_missing_or_wrong_csrf_token(live_server, world, browser, path):
    browser.login(world.email)
    for token in (None, "forged"):
        data = {"email": world.email, "password": "x"} | ({"csrf_token": token} if token else {})
        response = browser.http.post(path, data=data)
        assert response.status_code == 403, path
        assert "form expired" in response.text.lower()


def test_session_cookie_flags_and_303_after_post(live_server, world, browser):
    response = browser.login(world.email)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # served over http here; https sets it


def test_login_is_throttled_after_repeated_failures(live_server, world, browser):
    for _ in range(5):
        assert browser.login(world.email, password="wrong-password").status_code == 401
    blocked = browser.login(world.email)  # even the right password waits now
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in blocked.text


def test_connected_apps_lists_and_revokes(live_server, world, browser):
    verifier, challenge = pkce_pair()
    code = get_code(browser, world, challenge=challenge)
    tokens = exchange(browser.http, world, code, verifier).json()
    page = browser.http.get("/account/apps")
    assert "Acme Lab Connector" in page.text
    assert "Harbor Optical" in page.text
    form = dict(hidden_fields(page.text))
    revoked = browser.http.post(f"/account/apps/{world.client_id}/revoke", data=form)
    assert revoked.status_code == 303
    assert "Acme Lab Connector" not in browser.http.get("/account/apps").text
    refresh = browser.http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(world.client_id, world.client_secret),
    )
    assert refresh.status_code == 400
    live_server.app.state.tokens.revocations.refresh()
    me = browser.http.get(
        "/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 401


def test_developer_page_creates_an_app_and_shows_the_secret_once(live_server, world, browser, db):
    browser.login(world.email)
    page = browser.http.get("/dashboard/apps")  # the developer page moved there
    created = browser.http.post(
        "/account/developer",
        data=as_form(
            [
                ("csrf_token", csrf_of(page.text)),
                ("name", "Front Desk Sync"),
                ("redirect_uris", "https://sync.example/cb"),
                ("scope", "orders:read"),
                ("scope", "frames:read"),
                ("client_type", "confidential"),
            ]
        ),
    )
    assert created.status_code == 303
    shown = browser.http.get("/dashboard/apps").text
    assert "shown this once" in shown
    with db.transaction() as s:
        client = s.scalars(select(OAuthClient).where(OAuthClient.name == "Front Desk Sync")).one()
        assert client.client_secret_hash.startswith("$argon2")
        assert client.scope == "orders:read frames:read"
    assert client.client_id in shown
    again = browser.http.get("/dashboard/apps").text
    assert "shown this once" not in again


def test_consent_page_cannot_be_framed(live_server, world, browser):
    browser.login(world.email)
    page = browser.http.get(authorize_url(world, pkce_pair()[1]))
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_client_create_prints_the_secret_once_as_json(tmp_path):
    import os

    env = dict(
        os.environ,
        OPTIHUB_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}",
        OPTIHUB_DATA_DIR=str(tmp_path),
    )
    run = lambda *a: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "optihub", *a], env=env, capture_output=True, text=True, check=True
    )
    run("practice", "create", "--name", "Lakeside Vision")
    confidential = json.loads(
        run(
            "client",
            "create",
            "--name",
            "Lab Sync",
            "--scope",
            "orders:read frames:read",
            "--redirect-uri",
            "https://lab.example/cb",
            "--practice",
            "1",
            "--json",
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert confidential["client_id"].startswith("app_")
    assert len(confidential["client_secret"]) >= 40
    public = json.loads(
        run(
            "client",
            "create",
            "--name",
            "Tablet",
            "--scope",
            "openid",
            "--public",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--json",
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert public["client_secret"] is None
