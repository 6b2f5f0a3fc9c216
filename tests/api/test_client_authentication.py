"""Client authentication on the token endpoints (``/oauth/token``, the lab-order dialect's
``/v1/oauth/token``, the portal dialect's ``/api/token`` and ``/token``):

* failures are throttled per client id and per address: 429 with ``Retry-After``, in each
  endpoint's own error body;
* an unknown client id costs one argon2 verification, as a known one does (no timing
  oracle for valid ids);
* the secret (or, for the fulfillment sign-in, the password) is verified while the request
  holds no database connection: another writer takes the write lock meanwhile.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from optihub import security
from optihub.services import oauth_clients, users
from tests import factories

# The documented limits (docs/operating.md, "Token endpoint throttles").
PER_CLIENT = 10
PER_ADDRESS = 30
SCOPES = "lab_orders:write lab_orders:read lab_catalog:read portal:sync orders:read"
STAFF_EMAIL = "dana@lakeside.example"
STAFF_PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Endpoint:
    """How to ask one token endpoint for a token, and what its refusals look like."""

    path: str
    send: Callable[[TestClient, str, str, str], Any]
    refused: int  # the status of a failed client authentication

    def call(self, http: TestClient, client_id: str, secret: str) -> Any:
        return self.send(http, self.path, client_id, secret)


def _oauth(http: TestClient, path: str, client_id: str, secret: str) -> Any:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return http.post(path, data=form)


def _labs(http: TestClient, path: str, client_id: str, secret: str) -> Any:
    return http.post(path, json={"client_id": client_id, "client_secret": secret})


def _portal(http: TestClient, path: str, client_id: str, secret: str) -> Any:
    form = {"grant_type": "password", "username": client_id, "password": secret}
    return http.post(path, data=form)


ENDPOINTS = {
    "oauth": Endpoint("/oauth/token", _oauth, 401),
    "labs": Endpoint("/v1/oauth/token", _labs, 401),
    "portal": Endpoint("/api/token", _portal, 400),
    "portal-root": Endpoint("/token", _portal, 400),
}


def assert_throttled(name: str, response: Any) -> None:
    """429 with Retry-After, in the endpoint's own error body."""
    assert response.status_code == 429, response.text
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= 15 * 60
    body = response.json()
    if name == "labs":
        assert set(body) == {"error"}
        assert body["error"]["code"] == "rate_limited"
        assert body["error"]["type"] == "invalid_request_error"
        assert body["error"]["message"]
    else:  # OAuth's error body (RFC 6749 §5.2), as the portal's token call answers too
        assert set(body) == {"error", "error_description"}
        assert body["error"] == "rate_limited"
    assert "access_token" not in response.text and "token" not in body


@dataclass
class Apps:
    practice_id: int
    client_id: str
    secret: str
    other_id: str
    other_secret: str


@pytest.fixture
def apps(db) -> Apps:
    with db.transaction() as s:
        practice = factories.practice(s, "Lakeside Eye Care")
        one = oauth_clients.register_client(
            s, name="Lakeside PMS", scope=SCOPES, redirect_uris=[], practice_ids=[practice.id]
        )
        two = oauth_clients.register_client(
            s, name="Second tool", scope=SCOPES, redirect_uris=[], practice_ids=[practice.id]
        )
        users.create_user(
            s, email=STAFF_EMAIL, password=STAFF_PASSWORD, practice_id=practice.id, role="owner"
        )
    return Apps(
        practice.id,
        one.client.client_id,
        one.client_secret or "",
        two.client.client_id,
        two.client_secret or "",
    )


@pytest.fixture
def https(app):
    # Token endpoints answer over https only (plain http on a loopback address).
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        yield c


def unknown_id() -> str:
    return "app_" + secrets.token_hex(10)


# -- (b) throttles ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_wrong_secrets_for_one_client_id_are_throttled(name, https, apps):
    endpoint = ENDPOINTS[name]
    for _ in range(PER_CLIENT):
        response = endpoint.call(https, apps.client_id, "not-the-secret")
        assert response.status_code == endpoint.refused, response.text
    assert_throttled(name, endpoint.call(https, apps.client_id, "not-the-secret"))
    # Throttled is throttled: the right secret waits too, as the sign-in page does.
    assert_throttled(name, endpoint.call(https, apps.client_id, apps.secret))
    # Another app from the same address is not held back by this one's failures.
    other = endpoint.call(https, apps.other_id, apps.other_secret)
    assert other.status_code == 200, other.text


