"""The apps page (/dashboard/apps) registers an app that proves who it is with its own keys
(a pasted public key set, or the address where the app publishes one), says in words how
each app proves who it is, and keeps what was typed when it refuses."""

from __future__ import annotations

import json
import re

from markupsafe import escape
from sqlalchemy import func, select

from optihub.db.models import OAuthClient
from tests.api.dashboard.conftest import MANAGER, STAFF, text_of
from tests.api.oauth.keys import KeySetServer, assertion, ec_key, public_jwks, rsa_key, token_form

APPS = "/dashboard/apps"
SCOPES = ["system/VisionPrescription.rs", "system/Patient.rs"]


def count_clients(db) -> int:
    with db.reading() as r:
        return int(r.scalar(select(func.count()).select_from(OAuthClient)) or 0)


def stored(db, name: str):
    with db.reading() as r:
        return r.execute(
            select(
                OAuthClient.client_id,
                OAuthClient.client_secret_hash,
                OAuthClient.token_endpoint_auth_method,
                OAuthClient.jwks,
                OAuthClient.jwks_uri,
            ).where(OAuthClient.name == name)
        ).one()


def test_the_form_offers_the_three_ways_in_plain_words(world, agent):
    page = agent(STAFF).get(APPS)
    assert '<option value="keys">' in page.text
    text = text_of(page.text)
    assert "How the app proves who it is" in text
    assert "With its own keys (runs on a server, signs its requests; SMART Backend" in text
    assert "Public key set (JWKS), pasted" in text
    assert "Or the address of its public key set" in text


def test_registering_with_a_pasted_key_set_shows_no_secret_and_the_app_gets_tokens(
    db, world, agent, https
):
    staff = agent(STAFF)
    pasted = json.dumps(public_jwks(rsa_key(), ec_key()), indent=2)

    registered = staff.post(
        APPS + "/register",
        {"name": "Clinic Backend", "client_type": "keys", "jwks": pasted, "scope": SCOPES},
    )

    assert registered.status_code == 303, text_of(registered.text)
    shown = staff.get(APPS)
    text = text_of(shown.text)
    assert "Clinic Backend is registered" in text
    assert "This app has no secret: it signs each request for a token with its private key" in text
    assert 'id="new-secret"' not in shown.text
    client_id, secret_hash, method, jwks, jwks_uri = stored(db, "Clinic Backend")
    assert (secret_hash, method, jwks_uri) == (None, "private_key_jwt", None)
    assert json.loads(jwks) == public_jwks(rsa_key(), ec_key())
    assert client_id in shown.text
    # The list says how it proves who it is.
    again = text_of(staff.get(APPS).text)
    assert "Its own keys Signs its requests; 2 public keys registered here." in again

    # Connected to the practice by a manager, it gets a token with a signed assertion.
    connected = agent(MANAGER).post(APPS + "/connect", {"client_id": client_id})
    assert connected.status_code == 303
    listed = text_of(agent(MANAGER).get(APPS).text)
    assert "Clinic Backend" in listed and "Proves who it is: Its own keys" in listed
    token = https.post(
        "/oauth/token", data=token_form(assertion(client_id, ec_key(), "ES384"), SCOPES[1])
    )
    assert token.status_code == 200, token.text


def test_registering_with_a_key_set_address(db, world, agent):
    staff = agent(STAFF)
    with KeySetServer(public_jwks(rsa_key())) as published:
        registered = staff.post(
            APPS + "/register",
            {
                "name": "Published Keys",
                "client_type": "keys",
                "jwks_uri": published.url,
                "scope": SCOPES,
            },
        )
    assert registered.status_code == 303, text_of(registered.text)
    _id, secret_hash, method, jwks, jwks_uri = stored(db, "Published Keys")
    assert (secret_hash, method, jwks, jwks_uri) == (None, "private_key_jwt", None, published.url)
    text = text_of(staff.get(APPS).text)
    assert f"Its own keys Signs its requests; its public keys are published at {published.url}" in (
        text
    )


