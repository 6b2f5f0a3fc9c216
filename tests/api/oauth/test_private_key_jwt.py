"""SMART Backend Services: an app registered with public keys gets a client-credentials
token by presenting a JWT assertion signed with one of them (``private_key_jwt``, RFC 7523),
and every way such an assertion can be wrong is refused with 401 ``invalid_client``."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from optihub.app import create_app
from optihub.auth.resource import bearer_principal, check_scopes
from optihub.db.base import utcnow
from optihub.db.models import OAuthClient
from optihub.db.models.oauth import UsedClientAssertion
from optihub.errors import AuthError
from optihub.services import client_keys, oauth_clients
from tests import factories
from tests.api.oauth.keys import (
    ASSERTION_TYPE,
    TOKEN_URL,
    KeySetServer,
    assertion,
    ec_key,
    public_jwks,
    rsa_key,
    token_form,
)

SCOPE = "system/VisionPrescription.rs system/Patient.rs"


@pytest.fixture
def https(app):
    # The token endpoint answers over https only (plain http on a loopback address).
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def practices(db):
    with db.transaction() as s:
        return factories.practice(s, "Harbor Optical").id, factories.practice(s, "Hilltop").id


def register(db, practice_id, **keys):
    with db.transaction() as s:
        registered = oauth_clients.register_client(
            s,
            name="Clinic Backend",
            scope=keys.pop("scope", SCOPE),
            redirect_uris=[],
            practice_ids=[practice_id],
            allowed_hosts=keys.pop("allowed_hosts", ()),
            **keys,
        )
    assert registered.client_secret is None
    return registered.client.client_id


@pytest.fixture
def key_app(db, practices):
    return register(db, practices[0], jwks=public_jwks(rsa_key(), ec_key()))


def refused(response, why: str) -> None:
    """401 invalid_client in the OAuth error envelope, saying ``why``; no token."""
    assert response.status_code == 401, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == "invalid_client"
    assert why in body["error_description"], body["error_description"]
    assert "Traceback" not in response.text and "access_token" not in body


# -- tokens -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "alg"), [(rsa_key, "RS384"), (ec_key, "ES384")])
def test_a_key_app_gets_a_token_bound_to_its_practice_that_passes_the_scope_check(
    https, app, key_app, practices, key, alg
):
    response = https.post("/oauth/token", data=token_form(assertion(key_app, key(), alg)))

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "system/VisionPrescription.rs"
    assert "refresh_token" not in body
    principal = bearer_principal(app.state.tokens, f"Bearer {body['access_token']}")
    assert principal.client_id == key_app
    assert principal.subject == key_app
    assert principal.practice_ids == (practices[0],)  # its practice, not the other one
    check_scopes(principal, ("system/VisionPrescription.rs",))  # passes: no exception
    with pytest.raises(AuthError) as lacking:
        check_scopes(principal, ("system/Patient.rs",))  # registered, but not asked for
    assert lacking.value.status_code == 403


def test_the_token_is_introspected_by_the_app_with_a_fresh_assertion(https, key_app):
    token = https.post("/oauth/token", data=token_form(assertion(key_app, rsa_key()), SCOPE))
    assert token.status_code == 200, token.text

    introspection = https.post(
        "/oauth/introspect",
        data={
            "token": token.json()["access_token"],
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(key_app, ec_key(), "ES384"),
        },
    )

    assert introspection.status_code == 200, introspection.text
    claims = introspection.json()
    assert claims["active"] is True
    assert claims["client_id"] == key_app
    assert set(claims["scope"].split()) == set(SCOPE.split())


def test_the_app_revokes_its_token_with_an_assertion(https, app, key_app):
    token = https.post("/oauth/token", data=token_form(assertion(key_app, rsa_key())))
    access = token.json()["access_token"]

    revoked = https.post(
        "/oauth/revoke",
        data={
            "token": access,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(key_app, rsa_key()),
        },
    )

    assert revoked.status_code == 200, revoked.text
    introspection = https.post(
        "/oauth/introspect",
        data={
            "token": access,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(key_app, rsa_key()),
        },
    )
    assert introspection.json() == {"active": False}


def test_a_wildcard_system_scope_grants_each_resource_read(https, app, db, practices):
    client_id = register(db, practices[0], jwks=public_jwks(rsa_key()), scope="system/*.rs")
    response = https.post(
        "/oauth/token", data=token_form(assertion(client_id, rsa_key()), "system/*.rs")
    )
    assert response.status_code == 200, response.text
    principal = bearer_principal(app.state.tokens, f"Bearer {response.json()['access_token']}")
    check_scopes(principal, ("system/Patient.rs", "system/VisionPrescription.rs"))
    with pytest.raises(AuthError):
        check_scopes(principal, ("system/VisionPrescription.c",))


def test_without_a_kid_each_key_of_the_algorithms_type_is_tried(https, key_app):
    signed = assertion(key_app, ec_key(), "ES384", header={"kid": None})
    response = https.post("/oauth/token", data=token_form(signed))
    assert response.status_code == 200, response.text


def test_the_form_may_name_the_client_id_too(https, key_app):
    signed = assertion(key_app, rsa_key())
    response = https.post("/oauth/token", data=token_form(signed, client_id=key_app))
    assert response.status_code == 200, response.text


def test_an_audience_array_holding_the_token_endpoint_is_accepted(https, key_app):
    signed = assertion(key_app, rsa_key(), aud=["https://other.example", TOKEN_URL])
    assert https.post("/oauth/token", data=token_form(signed)).status_code == 200


# -- refusals -------------------------------------------------------------------------------


def other_rsa_key_with_the_same_kid():
    from joserfc.jwk import RSAKey

    return RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})


REFUSALS = {
    "RS256 is not accepted": (
        lambda cid: assertion(cid, rsa_key(), "RS256"),
        "must be signed with RS384 or ES384",
    ),
    "ES256 is not accepted": (
        lambda cid: assertion(cid, ec_key("ec-256", "P-256"), "ES256"),
        "must be signed with RS384 or ES384",
    ),
    "a shared-secret HS256": (
        lambda cid: _hs256(cid),
        "must be signed with RS384 or ES384",
    ),
    "alg none": (lambda cid: _unsigned(cid), "must be signed with RS384 or ES384"),
    "an unknown kid": (
        lambda cid: assertion(cid, rsa_key(), header={"kid": "nobody"}),
        "no RS384 key with kid 'nobody'",
    ),
    "a kid of the other key type": (
        lambda cid: assertion(cid, rsa_key(), header={"kid": "ec-1"}),
        "no RS384 key with kid 'ec-1'",
    ),
    "a bad signature": (
        lambda cid: assertion(cid, other_rsa_key_with_the_same_kid()),
        "signature does not verify",
    ),
    "a tampered payload": (lambda cid: _tampered(cid), "signature does not verify"),
    "the wrong audience": (
        lambda cid: assertion(cid, rsa_key(), aud="https://testserver/oauth/token"),
        f"aud must be the token endpoint, {TOKEN_URL}",
    ),
    "the issuer as audience": (
        lambda cid: assertion(cid, rsa_key(), aud="http://testserver"),
        "aud must be the token endpoint",
    ),
    "iss is not sub": (
        lambda cid: assertion(cid, rsa_key(), sub="someone-else"),
        "iss and sub must both be the client id",
    ),
    "expired": (
        lambda cid: assertion(cid, rsa_key(), exp=int(time.time()) - 120),
        "expired",
    ),
    "exp too far ahead": (
        lambda cid: assertion(cid, rsa_key(), exp=int(time.time()) + 600),
        "more than 5 minutes in the future",
    ),
    "no exp": (lambda cid: assertion(cid, rsa_key(), drop=("exp",)), "has no exp"),
    "no jti": (lambda cid: assertion(cid, rsa_key(), drop=("jti",)), "has no jti"),
    "not yet valid": (
        lambda cid: assertion(cid, rsa_key(), nbf=int(time.time()) + 200),
        "not valid yet",
    ),
    "not a JWT": (lambda cid: "not.a-jwt", "not a signed JWT"),
}


def _hs256(client_id: str) -> str:
    from joserfc.jwk import OctKey

    return assertion(client_id, OctKey.generate_key(256), "HS256", header={"kid": "rsa-1"})


def _unsigned(client_id: str) -> str:
    import base64
    import json

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "exp": now + 60, "jti": "x"}
    return f"{part({'alg': 'none', 'kid': 'rsa-1'})}.{part(claims)}."


def _tampered(client_id: str) -> str:
    import base64
    import json

    header, payload, signature = assertion(client_id, rsa_key()).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["jti"] = "another-id"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_wrong_assertion_is_refused_as_invalid_client(https, key_app, case):
    make, why = REFUSALS[case]
    response = https.post("/oauth/token", data=token_form(make(key_app)))
    refused(response, why)


def test_a_replayed_assertion_is_refused(https, key_app):
    signed = assertion(key_app, rsa_key())
    assert https.post("/oauth/token", data=token_form(signed)).status_code == 200
    refused(https.post("/oauth/token", data=token_form(signed)), "already used")


def test_a_replay_is_refused_by_another_process_of_the_same_database(https, key_app, settings, db):
    signed = assertion(key_app, rsa_key())
    assert https.post("/oauth/token", data=token_form(signed)).status_code == 200
    # A second application over the same database: the spent jti is in the database, not
    # in the first one's memory.
    with TestClient(
        create_app(settings, database=db), base_url="https://testserver"
    ) as other_process:
        refused(other_process.post("/oauth/token", data=token_form(signed)), "already used")


def test_a_refused_assertion_does_not_spend_its_jti(https, key_app, db):
    bad = assertion(key_app, rsa_key(), aud="https://elsewhere.example", jti="kept-for-later")
    refused(https.post("/oauth/token", data=token_form(bad)), "aud must be")
    with db.reading() as r:
        assert r.scalar(select(func.count()).select_from(UsedClientAssertion)) == 0
    good = assertion(key_app, rsa_key(), jti="kept-for-later")
    assert https.post("/oauth/token", data=token_form(good)).status_code == 200


def test_an_unknown_client_is_refused(https):
    signed = assertion("app_" + "0" * 20, rsa_key())
    refused(https.post("/oauth/token", data=token_form(signed)), "Unknown client")


def test_a_secret_app_cannot_authenticate_with_an_assertion(https, db, practices):
    with db.transaction() as s:
        secret_app = oauth_clients.register_client(
            s, name="Secret app", scope=SCOPE, redirect_uris=[], practice_ids=[practices[0]]
        )
    signed = assertion(secret_app.client.client_id, rsa_key())
    refused(https.post("/oauth/token", data=token_form(signed)), "not registered to authenticate")
    # ... and with its secret it still gets its token.
    response = https.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "system/Patient.rs"},
        auth=(secret_app.client.client_id, secret_app.client_secret),
    )
    assert response.status_code == 200, response.text


def test_a_key_app_cannot_authenticate_with_a_secret(https, key_app, db):
    for auth in ({"auth": (key_app, "any-secret")}, {}):
        form = {"grant_type": "client_credentials", "scope": "system/Patient.rs"}
        if not auth:
            form |= {"client_id": key_app, "client_secret": "any-secret"}
        response = https.post("/oauth/token", data=form, **auth)
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "invalid_client"
    with db.reading() as r:  # it has no secret to guess
        row = r.execute(
            select(OAuthClient.client_secret_hash, OAuthClient.token_endpoint_auth_method).where(
                OAuthClient.client_id == key_app
            )
        ).one()
    assert tuple(row) == (None, "private_key_jwt")


def test_a_key_app_without_any_authentication_is_refused(https, key_app):
    form = {"grant_type": "client_credentials", "client_id": key_app, "scope": "system/Patient.rs"}
    response = https.post("/oauth/token", data=form)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"


def test_an_assertion_and_a_secret_together_are_refused(https, key_app):
    response = https.post(
        "/oauth/token",
        data=token_form(assertion(key_app, rsa_key()), client_id=key_app, client_secret="x"),
    )
    refused(response, "one way only")


def test_a_wrong_assertion_type_is_refused(https, key_app):
    form = token_form(assertion(key_app, rsa_key()))
    form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"
    refused(https.post("/oauth/token", data=form), "client_assertion_type must be")
    form.pop("client_assertion_type")
    refused(https.post("/oauth/token", data=form), "client_assertion_type must be")


def test_a_form_client_id_that_is_not_the_issuer_is_refused(https, key_app):
    form = token_form(assertion(key_app, rsa_key()), client_id="app_someone_else")
    refused(https.post("/oauth/token", data=form), "client_id does not match")


def test_a_scope_the_app_is_not_registered_for_is_refused(https, key_app):
    signed = assertion(key_app, rsa_key())
    response = https.post("/oauth/token", data=token_form(signed, "system/VisionPrescription.c"))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_scope"
    assert "access_token" not in response.text


def test_a_revoked_key_app_is_refused(https, key_app, db):
    with db.transaction() as s:
        row = s.scalar(select(OAuthClient).where(OAuthClient.client_id == key_app))
        row.revoked_at = utcnow()
    refused(
        https.post("/oauth/token", data=token_form(assertion(key_app, rsa_key()))),
        "Unknown client",
    )


def test_failed_assertions_are_throttled_per_client_id(https, key_app):
    for _ in range(10):
        bad = assertion(key_app, rsa_key(), aud="https://elsewhere.example")
        assert https.post("/oauth/token", data=token_form(bad)).status_code == 401
    throttled = https.post("/oauth/token", data=token_form(assertion(key_app, rsa_key())))
    assert throttled.status_code == 429, throttled.text
    assert throttled.json()["error"] == "rate_limited"
    assert int(throttled.headers["Retry-After"]) >= 1


def test_a_practice_bound_key_app_connected_nowhere_gets_no_token(https, db):
    with db.transaction() as s:
        lonely = oauth_clients.register_client(
            s, name="Lonely", scope=SCOPE, redirect_uris=[], jwks=public_jwks(rsa_key())
        )
    signed = assertion(lonely.client.client_id, rsa_key())
    response = https.post("/oauth/token", data=token_form(signed))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "unauthorized_client"


# -- spent ids are pruned ---------------------------------------------------------------------


def test_expired_spent_ids_are_pruned(db):
    with db.transaction() as s:
        client_keys.use_assertion_id(s, "app_a", "old", utcnow() - timedelta(minutes=1))
        client_keys.use_assertion_id(s, "app_a", "live", utcnow() + timedelta(minutes=4))
    with db.transaction() as s:
        assert client_keys.prune_used_assertions(s) == 1
    with db.reading() as r:
        assert list(r.scalars(select(UsedClientAssertion.jti))) == ["live"]


# -- a key set published at an address ----------------------------------------------------------


def test_keys_at_an_address_are_fetched_cached_and_rotated(https, db, practices, settings):
    from joserfc.jwk import RSAKey

    rotated = RSAKey.generate_key(2048, parameters={"kid": "rsa-2"})
    with KeySetServer(public_jwks(rsa_key())) as published:
        client_id = register(
            db, practices[0], jwks_uri=published.url, allowed_hosts=settings.webhook_allowed_hosts
        )
        for _ in range(2):
            response = https.post("/oauth/token", data=token_form(assertion(client_id, rsa_key())))
            assert response.status_code == 200, response.text
        assert published.fetches == 1  # the second token used the cached set

        # The app rotates: a new key at the address, the old one withdrawn.
        published.document = public_jwks(rotated)
        response = https.post("/oauth/token", data=token_form(assertion(client_id, rotated)))
        assert response.status_code == 200, response.text
        assert published.fetches == 2  # the unknown kid fetched the set once more

        # The withdrawn key no longer verifies (and an unknown kid so soon fetches nothing).
        refused(
            https.post("/oauth/token", data=token_form(assertion(client_id, rsa_key()))),
            "no RS384 key with kid 'rsa-1'",
        )
        assert published.fetches == 2


def test_a_key_set_address_that_serves_private_keys_is_refused(https, db, practices, settings):
    leaked = {"keys": [rsa_key().as_dict(private=True)]}
    with KeySetServer(leaked) as published:
        client_id = register(
            db, practices[0], jwks_uri=published.url, allowed_hosts=settings.webhook_allowed_hosts
        )
        response = https.post("/oauth/token", data=token_form(assertion(client_id, rsa_key())))
    refused(response, "contains private key material")


def test_a_key_set_address_that_does_not_answer_is_refused(https, db, practices, settings):
    with KeySetServer(public_jwks(rsa_key())) as published:
        url = published.url
        client_id = register(
            db, practices[0], jwks_uri=url, allowed_hosts=settings.webhook_allowed_hosts
        )
    # The server is gone: the fetch fails, the app is told why.
    response = https.post("/oauth/token", data=token_form(assertion(client_id, rsa_key())))
    refused(response, "could not be fetched")


# -- discovery -------------------------------------------------------------------------------


def test_smart_configuration_describes_backend_services(https):
    response = https.get("/.well-known/smart-configuration")

    assert response.status_code == 200
    document = response.json()
    assert document["issuer"] == "http://testserver"
    assert document["token_endpoint"] == TOKEN_URL
    assert document["jwks_uri"] == "http://testserver/oauth/jwks"
    assert {"private_key_jwt", "client_secret_basic", "client_secret_post"} <= set(
        document["token_endpoint_auth_methods_supported"]
    )
    assert document["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    assert "client_credentials" in document["grant_types_supported"]
    assert "client-confidential-asymmetric" in document["capabilities"]
    assert "permission-v2" in document["capabilities"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert {
        "system/VisionPrescription.rs",
        "system/VisionPrescription.c",
        "system/VisionPrescription.crs",
        "system/Patient.rs",
        "system/Practitioner.rs",
        "system/Organization.rs",
        "system/*.rs",
    } == set(document["scopes_supported"])


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]
)
def test_the_server_metadata_lists_private_key_jwt(https, path):
    document = https.get(path).json()
    for endpoint in ("token", "revocation", "introspection"):
        assert "private_key_jwt" in document[f"{endpoint}_endpoint_auth_methods_supported"]
        assert document[f"{endpoint}_endpoint_auth_signing_alg_values_supported"] == [
            "RS384",
            "ES384",
        ]
    assert "client_secret_basic" in document["token_endpoint_auth_methods_supported"]
