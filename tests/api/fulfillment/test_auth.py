"""POST /auth/login, POST /auth/refresh (the refresh token as bearer), GET /auth/verify:
the dialect's sign-in in front of OptiHub's users and token service."""

from __future__ import annotations

import pytest

from optihub.db.models import Practice
from optihub.services import users
from tests.api.fulfillment.conftest import BASE

PASSWORD = "correct horse battery"
USER_KEYS = {
    "id",
    "email",
    "first_name",
    "last_name",
    "role",
    "is_active",
    "created_at",
    "updated_at",
}


@pytest.fixture
def account(db, world):
    with db.transaction() as s:
        user = users.create_user(
            s,
            email="dana@example.com",
            password=PASSWORD,
            practice_id=world.practice_id,
            role="staff",
            first_name="Dana",
            last_name="Reyes",
        )
    return {"id": str(user.id), "email": "dana@example.com", "practice": world.practice_id}


def login(client, email="dana@example.com", password=PASSWORD):
    return client.post(BASE + "/auth/login", json={"email": email, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_login_gives_tokens_and_the_user(client, account):
    response = login(client)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "expires_at", "user"}
    assert body["expires_at"].endswith("Z")
    assert set(body["user"]) == USER_KEYS
    assert body["user"]["id"] == account["id"]
    assert body["user"]["role"] == "staff"
    assert body["user"]["is_active"] is True
    # The access token works on the orders routes like any app's token.
    orders = client.get(BASE + "/orders", headers=bearer(body["access_token"]))
    assert orders.status_code == 200, orders.text


def test_bad_password_or_unknown_email_is_401_in_the_envelope(client, account):
    for email, password in (("dana@example.com", "wrong"), ("nobody@example.com", PASSWORD)):
        response = login(client, email, password)
        assert response.status_code == 401, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_credentials"
        assert set(error) == {"code", "message", "field"}


def test_malformed_login_is_400(client, account):
    response = client.post(BASE + "/auth/login", json={"email": "dana@example.com"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "password"


def test_switched_off_is_403_pointing_to_oauth_apps(client, db, account):
    refresh_token = login(client).json()["refresh_token"]
    with db.transaction() as s:
        practice = s.get(Practice, account["practice"])
        assert practice is not None
        practice.fulfillment_login_enabled = False
    response = login(client)
    assert response.status_code == 403
    assert "OAuth app" in response.json()["error"]["message"]
    refused = client.post(BASE + "/auth/refresh", headers=bearer(refresh_token))
    assert refused.status_code == 403
    assert "OAuth app" in refused.json()["error"]["message"]


def test_refresh_rotates(client, account):
    first = login(client).json()
    second = client.post(BASE + "/auth/refresh", headers=bearer(first["refresh_token"]))
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["access_token"] != first["access_token"]
    assert rotated["user"]["id"] == account["id"]
    verified = client.get(BASE + "/auth/verify", headers=bearer(rotated["access_token"]))
    assert verified.status_code == 200
    # The retired refresh token is refused, and its reuse revokes the whole family.
    reused = client.post(BASE + "/auth/refresh", headers=bearer(first["refresh_token"]))
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "invalid_token"
    again = client.post(BASE + "/auth/refresh", headers=bearer(rotated["refresh_token"]))
    assert again.status_code == 401


def test_refresh_without_or_with_a_bad_token_is_401(client, account):
    assert client.post(BASE + "/auth/refresh").status_code == 401
    response = client.post(BASE + "/auth/refresh", headers=bearer("not-a-refresh-token"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"
    # An access token is not a refresh token.
    access = login(client).json()["access_token"]
    assert client.post(BASE + "/auth/refresh", headers=bearer(access)).status_code == 401


def test_verify_gives_the_user(client, account):
    access = login(client).json()["access_token"]
    response = client.get(BASE + "/auth/verify", headers=bearer(access))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == USER_KEYS
    assert body["email"] == "dana@example.com"
    assert body["first_name"] == "Dana"


def test_verify_needs_a_user_token(client, issue_token, account):
    assert client.get(BASE + "/auth/verify").status_code == 401
    # An app token without a user (client credentials): no user to show.
    app_token = issue_token(account["practice"], "fulfillment:read", subject="client:shop")
    response = client.get(BASE + "/auth/verify", headers=bearer(app_token))
    assert response.status_code == 401
    # An OAuth app's token for the user works as well.
    user_token = issue_token(account["practice"], "fulfillment:read", subject=account["id"])
    assert (
        client.get(BASE + "/auth/verify", headers=bearer(user_token)).json()["id"]
        == (account["id"])
    )
