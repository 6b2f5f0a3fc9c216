"""Health, readiness, metrics, OpenAPI and the last-resort error handler."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_healthz_and_readyz(client, db):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": db.dialect}


def test_readyz_is_503_when_the_database_is_unreachable(app, db):
    from optihub.db.session import Database

    with TestClient(app) as c:
        app.state.db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")
        response = c.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_openapi_is_3_1(client):
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1.")
    assert document["info"]["title"] == "OptiHub"


def test_request_id_is_generated_or_echoed(client):
    generated = client.get("/healthz").headers["x-request-id"]
    assert generated.startswith("req_")
    assert (
        client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )


def test_metrics_count_requests_by_route(settings, db):
    from dataclasses import replace

    from optihub.app import create_app

    app = create_app(replace(settings, metrics_token="operator-token"), database=db)
    with TestClient(app) as client:
        client.get("/healthz")
        body = client.get("/metrics", headers={"Authorization": "Bearer operator-token"}).text
    assert 'optihub_http_requests_total{method="GET",route="/healthz",status="200"}' in body


def test_unexpected_error_is_500_with_request_id_and_no_internals(app):
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("SELECT secret FROM users")

    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.get("/boom")
    assert response.status_code == 500
    body = response.text
    assert "SELECT" not in body and "RuntimeError" not in body and "Traceback" not in body
    assert response.headers["x-request-id"] in response.json()["error"]["message"]
