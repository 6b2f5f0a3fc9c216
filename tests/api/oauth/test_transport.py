"""The token, revocation and introspection endpoints refuse plain http (except loopback)
with an RFC 6749 error body, not a server error; over https they answer normally."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

ENDPOINTS = ["/oauth/token", "/oauth/revoke", "/oauth/introspect"]
FORM = {"grant_type": "client_credentials", "client_id": "some-app", "token": "t"}


@pytest.mark.parametrize("path", ENDPOINTS)
def test_plain_http_on_a_public_name_is_400_insecure(app, path):
    with TestClient(app, base_url="http://clinic.example.org") as client:
        response = client.post(path, data=FORM)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_request"
    assert "https" in body["error_description"]


@pytest.mark.parametrize("base", ["https://clinic.example.org", "http://127.0.0.1:8000"])
@pytest.mark.parametrize("path", ENDPOINTS)
def test_https_or_loopback_reaches_the_endpoint(app, path, base):
    with TestClient(app, base_url=base) as client:
        response = client.post(path, data=FORM)
    # An unknown client: the endpoint itself answered (invalid_client), not the guard.
    assert response.status_code in {400, 401}
    assert response.json()["error"] == "invalid_client"
