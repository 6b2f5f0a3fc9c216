"""Partner webhook subscriptions, scopes on every route, tenant isolation, auth envelope."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from optihub.auth.resource import route_scopes
from optihub.db.models import WebhookSubscription
from optihub.surfaces.partner import schemas
from tests.api.partner.conftest import BASE

SPEC_SCOPES = {
    ("GET", f"{BASE}/orders"): "orders:read",
    ("GET", f"{BASE}/orders/{{order_id}}"): "orders:read",
    ("PATCH", f"{BASE}/orders/{{order_id}}"): "orders:full",
    ("GET", f"{BASE}/frames"): "frames:read",
    ("GET", f"{BASE}/prescriptions"): "prescriptions:read",
    ("POST", f"{BASE}/inventory"): "inventory:write",
    ("GET", f"{BASE}/webhooks"): "webhooks:read",
    ("POST", f"{BASE}/webhooks"): "webhooks:write",
    ("PATCH", f"{BASE}/webhooks/{{webhook_id}}"): "webhooks:write",
    ("DELETE", f"{BASE}/webhooks/{{webhook_id}}"): "webhooks:write",
    ("GET", f"{BASE}/webhooks/{{webhook_id}}/deliveries"): "webhooks:read",
    # OptiHub extension (documented): send a delivery again.
    (
        "POST",
        f"{BASE}/webhooks/{{webhook_id}}/deliveries/{{delivery_id}}/redeliver",
    ): "webhooks:write",
}

HOOK = {"url": "https://hooks.example.com/optihub", "events": ["order.created"]}


def test_every_partner_route_declares_the_spec_scope(app):
    table = {k: v for k, v in route_scopes(app.routes).items() if k[1].startswith(BASE)}
    assert table == {k: (v,) for k, v in SPEC_SCOPES.items()}


@pytest.mark.parametrize(("method", "path"), sorted(SPEC_SCOPES))
def test_each_route_without_its_scope_is_403_naming_it(client, shop, auth, method, path):
    scope = SPEC_SCOPES[(method, path)]
    others = " ".join(
        s
        for s in set(SPEC_SCOPES.values())
        if s != scope and not (scope == "orders:read" and s == "orders:full")
    )
    url = path.format(order_id=shop.orders[0], webhook_id=uuid.uuid4(), delivery_id=uuid.uuid4())
    response = client.request(method, url, headers=auth(others), json={})
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "insufficient_scope"
    assert scope in error["message"]
    assert error["details"] == [{"required_scope": scope}]
    assert f'scope="{scope}"' in response.headers["www-authenticate"]


def test_missing_or_bad_token_is_401_in_the_partner_envelope(client, shop):
    for headers in ({}, {"Authorization": "Bearer nope"}):
        response = client.get(f"{BASE}/orders", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_token"
        assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_unknown_partner_path_is_404_in_the_envelope(client, shop, auth):
    response = client.get(f"{BASE}/spectacles", headers=auth())
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_create_list_update_delete_a_subscription(client, shop, auth, db, app):
    created = client.post(
        f"{BASE}/webhooks", json=HOOK | {"description": "lab sync"}, headers=auth()
    )
    assert created.status_code == 201
    body = created.json()
    schemas.WebhookCreated.model_validate(body)
    assert body["secret"].startswith("whsec_")
    assert body["enabled"] is True
    with db.transaction() as s:
        stored = s.scalars(select(WebhookSubscription)).one()
        assert body["secret"] not in stored.secret_ciphertext
        assert app.state.instance_key.decrypt(stored.secret_ciphertext) == body["secret"]
    listed = client.get(f"{BASE}/webhooks", headers=auth("webhooks:read")).json()
    schemas.WebhookList.model_validate(listed)
    assert [w["id"] for w in listed["data"]] == [body["id"]]
    assert "secret" not in listed["data"][0]
    assert listed["data"][0]["pending_deliveries"] == 0
    updated = client.patch(
        f"{BASE}/webhooks/{body['id']}", headers=auth(), json={"events": ["*"], "enabled": False}
    )
    assert updated.status_code == 200
    assert updated.json()["events"] == ["*"]
    assert updated.json()["last_status"] == "disabled"
    deliveries = client.get(f"{BASE}/webhooks/{body['id']}/deliveries", headers=auth())
    assert deliveries.json() == {"data": []}
    assert client.delete(f"{BASE}/webhooks/{body['id']}", headers=auth()).status_code == 204
    assert client.get(f"{BASE}/webhooks", headers=auth()).json()["data"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "not a url", "events": ["order.created"]}, "url"),
        ({"url": "https://hooks.example.com", "events": []}, "events"),
        ({"url": "https://hooks.example.com", "events": ["order.deleted"]}, "events.0"),
        ({"url": "https://hooks.example.com", "events": ["*"], "secret": "mine"}, "secret"),
    ],
)
def test_bad_subscription_bodies(client, shop, auth, body, field):
    response = client.post(f"{BASE}/webhooks", json=body, headers=auth())
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == field


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/latest",
        "https://[fd00::1]/x",
        "https://192.168.1.10/x",
    ],
)
def test_private_or_plain_http_urls_are_refused(client, shop, auth, url):
    response = client.post(f"{BASE}/webhooks", json={"url": url, "events": ["*"]}, headers=auth())
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "url"


def test_allow_listed_loopback_is_accepted(client, shop, auth):
    # The test settings allow 127.0.0.0/8 (OPTIHUB_WEBHOOK_ALLOWED_HOSTS).
    response = client.post(
        f"{BASE}/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["*"]}, headers=auth()
    )
    assert response.status_code == 201


def test_other_practices_webhooks_are_invisible(client, shop, auth):
    theirs = client.post(
        f"{BASE}/webhooks", json=HOOK, headers=auth(practice_id=shop.other_practice_id)
    ).json()
    assert client.get(f"{BASE}/webhooks", headers=auth()).json()["data"] == []
    for method, suffix in (("PATCH", ""), ("DELETE", ""), ("GET", "/deliveries")):
        response = client.request(
            method,
            f"{BASE}/webhooks/{theirs['id']}{suffix}",
            headers=auth(),
            json={"enabled": False},
        )
        assert response.status_code == 404
        assert "hooks.example.com" not in response.text
