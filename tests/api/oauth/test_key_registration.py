"""Registering an app with its public keys (``private_key_jwt``): through the service and
``optihub client create --jwks FILE`` / ``--jwks-url URL``. Only public RSA (2048 bits or
more) and P-384 EC keys are taken; a private key, a shared secret key or an address that
is not https to a public host (nor allow-listed) is refused, and nothing is written."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import OctKey, RSAKey
from sqlalchemy import func, select
from typer.testing import CliRunner

from optihub.cli import app as cli
from optihub.db.models import OAuthClient
from optihub.errors import ValidationFailed
from optihub.services import oauth_clients
from tests import factories
from tests.api.oauth.keys import (
    KeySetServer,
    assertion,
    ec_key,
    public_jwks,
    rsa_key,
    token_form,
)

SCOPE = "system/VisionPrescription.rs system/Patient.rs"


def count_clients(db) -> int:
    with db.reading() as r:
        return int(r.scalar(select(func.count()).select_from(OAuthClient)) or 0)


def stored(db, client_id: str):
    with db.reading() as r:
        return r.execute(
            select(
                OAuthClient.client_secret_hash,
                OAuthClient.token_endpoint_auth_method,
                OAuthClient.jwks,
                OAuthClient.jwks_uri,
            ).where(OAuthClient.client_id == client_id)
        ).one()


def small_rsa_jwks() -> dict:
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (refused)
    return {"keys": [RSAKey.import_key(private.public_key()).as_dict(private=False)]}


BAD_KEY_SETS = {
    "a private RSA key": (
        lambda: {"keys": [rsa_key().as_dict(private=True)]},
        "contains private key material",
    ),
    "a private EC key": (
        lambda: {"keys": [ec_key().as_dict(private=True)]},
        "contains private key material (d)",
    ),
    "a shared secret key": (
        lambda: {"keys": [OctKey.generate_key(256).as_dict()]},
        "shared secret key (kty oct)",
    ),
    "a P-256 key": (
        lambda: public_jwks(ec_key("ec-256", "P-256")),
        "ES384 needs the P-384 curve",
    ),
    "a short RSA key": (small_rsa_jwks, "shorter than 2048 bits"),
    "no keys": (lambda: {"keys": []}, 'must be a JSON object {"keys": [...]}'),
    "a bare key, not a set": (
        lambda: rsa_key().as_dict(private=False),
        'must be a JSON object {"keys": [...]}',
    ),
    "two keys with one kid": (
        lambda: {"keys": [rsa_key().as_dict(private=False)] * 2},
        "Two keys share a kid",
    ),
    "an encryption key": (
        lambda: {"keys": [rsa_key().as_dict(private=False) | {"use": "enc"}]},
        "not for signatures",
    ),
    "a key for another algorithm": (
        lambda: {"keys": [rsa_key().as_dict(private=False) | {"alg": "RS256"}]},
        "must be signed with RS384 or ES384",
    ),
}


@pytest.fixture
def practice_id(db):
    with db.transaction() as s:
        return factories.practice(s, "Harbor Optical").id


def register(db, **extra):
    with db.transaction() as s:
        return oauth_clients.register_client(
            s, name="Clinic Backend", scope=SCOPE, redirect_uris=[], **extra
        )


# -- the service ------------------------------------------------------------------------------


def test_an_app_registered_with_a_key_set_has_no_secret(db):
    registered = register(db, jwks=json.dumps(public_jwks(rsa_key(), ec_key())))
    assert registered.client_secret is None
    secret_hash, method, jwks, jwks_uri = stored(db, registered.client.client_id)
    assert (secret_hash, method, jwks_uri) == (None, "private_key_jwt", None)
    assert json.loads(jwks) == public_jwks(rsa_key(), ec_key())


def test_secret_and_public_apps_keep_their_ways(db):
    secret_app = register(db)
    public_app = register(db, public=True)
    assert stored(db, secret_app.client.client_id)[1] == "client_secret_basic"
    assert stored(db, public_app.client.client_id)[1] == "none"
    assert secret_app.client_secret and public_app.client_secret is None


@pytest.mark.parametrize("case", sorted(BAD_KEY_SETS))
def test_a_bad_key_set_is_refused_and_nothing_is_written(db, case):
    make, why = BAD_KEY_SETS[case]
    with pytest.raises(ValidationFailed) as failure:
        register(db, jwks=make())
    messages = " ".join(error.message for error in failure.value.errors)
    assert why in messages
    assert {error.field for error in failure.value.errors} == {"jwks"}
    assert count_clients(db) == 0


def test_a_key_set_that_is_not_json_is_refused(db):
    with pytest.raises(ValidationFailed) as failure:
        register(db, jwks='{"keys": [')
    assert "not valid JSON" in failure.value.errors[0].message


def test_both_a_key_set_and_its_address_are_refused(db):
    with pytest.raises(ValidationFailed) as failure:
        register(
            db,
            jwks=public_jwks(rsa_key()),
            jwks_uri="http://127.0.0.1:9/jwks.json",
            allowed_hosts=("127.0.0.0/8",),
        )
    assert "not both" in failure.value.errors[0].message


def test_a_public_app_cannot_have_keys(db):
    with pytest.raises(ValidationFailed) as failure:
        register(db, public=True, jwks=public_jwks(rsa_key()))
    assert "public app has no keys" in failure.value.errors[0].message


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8443/jwks.json", "Must use https"),
        ("https://127.0.0.1/jwks.json", "non-public address"),
        ("https://10.1.2.3/jwks.json", "non-public address"),
        ("ftp://keys.example/jwks.json", "absolute https URL"),
        ("not a url", "spaces"),
    ],
)
def test_a_key_set_address_is_checked_as_webhook_targets_are(db, url, why):
    with pytest.raises(ValidationFailed) as failure:
        register(db, jwks_uri=url)
    assert failure.value.errors[0].field == "jwks_uri"
    assert why in failure.value.errors[0].message
    assert count_clients(db) == 0


def test_an_allow_listed_loopback_address_is_accepted(db):
    registered = register(
        db, jwks_uri="http://127.0.0.1:8443/keys/jwks.json", allowed_hosts=("127.0.0.0/8",)
    )
    assert stored(db, registered.client.client_id)[3] == "http://127.0.0.1:8443/keys/jwks.json"


def test_a_key_app_can_be_connected_to_a_practice(db, practice_id):
    from optihub.services.context import Actor

    registered = register(db, jwks=public_jwks(rsa_key()))
    with db.transaction() as s:
        actor = Actor(practice_id=practice_id, via="dashboard")
        _client, new = oauth_clients.connect_client(s, actor, registered.client.client_id)
    assert new


# -- the CLI ----------------------------------------------------------------------------------


def run_cli(db, monkeypatch, tmp_path, *args):
    monkeypatch.setenv("OPTIHUB_DATABASE_URL", db.url)
    monkeypatch.setenv("OPTIHUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OPTIHUB_WEBHOOK_ALLOWED_HOSTS", "127.0.0.0/8")
    return CliRunner().invoke(cli, ["client", "create", "--name", "Clinic Backend", *args])


def test_cli_registers_a_key_app_from_a_jwks_file_which_then_gets_a_token(
    db, monkeypatch, tmp_path, practice_id, app
):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(public_jwks(rsa_key())))

    result = run_cli(
        db,
        monkeypatch,
        tmp_path,
        "--scope",
        SCOPE,
        "--practice",
        str(practice_id),
        "--jwks",
        str(path),
        "--json",
    )

    assert result.exit_code == 0, result.output
    value = json.loads(result.stdout.splitlines()[-1])
    assert value["client_secret"] is None
    assert value["token_endpoint_auth_method"] == "private_key_jwt"
    client_id = value["client_id"]
    with TestClient(app, base_url="https://testserver") as https:
        response = https.post("/oauth/token", data=token_form(assertion(client_id, rsa_key())))
    assert response.status_code == 200, response.text


def test_cli_says_in_words_that_a_key_app_has_no_secret(db, monkeypatch, tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(public_jwks(ec_key())))
    result = run_cli(db, monkeypatch, tmp_path, "--scope", SCOPE, "--jwks", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("client_id: app_")
    assert "no secret: the app signs its token requests with its key" in result.stdout
    assert "client_secret:" not in result.stdout


def test_cli_registers_a_key_set_address(db, monkeypatch, tmp_path, practice_id, app):
    with KeySetServer(public_jwks(rsa_key())) as published:
        result = run_cli(
            db,
            monkeypatch,
            tmp_path,
            "--scope",
            SCOPE,
            "--practice",
            str(practice_id),
            "--jwks-url",
            published.url,
            "--json",
        )
        assert result.exit_code == 0, result.output
        value = json.loads(result.stdout.splitlines()[-1])
        assert value["jwks_uri"] == published.url
        assert value["client_secret"] is None
        with TestClient(app, base_url="https://testserver") as https:
            signed = assertion(value["client_id"], rsa_key())
            response = https.post("/oauth/token", data=token_form(signed))
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("case", ["a private RSA key", "a shared secret key", "a P-256 key"])
def test_cli_refuses_a_bad_key_set_file_and_writes_nothing(db, monkeypatch, tmp_path, case):
    make, why = BAD_KEY_SETS[case]
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(make()))
    result = run_cli(db, monkeypatch, tmp_path, "--scope", SCOPE, "--jwks", str(path))
    assert result.exit_code == 1
    assert why in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert count_clients(db) == 0


def test_cli_refuses_a_missing_file_and_a_refused_address(db, monkeypatch, tmp_path):
    missing = run_cli(db, monkeypatch, tmp_path, "--scope", SCOPE, "--jwks", "/nowhere/k.json")
    assert missing.exit_code == 1
    assert "Cannot read /nowhere/k.json" in " ".join(missing.output.split())

    private = run_cli(
        db, monkeypatch, tmp_path, "--scope", SCOPE, "--jwks-url", "https://10.0.0.7/jwks.json"
    )
    assert private.exit_code == 1
    assert "non-public address" in " ".join(private.output.split())

    both = tmp_path / "jwks.json"
    both.write_text(json.dumps(public_jwks(rsa_key())))
    twice = run_cli(
        db,
        monkeypatch,
        tmp_path,
        "--scope",
        SCOPE,
        "--jwks",
        str(both),
        "--jwks-url",
        "http://127.0.0.1:9/jwks.json",
    )
    assert twice.exit_code == 1
    assert "not both" in " ".join(twice.output.split())
    assert count_clients(db) == 0
