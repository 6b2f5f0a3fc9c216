"""Resource-side bearer checks shared by every surface (token → principal → scope)."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import Depends
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from optihub.auth.resource import AuthError, Principal, require_scopes, route_scopes
from optihub.services.oauth_tokens import revoke_access_token

OrdersRead = Annotated[Principal, Depends(require_scopes("orders:read"))]


@pytest.fixture
def probe(app):
    @app.exception_handler(AuthError)
    async def render(_request, exc: AuthError):
        return JSONResponse(
            {"error": exc.error, "scope": exc.scope},
            status_code=exc.status_code,
            headers={"WWW-Authenticate": exc.www_authenticate},
        )

    @app.get("/probe")
    def read(principal: OrdersRead) -> dict:
        return {"practice": principal.practice_ids[0], "client": principal.client_id}

    with TestClient(app) as client:
        yield client


def test_valid_token_reaches_the_route(probe, issue_token):
    token = issue_token(7, "orders:read")
    response = probe.get("/probe", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {"practice": 7, "client": "test-app"}


def test_broader_scope_includes_the_narrower_one(probe, issue_token):
    token = issue_token(7, "orders:full")
    assert probe.get("/probe", headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer not-a-jwt", "Bearer a.b.c"],
)
def test_missing_or_malformed_token_is_401_with_www_authenticate(probe, header):
    headers = {"Authorization": header} if header else {}
    response = probe.get("/probe", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_missing_scope_is_403_naming_it(probe, issue_token):
    token = issue_token(7, "frames:read")
    response = probe.get("/probe", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json() == {"error": "insufficient_scope", "scope": "orders:read"}
    assert 'scope="orders:read"' in response.headers["www-authenticate"]


def test_expired_token_is_401(probe, issue_token, app):
    import time

    from joserfc import jwt

    tokens = app.state.tokens
    key = tokens.keyring.signing_key
    now = int(time.time())
    claims = {
        "iss": tokens.issuer,
        "aud": tokens.audience,
        "sub": "u",
        "client_id": "c",
        "iat": now - 600,
        "exp": now - 120,
        "jti": "old",
        "scope": "orders:read",
        "practice_ids": [7],
    }
    expired = jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": key.kid}, claims, key)
    response = probe.get("/probe", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert "expired" in response.headers["www-authenticate"]


def test_foreign_audience_and_foreign_signature_are_401(probe, app):
    import time

    from joserfc import jwt
    from joserfc.jwk import ECKey

    tokens = app.state.tokens
    now = int(time.time())
    base = {
        "iss": tokens.issuer,
        "sub": "u",
        "client_id": "c",
        "iat": now,
        "exp": now + 60,
        "jti": "x1",
        "scope": "orders:read",
        "practice_ids": [7],
    }
    key = tokens.keyring.signing_key
    other_aud = jwt.encode(
        {"alg": "ES256", "typ": "at+jwt", "kid": key.kid},
        base | {"aud": "https://elsewhere.example/api"},
        key,
    )
    stranger = ECKey.generate_key("P-256", parameters={"kid": key.kid})
    forged = jwt.encode(
        {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}, base | {"aud": tokens.audience}, stranger
    )
    for token in (other_aud, forged):
        response = probe.get("/probe", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401


def test_revoked_token_is_refused_after_the_revocation_refresh(probe, issue_token, app, db):
    access = app.state.tokens.issue_access_token(
        client_id="c", subject="u", scope="orders:read", practice_ids=[7]
    )
    headers = {"Authorization": f"Bearer {access.token}"}
    assert probe.get("/probe", headers=headers).status_code == 200
    with db.transaction() as session:
        revoke_access_token(session, access.jti, access.expires_at)
    app.state.tokens.revocations.refresh()
    response = probe.get("/probe", headers=headers)
    assert response.status_code == 401
    assert "revoked" in response.headers["www-authenticate"]


def test_token_in_query_string_is_refused(probe, issue_token):
    token = issue_token(7, "orders:read")
    response = probe.get(f"/probe?access_token={token}")
    assert response.status_code == 401
    assert 'error="invalid_request"' in response.headers["www-authenticate"]


def test_route_table_enumerates_declared_scopes(probe, app):
    assert route_scopes(app.routes)[("GET", "/probe")] == ("orders:read",)


def test_jwks_rotation_keeps_old_tokens_valid(probe, issue_token, app, db):
    from optihub.auth.keys import create_signing_key

    old = issue_token(7, "orders:read")
    with db.transaction() as session:
        create_signing_key(session, app.state.instance_key)
    app.state.tokens.keyring.load()
    new = issue_token(7, "orders:read")
    for token in (old, new):
        assert probe.get("/probe", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert len(app.state.tokens.keyring.jwks()["keys"]) == 2


def test_retired_key_leaves_the_jwks_and_its_tokens_stop_verifying(probe, issue_token, app, db):
    from optihub.auth.keys import create_signing_key, retire_signing_key

    old_kid = app.state.tokens.keyring.signing_key.kid
    old = issue_token(7, "orders:read")
    with db.transaction() as session:
        create_signing_key(session, app.state.instance_key)
        retire_signing_key(session, old_kid)
    app.state.tokens.keyring.load()
    assert old_kid not in {k["kid"] for k in app.state.tokens.keyring.jwks()["keys"]}
    assert probe.get("/probe", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    new = issue_token(7, "orders:read")
    assert probe.get("/probe", headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_a_token_signed_with_a_key_another_node_just_made_is_accepted_at_once(probe, app, db):
    """Key rotation on a group of nodes: one node runs `optihub keys rotate` and signs with
    the new key; a node that has not reloaded its keys yet reloads them when a token names
    the unknown key and answers that very request (it used to refuse it with a 401)."""
    import time

    from optihub.auth.keys import KeyRing, create_signing_key
    from optihub.auth.tokens import TokenService

    ours = app.state.tokens
    ours.keyring.load()
    with db.transaction() as session:
        create_signing_key(session, app.state.instance_key)
    other = TokenService(
        KeyRing(db, app.state.instance_key),
        ours.revocations,
        issuer=ours.issuer,
        audience=ours.audience,
    )
    token = other.issue_access_token(
        client_id="test-app", subject="user-1", scope="orders:read", practice_ids=[7]
    ).token
    time.sleep(1.1)  # the early reload for an unknown key id is at most once a second
    answer = probe.get("/probe", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    # A token naming a key nobody has is still refused.
    forged = token.split(".")
    assert (
        probe.get(
            "/probe", headers={"Authorization": f"Bearer {forged[0]}.{forged[1]}.AAAA"}
        ).status_code
        == 401
    )