def test_secret_apps_say_they_send_a_secret(world, agent):
    staff = agent(STAFF)
    staff.post(
        APPS + "/register",
        {"name": "Secret Sync", "client_type": "confidential", "scope": ["orders:read"]},
    )
    text = text_of(staff.get(APPS).text)
    assert "Confidential (secret) Sends its secret to get tokens." in text


def refused_form(response) -> str:
    assert response.status_code == 400, response.text
    text = text_of(response.text)
    assert "The app was not registered." in text
    return text


def test_a_private_key_is_refused_and_what_was_typed_is_kept(db, world, agent):
    before = count_clients(db)
    pasted = json.dumps({"keys": [rsa_key().as_dict(private=True)]})

    response = agent(STAFF).post(
        APPS + "/register",
        {"name": "Leaky App", "client_type": "keys", "jwks": pasted, "scope": SCOPES},
    )

    text = refused_form(response)
    assert "contains private key material" in text
    assert "register only the public half of the key" in text
    assert "jwks:" not in text  # no field names
    assert 'value="Leaky App"' in response.text
    assert '<option value="keys" selected>' in response.text
    # The pasted text is kept (escaped) so it can be corrected.
    assert f">{escape(pasted)}</textarea>" in response.text
    ticked = re.findall(r'name="scope" value="([^"]+)" checked', response.text)
    assert ticked == SCOPES
    assert 'aria-invalid="true" aria-describedby="jwks-error"' in response.text
    assert count_clients(db) == before


def test_a_shared_secret_key_and_bad_json_are_refused(db, world, agent):
    staff = agent(STAFF)
    oct_set = json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"}]})
    text = refused_form(
        staff.post(
            APPS + "/register",
            {"name": "Oct App", "client_type": "keys", "jwks": oct_set, "scope": SCOPES},
        )
    )
    assert "shared secret key" in text
    text = refused_form(
        staff.post(
            APPS + "/register",
            {"name": "Broken", "client_type": "keys", "jwks": '{"keys": [', "scope": SCOPES},
        )
    )
    assert "The public key set: The key set is not valid JSON" in text
    assert count_clients(db) == 0


def test_a_key_app_without_keys_and_keys_for_a_secret_app_are_refused(db, world, agent):
    staff = agent(STAFF)
    none_given = refused_form(
        staff.post(APPS + "/register", {"name": "No Keys", "client_type": "keys", "scope": SCOPES})
    )
    assert "Paste the app's public key set, or give the web address" in none_given

    pasted = json.dumps(public_jwks(rsa_key()))
    mixed = staff.post(
        APPS + "/register",
        {"name": "", "client_type": "confidential", "jwks": pasted, "scope": SCOPES},
    )
    text = refused_form(mixed)
    assert "You gave the app's public keys: choose “With its own keys”" in text
    assert "Give the app a name" in text  # the other problems are shown at the same time
    both = refused_form(
        staff.post(
            APPS + "/register",
            {
                "name": "Both",
                "client_type": "keys",
                "jwks": pasted,
                "jwks_uri": "https://keys.example/jwks.json",
                "scope": SCOPES,
            },
        )
    )
    assert "not both" in both
    assert count_clients(db) == 0


def test_a_key_set_address_on_a_private_network_is_refused(db, world, agent):
    response = agent(STAFF).post(
        APPS + "/register",
        {
            "name": "Inside Job",
            "client_type": "keys",
            "jwks_uri": "https://10.0.0.8/jwks.json",
            "scope": SCOPES,
        },
    )
    text = refused_form(response)
    assert "The key set's address: https://10.0.0.8/jwks.json:" in text
    assert "non-public address" in text
    assert 'value="https://10.0.0.8/jwks.json"' in response.text
    assert count_clients(db) == 0
