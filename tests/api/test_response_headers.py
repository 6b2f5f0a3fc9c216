"""Security headers on every response: pages, each API dialect, hot routes, the API
reference, errors; HSTS only over https; /metrics only for the operator."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from optihub.app import create_app
from optihub.services import users
from optihub.web import hot_routes
from tests import factories

EMAIL = "noor@harbor.test"
METRICS_TOKEN = "metrics-token-for-the-operator-0123456789"


def assert_hardened(response) -> None:
    headers = response.headers
    assert headers.get_list("x-content-type-options") == ["nosniff"], headers
    policies = headers.get_list("content-security-policy")
    assert len(policies) == 1, headers
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in policies[0].split(";")
        if directive.strip()
    }
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] in (["'self'"], ["'none'"])
    assert policy["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in policy.get("script-src", policy["default-src"])
    assert headers.get_list("x-frame-options") == ["DENY"]
    assert "strict-transport-security" not in headers  # plain http here
    assert "server" not in headers


@pytest.fixture
def practice_id(db) -> int:
    with db.transaction() as s:
        practice = factories.practice(s, "Harbor Optical")
        users.create_user(
            s, email=EMAIL, password="a long staff password", practice_id=practice.id, role="staff"
        )
    return practice.id


@pytest.fixture
def hot_answers(app) -> list[str]:
    """The paths a hot route answered (before the middleware stack)."""
    answered: list[str] = []
    routes = hot_routes(app)
    answer = routes.answer

    async def spy(hot, scope):
        done = await answer(hot, scope)
        if done is not None:
            answered.append(scope["path"])
        return done

    routes.answer = spy
    return answered


def test_pages_carry_the_headers(client):
    for path in ("/", "/login", "/account/apps", "/dashboard/drafts"):
        assert_hardened(client.get(path, follow_redirects=False))


def test_the_api_reference_carries_the_headers(client):
    for path in ("/docs", "/docs/oauth2-redirect", "/openapi.json"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_hardened(response)


# One read per dialect: (path, scope, extra headers).
DIALECT_READS = {
    "partner": ("/api/v1/partner/frames", "frames:read", {}),
    "labs": ("/v1/labs", "lab_catalog:read", {"User-Email": EMAIL}),
    "practice": ("/v2/{practice_id}/employees", "read:employees", {}),
    "fulfillment": ("/fulfillment/v1/orders", "fulfillment:read", {}),
    "portal": ("/api/users/search", "portal:sync", {}),
}


@pytest.mark.parametrize("dialect", sorted(DIALECT_READS))
def test_every_dialect_answers_and_refuses_with_the_headers(
    client, issue_token, practice_id, dialect
):
    path, scope, extra = DIALECT_READS[dialect]
    url = path.format(practice_id=practice_id)
    token = issue_token(practice_id, scope)
    answered = client.get(url, headers={"Authorization": f"Bearer {token}", **extra})
    assert answered.status_code == 200, answered.text
    assert_hardened(answered)
    refused = client.get(url, headers=extra)
    assert refused.status_code == 401
    assert_hardened(refused)


def test_hot_routes_carry_the_headers(client, issue_token, practice_id, hot_answers):
    token = issue_token(practice_id, "orders:read")
    health = client.get("/healthz")
    orders = client.get("/api/v1/partner/orders", headers={"Authorization": f"Bearer {token}"})
    assert hot_answers == ["/healthz", "/api/v1/partner/orders"]
    assert orders.status_code == 200
    assert_hardened(health)
    assert_hardened(orders)


def test_errors_carry_the_headers(app):
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("unexpected")

    with TestClient(app, raise_server_exceptions=False) as client:
        for path, status in (
            ("/no/such/page", 404),
            ("/api/v1/partner/nothing", 404),
            ("/api/v1/partner/orders", 401),
            ("/v2/not-a-number/employees", 401),
        ):
            response = client.get(path)
            assert response.status_code == status
            assert_hardened(response)
        crashed = client.get("/boom")
        assert crashed.status_code == 500
        assert_hardened(crashed)


# --- HSTS ----------------------------------------------------------------------------------------


def test_hsts_when_served_over_https(app):
    with TestClient(app, base_url="https://testserver") as client:
        for path in ("/healthz", "/login", "/docs"):
            hsts = client.get(path).headers.get_list("strict-transport-security")
            assert len(hsts) == 1, path
            assert hsts[0].startswith("max-age=")
            assert int(hsts[0].split("=")[1].split(";")[0]) >= 31536000


@pytest.mark.parametrize(
    ("trusted", "proto", "expected"),
    [
        pytest.param("testclient", "https", True, id="trusted proxy says https"),
        pytest.param("testclient", "http", False, id="trusted proxy says http"),
        pytest.param("10.0.0.1", "https", False, id="untrusted client says https"),
    ],
)
def test_hsts_behind_a_proxy_only_when_the_proxy_is_trusted(app, trusted, proto, expected):
    """``optihub serve`` runs uvicorn with proxy headers on: the scheme a trusted proxy
    names (``FORWARDED_ALLOW_IPS``) is the request's; anyone else's is ignored."""
    proxied = ProxyHeadersMiddleware(app, trusted_hosts=trusted)
    with TestClient(proxied) as client:
        for path in ("/healthz", "/login"):
            response = client.get(path, headers={"X-Forwarded-Proto": proto})
            assert ("strict-transport-security" in response.headers) is expected, path


# --- /metrics ------------------------------------------------------------------------------------


def test_metrics_are_not_served_without_an_operator_token(client):
    response = client.get("/metrics")
    assert response.status_code in (401, 403, 404)
    assert "optihub_http_requests_total" not in response.text


@pytest.fixture
def metrics_client(settings, db):
    app = create_app(replace(settings, metrics_token=METRICS_TOKEN), database=db)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {METRICS_TOKEN}", f"Bearer {METRICS_TOKEN}x", "Bearer"],
)
def test_metrics_refuse_anyone_without_the_token(metrics_client, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = metrics_client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "optihub_http_requests_total" not in response.text
    assert_hardened(response)


def test_metrics_answer_the_operator(metrics_client):
    metrics_client.get("/healthz")
    response = metrics_client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert 'optihub_http_requests_total{method="GET",route="/healthz",status="200"}' in (
        response.text
    )
    assert_hardened(response)