def test_failures_from_one_address_are_throttled_on_every_token_endpoint(https, apps):
    names = sorted(ENDPOINTS)
    for n in range(PER_ADDRESS):
        endpoint = ENDPOINTS[names[n % len(names)]]
        response = endpoint.call(https, unknown_id(), "guess")
        assert response.status_code == endpoint.refused, response.text
    for name in names:
        assert_throttled(name, ENDPOINTS[name].call(https, unknown_id(), "guess"))
        assert_throttled(name, ENDPOINTS[name].call(https, apps.client_id, apps.secret))


def test_a_client_that_authenticates_starts_afresh(https, apps):
    endpoint = ENDPOINTS["labs"]
    for _ in range(PER_CLIENT - 1):
        assert endpoint.call(https, apps.client_id, "wrong").status_code == 401
    assert endpoint.call(https, apps.client_id, apps.secret).status_code == 200
    for _ in range(PER_CLIENT - 1):
        assert endpoint.call(https, apps.client_id, "wrong").status_code == 401
    assert endpoint.call(https, apps.client_id, apps.secret).status_code == 200


# -- (c) an unknown client id costs what a known one costs -------------------------------------


class CountingHasher:
    """The argon2 hasher, counting verifications."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.verified = 0

    def verify(self, hashed: Any, password: Any) -> bool:
        self.verified += 1
        return bool(self.real.verify(hashed, password))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_an_unknown_client_id_is_verified_against_a_dummy_hash(name, https, apps, monkeypatch):
    hasher = CountingHasher(security._hashing.hasher)
    monkeypatch.setattr(security._hashing, "hasher", hasher)
    endpoint = ENDPOINTS[name]

    known = endpoint.call(https, apps.client_id, "not-the-secret")
    assert (known.status_code, hasher.verified) == (endpoint.refused, 1), known.text
    unknown = endpoint.call(https, unknown_id(), "not-the-secret")
    assert (unknown.status_code, hasher.verified) == (endpoint.refused, 2), unknown.text
    # The same answer for both: nothing tells a valid client id from an invalid one.
    assert unknown.json() == known.json()


# -- (d) no hashing inside a write transaction ------------------------------------------------


class WatchingHasher(CountingHasher):
    """While a secret is verified: how many pooled connections the app holds (beside the
    ones its write threads keep idle between their transactions), and
    whether another writer gets the write lock (on SQLite, BEGIN IMMEDIATE) within 3
    seconds."""

    def __init__(self, real: Any, db: Any) -> None:
        super().__init__(real)
        self.db = db
        self.seen: list[tuple[int, bool]] = []

    def verify(self, hashed: Any, password: Any) -> bool:
        held = self.db.engine.pool.checkedout() - self.db.idle_write_connections()
        writer = threading.Thread(target=self._write, daemon=True)
        writer.start()
        writer.join(timeout=3)
        self.seen.append((held, not writer.is_alive()))
        return super().verify(hashed, password)

    def _write(self) -> None:
        with self.db.transaction() as s:
            factories.practice(s, f"Writer {secrets.token_hex(4)}")


def _login(http: TestClient, *_: Any) -> Any:
    return http.post(
        "/fulfillment/v1/auth/login", json={"email": STAFF_EMAIL, "password": STAFF_PASSWORD}
    )


@pytest.mark.parametrize("name", [*sorted(ENDPOINTS), "fulfillment-login"])
def test_secrets_are_verified_outside_any_write_transaction(name, https, apps, db, monkeypatch):
    hasher = WatchingHasher(security._hashing.hasher, db)
    monkeypatch.setattr(security._hashing, "hasher", hasher)
    if name == "fulfillment-login":
        response = _login(https)
    else:
        response = ENDPOINTS[name].call(https, apps.client_id, apps.secret)
    assert response.status_code == 200, response.text
    assert hasher.seen == [(0, True)]
