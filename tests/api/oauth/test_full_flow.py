"""The whole authorization-code journey with a real OAuth client library (Authlib's httpx
client): PKCE authorize → login → consent → code → tokens → protected call → refresh
(rotated) → revoke."""

from __future__ import annotations

import pytest
from authlib.integrations.base_client.errors import OAuthError as OAuth2Error
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.api.oauth.conftest import query_of


def test_authorization_code_flow_end_to_end(live_server, world, browser):
    base = live_server.url
    client = OAuth2Client(
        client_id=world.client_id,
        client_secret=world.client_secret,
        redirect_uri=world.redirect_uri,
        scope="openid email profile orders:read",
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    verifier = "v" * 20 + "-" + "x" * 40
    url, state = client.create_authorization_url(
        f"{base}/oauth/authorize", code_verifier=verifier, nonce="n-0S6_WzA2Mj"
    )

    # Not signed in: sent to the login page, then back to the authorization request.
    first = browser.http.get(url)
    assert first.status_code == 303
    assert first.headers["location"].startswith("/login?next=")
    signed_in = browser.login(world.email, next_url=url.removeprefix(base))
    assert signed_in.status_code == 303
    assert signed_in.headers["location"].startswith("/oauth/authorize?")

    consent = browser.http.get(signed_in.headers["location"])
    assert "Acme Lab Connector" in consent.text
    assert "Read the practice&#39;s orders" in consent.text
    assert consent.headers["content-security-policy"].startswith("frame-ancestors 'none'")
    answer = browser.authorize(signed_in.headers["location"], practice_id=world.practice_id)
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(world.redirect_uri)
    params = query_of(location)
    assert params["state"] == state
    assert params["iss"] == base

    token = client.fetch_token(
        f"{base}/oauth/token", authorization_response=location, code_verifier=verifier
    )
    assert token["token_type"].lower() == "bearer"
    assert token["expires_in"] == 900
    assert token["refresh_token"]
    keys = KeySet.import_key_set(client.get(f"{base}/oauth/jwks").json())
    access = jwt.decode(token["access_token"], keys)
    assert access.header["typ"] == "at+jwt"
    assert access.claims["practice_ids"] == [world.practice_id]
    assert access.claims["client_id"] == world.client_id
    assert set(access.claims["scope"].split()) == {"openid", "email", "profile", "orders:read"}
    id_token = jwt.decode(token["id_token"], keys)
    assert id_token.claims["aud"] == world.client_id
    assert id_token.claims["nonce"] == "n-0S6_WzA2Mj"
    assert id_token.claims["email"] == world.email

    # A protected route with the access token.
    me = client.get(f"{base}/oauth/userinfo")
    assert me.status_code == 200
    assert me.json()["email"] == world.email
    assert me.json()["name"] == "Dana Whitfield"

    # Refresh: a new pair; the old refresh token is now refused.
    old_refresh = token["refresh_token"]
    refreshed = client.refresh_token(f"{base}/oauth/token", refresh_token=old_refresh)
    assert refreshed["refresh_token"] != old_refresh
    assert refreshed["access_token"] != token["access_token"]
    with pytest.raises(OAuth2Error) as reuse:
        client.refresh_token(f"{base}/oauth/token", refresh_token=old_refresh)
    assert reuse.value.error == "invalid_grant"

    # The reuse revoked the whole family, the rotated-in pair included.
    introspection = client.post(
        f"{base}/oauth/introspect",
        data={"token": refreshed["refresh_token"]},
        auth=(world.client_id, world.client_secret),
    )
    assert introspection.json() == {"active": False}


def test_revoke_ends_access_within_the_refresh_interval(live_server, world, browser):
    base = live_server.url
    client = OAuth2Client(
        client_id=world.client_id,
        client_secret=world.client_secret,
        redirect_uri=world.redirect_uri,
        scope="openid orders:read",
        code_challenge_method="S256",
    )
    verifier = "w" * 64
    url, _ = client.create_authorization_url(f"{base}/oauth/authorize", code_verifier=verifier)
    browser.login(world.email)
    location = browser.authorize(url, practice_id=world.practice_id).headers["location"]
    token = client.fetch_token(
        f"{base}/oauth/token", authorization_response=location, code_verifier=verifier
    )
    assert client.get(f"{base}/oauth/userinfo").status_code == 200

    revoked = client.revoke_token(
        f"{base}/oauth/revoke", token=token["access_token"], token_type_hint="access_token"
    )
    assert revoked.status_code == 200
    live_server.app.state.tokens.revocations.refresh()
    after = client.get(f"{base}/oauth/userinfo")
    assert after.status_code == 401
    assert 'error="invalid_token"' in after.headers["www-authenticate"]
    introspection = client.post(
        f"{base}/oauth/introspect",
        data={"token": token["access_token"]},
        auth=(world.client_id, world.client_secret),
    )
    assert introspection.json() == {"active": False}

    # Revoking the refresh token ends the family.
    client.revoke_token(
        f"{base}/oauth/revoke", token=token["refresh_token"], token_type_hint="refresh_token"
    )
    with pytest.raises(OAuth2Error):
        client.refresh_token(f"{base}/oauth/token", refresh_token=token["refresh_token"])
