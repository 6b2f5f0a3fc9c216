"""The token call (the practice's sync credentials for a bearer token) and the scope."""

from __future__ import annotations

import pytest

from optihub.services import users
from tests.api.portal.conftest import token_for

DENIED = {"Message": "Authorization has been denied for this request."}


def form(username: str | None, password: str | None, grant_type: str | None = "password"):
    data = {"grant_type": grant_type, "username": username, "password": password}
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize("path", ["/api/token", "/token"])
def test_sync_credentials_give_a_bearer_token(path, client, sync) -> None:
    response = client.post(
        f"https://testserver{path}", data=form(sync.client_id, sync.client_secret)
    )
    assert response.status_code == 200, response.text
    payload = response.json()
    assert set(payload) == {"access_token", "token_type", "expires_in"}
    assert payload["token_type"] == "bearer"
    # OPTIHUB_ACCESS_TOKEN_TTL unless OPTIHUB_ACCESS_TOKEN_TTL_PORTAL says otherwise.
    assert payload["expires_in"] == client.app.state.settings.access_token_ttl_seconds
    assert response.headers["Cache-Control"] == "no-store"
    read = client.get(
        "/api/Patients",
        params={"externalId": "none"},
        headers={"Authorization": f"Bearer {payload['access_token']}"},
    )
    assert read.status_code == 404  # authorised: the record simply does not exist
    assert read.json() == {"Message": "No patient with ExternalId 'none' exists."}


def test_token_for_helper_on_root_path(client, sync) -> None:
    token = token_for(client, sync.client_id, sync.client_secret, path="/token")
    response = client.get(
        "/api/Doctors", params={"externalId": "x"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "data",
    [
        "wrong secret",
        "unknown client",
        "no username",
        "no password",
        "empty password",
    ],
)
def test_bad_credentials_are_invalid_grant(data, client, sync) -> None:
    sent = {
        "wrong secret": form(sync.client_id, sync.client_secret + "x"),
        "unknown client": form("app_nobody", sync.client_secret),
        "no username": form(None, sync.client_secret),
        "no password": form(sync.client_id, None),
        "empty password": form(sync.client_id, ""),
    }[data]
    response = client.post("https://testserver/api/token", data=sent)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["error"] == "invalid_grant"
    assert "access_token" not in payload


@pytest.mark.parametrize("grant_type", ["client_credentials", "authorization_code", None])
def test_other_grant_types_are_unsupported(grant_type, client, sync) -> None:
    response = client.post(
        "https://testserver/api/token",
        data=form(sync.client_id, sync.client_secret, grant_type),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_staff_passwords_are_not_accepted(client, sync, db) -> None:
    with db.transaction() as s:
        users.create_user(
            s,
            email="owner@lakeside.example",
            password="correct horse battery staple",
            practice_id=sync.practice_id,
            role="owner",
        )
    response = client.post(
        "https://testserver/api/token",
        data=form("owner@lakeside.example", "correct horse battery staple"),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_no_token_is_denied(client) -> None:
    response = client.get("/api/Patients", params={"externalId": "P1"})
    assert response.status_code == 401
    assert response.json() == DENIED
    garbage = client.get(
        "/api/Patients", params={"externalId": "P1"}, headers={"Authorization": "Bearer nope"}
    )
    assert garbage.status_code == 401
    assert garbage.json() == DENIED


def test_a_token_without_the_scope_is_forbidden(client, sync, issue_token, db) -> None:
    token = issue_token(sync.practice_id, "orders:read")
    headers = {"Authorization": f"Bearer {token}"}
    response = client.get("/api/Patients", params={"externalId": "P1"}, headers=headers)
    assert response.status_code == 403
    payload = response.json()
    assert set(payload) == {"Message"}
    assert "portal:sync" in payload["Message"]
    from tests.api.portal.conftest import table_counts

    counts = table_counts(db)
    write = client.post(
        "/api/Patients", json={"externalId": "P1", "lastName": "Lind"}, headers=headers
    )
    assert write.status_code == 403
    assert table_counts(db) == counts


def test_an_app_registered_without_the_scope_gets_no_sync_access(client, db, sync) -> None:
    from tests.api.portal.conftest import connected_app

    client_id, secret = connected_app(db, sync.practice_id, "Reports", scope="orders:read")
    response = client.post("https://testserver/api/token", data=form(client_id, secret))
    if response.status_code == 200:
        token = response.json()["access_token"]
        read = client.get(
            "/api/Patients",
            params={"externalId": "P1"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert read.status_code == 403
    else:
        assert response.status_code == 400
