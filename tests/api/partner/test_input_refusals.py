"""Input the fuzzer found accepted or crashing: refused with a 400 in the partner envelope,
nothing written."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.partner.conftest import BASE


@pytest.mark.parametrize(
    "since",
    [
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
    ],
)
def test_since_at_the_ends_of_the_calendar_is_400(client, shop, auth, since):
    response = client.get(f"{BASE}/orders", params={"since": since}, headers=auth())
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    frames = client.get(f"{BASE}/frames", params={"updated_since": since}, headers=auth())
    assert frames.status_code == 400, frames.text


def test_since_inside_the_calendar_still_works(client, shop, auth, monkeypatch):
    from optihub.surfaces.partner import routes

    monkeypatch.setattr(routes, "SETTLE", timedelta(0))
    response = client.get(
        f"{BASE}/orders", params={"since": "1970-01-01T00:00:00Z"}, headers=auth()
    )
    assert response.status_code == 200
    assert len(response.json()["data"]) == 3


@pytest.mark.parametrize("enabled", [0, 1, "true", "false", None, 1.0])
def test_webhook_enabled_must_be_a_boolean(client, shop, auth, enabled):
    body = {"url": "https://hooks.example.com/a", "events": ["*"], "enabled": enabled}
    response = client.post(f"{BASE}/webhooks", json=body, headers=auth())
    assert response.status_code == 400, response.text
    assert client.get(f"{BASE}/webhooks", headers=auth()).json()["data"] == []


@pytest.mark.parametrize("quantity", ["7", 7.0, True, 7.5])
def test_inventory_quantity_must_be_an_integer(client, shop, auth, quantity):
    body = {"updates": [{"sku": "RB-1", "quantity": quantity}]}
    response = client.post(f"{BASE}/inventory", json=body, headers=auth())
    assert response.status_code == 400, response.text
    frame = client.get(f"{BASE}/frames", params={"brand": "Ray-Ban"}, headers=auth()).json()
    assert {f["sku"]: f["quantity"] for f in frame["data"]}["RB-1"] == 4


def test_nul_in_a_status_note_is_400_and_changes_nothing(client, shop, auth):
    order = shop.orders[0]
    response = client.patch(
        f"{BASE}/orders/{order}", json={"status": "in_progress", "note": "a\x00b"}, headers=auth()
    )
    assert response.status_code == 400, response.text
    assert "NUL" in response.json()["error"]["message"]
    assert client.get(f"{BASE}/orders/{order}", headers=auth()).json()["status"] == "pending"
