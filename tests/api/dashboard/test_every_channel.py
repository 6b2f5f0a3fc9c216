"""Every channel, end to end: an order placed through each of the five API dialects shows on
the staff's board with the channel named in words; staff move it on from the order page;
the dialect then reads the new status back in its own words, and a webhook subscriber of the
practice receives the ``order.status_changed`` delivery naming the order and its new status.

Each case is one small world: the dashboard's practice and staff (``conftest.world``), what
the dialect needs to place an order (an app, a patient, a lab account…), a real HTTP
receiver on loopback, and the delivery worker run as the webhook tests run it.

Two things the dialects do not offer, and what stands in for them:

* The partner API has no call that creates an order (its contract: read, change status,
  inventory, webhooks). Its order is placed through the order service as the partner app
  (``via="partner"``), as the board and order-page tests place theirs; reading it back and
  subscribing go through the partner API itself.
* Only the partner and fulfillment dialects have webhook subscriptions. The lab, portal and
  practice APIs' orders are announced to a partner API subscriber of the same practice
  (subscribed through the partner API, as the lab tests do).
* The portal API reads an order's status as the practice's own status id that means its
  state now (``surfaces.portal.resources._order_status_shown``): a move on the dashboard
  reads back as "S-LAB" ("At lab").
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from optihub.db.models import Lab, LabAccount
from optihub.events.signing import verify
from optihub.services import oauth_clients, patients
from optihub.services import orders as order_service
from optihub.services.context import Actor
from optihub.surfaces import SURFACES
from tests import factories
from tests.api.dashboard.conftest import STAFF, Agent, World, text_of
from tests.api.fulfillment.conftest import SCOPES as FULFILLMENT_SCOPES
from tests.api.fulfillment.test_notifications import receiver, run_worker
from tests.api.labs.conftest import LAB_SCOPES
from tests.api.partner.conftest import ALL_SCOPES as PARTNER_SCOPES
from tests.api.portal.conftest import connected_app, token_for
from tests.api.practice.conftest import ALL_SCOPES as PRACTICE_SCOPES

__all__ = ["receiver"]  # the loopback receiver fixture, imported to be found here

BOARD = "/dashboard/orders"


@dataclass
class Context:
    """What a dialect needs to act: the app over https, its database, the dashboard's world
    and a way to mint an access token for an app of the practice."""

    http: TestClient
    db: Any
    world: World
    token: Callable[..., str]

    def bearer(self, scope: str, client_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(self.world.practice_id, scope, client_id)}"}


@dataclass
class Placed:
    """An order placed through a dialect, and how that dialect reads its status."""

    order_id: uuid.UUID
    read_status: Callable[[], str]


@dataclass(frozen=True)
class Channel:
    name: str
    title: str  # the dialect's Surface.title, as the board names the channel
    place: Callable[[Context], Placed]
    received: str  # the order's status in the dialect's words, as placed
    at_the_lab: str | None  # ... once staff sent it to the lab (None: not read back, see below)
    hook: str  # the dialect whose webhook subscriber hears of the move (HOOKS)


def _ok(response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


# -- placing an order through each dialect ----------------------------------------------------


def place_partner(ctx: Context) -> Placed:
    """No partner call creates orders: the order is the partner app's, placed through the
    service; it is read back with ``GET /api/v1/partner/orders/{id}``."""
    practice_id = ctx.world.practice_id
    with ctx.db.transaction() as s:
        location = factories.location(s, practice_id, "Harbor Street")
        patient = factories.patient(s, practice_id, first_name="Ada", last_name="Partner")
        order = order_service.place_order(
            s,
            Actor(practice_id=practice_id, via="partner", label="Acme PMS (app)"),
            order_service.NewOrder(
                patient_id=patient.id,
                location_id=location.id,
                external_id="PMS-1",
                lines=[order_service.LineItem("Frame", 1, Decimal("189.00"))],
            ),
        )
        order_id = order.id
    headers = ctx.bearer("orders:read", "partner-app")

    def read() -> str:
        body = _ok(ctx.http.get(f"/api/v1/partner/orders/{order_id}", headers=headers))
        assert body["id"] == str(order_id)
        return str(body["status"])

    return Placed(order_id, read)


def place_labs(ctx: Context) -> Placed:
    """``POST /v1/orders`` (a frame job, submitted) with the app's token from
    ``POST /v1/oauth/token`` and the acting staff member's ``User-Email``; read back from
    ``GET /v1/orders?lab=…&account_number=…``."""
    practice_id = ctx.world.practice_id
    with ctx.db.transaction() as s:
        registered = oauth_clients.register_client(
            s, name="Lab order tool", scope=LAB_SCOPES, redirect_uris=[], practice_ids=[practice_id]
        )
        lab = Lab(name="Precision Optical Lab", code="precision-every")
        s.add(lab)
        s.flush()
        s.add(
            LabAccount(
                practice_id=practice_id,
                lab_id=lab.id,
                account_number="PX-1",
                frame_handling_options=["Frame to follow"],
                order_types=["rx", "frame"],
            )
        )
        lab_id = f"lab_{lab.id.hex}"
    token = _ok(
        ctx.http.post(
            "/v1/oauth/token",
            json={
                "client_id": registered.client.client_id,
                "client_secret": registered.client_secret,
            },
        )
    )["token"]
    headers = {"Authorization": f"Bearer {token}", "User-Email": STAFF}
    body = {
        "mode": "submit",
        "submission_type": "new",
        "order_type": "frame",
        "lab": lab_id,
        "account_number": "PX-1",
        "patient": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
        "frame": {
            "handling": "Frame to follow",
            "manufacturer": "Ray-Ban",
            "model": "RB5154",
            "color": "Black",
            "sku": "RB5154-2000",
            "material": "zyl",
            "eye_size": 51,
            "bridge": 21,
            "temple": 145,
            "a": 51.2,
            "b": 40,
            "lens_ed": 55.5,
        },
    }
    public_id = _ok(ctx.http.post("/v1/orders", json=body, headers=headers))["id"]
    assert public_id.startswith("ord_")

    def read() -> str:
        listed = _ok(
            ctx.http.get(
                "/v1/orders",
                params={"lab": lab_id, "account_number": "PX-1"},
                headers=headers,
            )
        )
        [shown] = [o for o in listed["data"] if o["id"] == public_id]
        return str(shown["lab_status"])

    return Placed(uuid.UUID(hex=public_id[4:]), read)


def place_portal(ctx: Context) -> Placed:
    """``POST /api/Orders`` after the location, patient and the practice's own order
    statuses it links to, with a token from ``POST /api/token`` (the sync credentials);
    read back with ``GET /api/Orders?externalId=…`` (the practice's status id)."""
    client_id, secret = connected_app(ctx.db, ctx.world.practice_id, "Harbor PMS")
    headers = {"Authorization": f"Bearer {token_for(ctx.http, client_id, secret)}"}
    for resource, sent in (
        ("Locations", {"externalId": "L1", "name": "Harbor Street", "active": True}),
        ("Patients", {"externalId": "P1", "firstName": "Maya", "lastName": "Lind"}),
        ("OrderStatuses", {"externalId": "S-NEW", "name": "New", "active": True}),
        ("OrderStatuses", {"externalId": "S-LAB", "name": "At lab", "active": True}),
        (
            "Orders",
            {
                "externalId": "O1",
                "patientExternalId": "P1",
                "locationExternalId": "L1",
                "orderStatusExternalId": "S-NEW",
                "type": "Spectacles",
            },
        ),
    ):
        answer = _ok(ctx.http.post(f"/api/{resource}", json=sent, headers=headers))
    order_id = uuid.UUID(answer["id"])

    def read() -> str:
        body = _ok(ctx.http.get("/api/Orders", params={"externalId": "O1"}, headers=headers))
        assert body["id"] == str(order_id)
        return str(body["orderStatusExternalId"])

    return Placed(order_id, read)


def place_practice(ctx: Context) -> Placed:
    """``POST /v2/{client_id}/orders``; read back with ``GET /v2/{client_id}/orders/{id}``."""
    practice_id = ctx.world.practice_id
    with ctx.db.transaction() as s:
        store = factories.location(s, practice_id, "Main Street")
        patient = factories.patient(s, practice_id, first_name="Liam", last_name="Practice")
        store_id, patient_id = str(store.id), str(patient.id)
    headers = ctx.bearer(PRACTICE_SCOPES, "practice-app")
    base = f"/v2/{practice_id}/orders"
    body = {
        "patient_id": patient_id,
        "store_id": store_id,
        "external_id": "EC-1001",
        "type": "spectacles",
        "items": [{"description": "Single vision lenses", "quantity": 2, "unit_price": 45.5}],
    }
    order_id = _ok(ctx.http.post(base, json=body, headers=headers), 201)["order_id"]

    def read() -> str:
        return str(_ok(ctx.http.get(f"{base}/{order_id}", headers=headers))["status"])

    return Placed(uuid.UUID(order_id), read)


def place_fulfillment(ctx: Context) -> Placed:
    """``POST /fulfillment/v1/orders`` (a frame, shipped to the patient's address); read back
    with ``GET /fulfillment/v1/orders/{id}``."""
    practice_id = ctx.world.practice_id
    with ctx.db.transaction() as s:
        patient = patients.create_patient(
            s,
            factories.actor(practice_id),
            patients.PatientDetails(
                first_name="Grace",
                last_name="Fulfillment",
                email="grace@example.com",
                address_line1="12 Harbor Road",
                city="Boston",
                state="MA",
                postal_code="02110",
            ),
        )
        frame = factories.frame(s, practice_id)
        patient_id, sku = str(patient.id), frame.sku
    headers = ctx.bearer(FULFILLMENT_SCOPES, "blend-store")
    body = {
        "patient_id": patient_id,
        "external_id": "SHOP-1",
        "products": {"non_prescription": [{"sku": sku, "quantity": 1}]},
    }
    created = _ok(ctx.http.post("/fulfillment/v1/orders", json=body, headers=headers), 201)

    def read() -> str:
        shown = _ok(ctx.http.get(f"/fulfillment/v1/orders/{created['id']}", headers=headers))
        return str(shown["status"])

    return Placed(uuid.UUID(created["id"]), read)


# -- subscribing a receiver ------------------------------------------------------------------


def subscribe_partner(ctx: Context, url: str) -> str:
    """``POST /api/v1/partner/webhooks`` for ``order.status_changed``; the signing secret."""
    created = ctx.http.post(
        "/api/v1/partner/webhooks",
        json={"url": url, "events": ["order.status_changed"], "description": "Every channel"},
        headers=ctx.bearer(PARTNER_SCOPES, "partner-hooks"),
    )
    return str(_ok(created, 201)["secret"])


def heard_partner(body: dict[str, Any]) -> tuple[str, str, str, str]:
    """(event, order id, status, previous status) of a partner-shaped delivery."""
    assert set(body) == {"id", "type", "created_at", "practice_id", "data"}, body
    data = body["data"]
    return body["type"], data["id"], data["status"], data["previous_status"]


def subscribe_fulfillment(ctx: Context, url: str) -> str:
    """``POST /fulfillment/v1/notifications`` for ``order.status_changed``."""
    created = ctx.http.post(
        "/fulfillment/v1/notifications",
        json={"url": url, "event_codes": ["order.status_changed"]},
        headers=ctx.bearer(FULFILLMENT_SCOPES, "blend-hooks"),
    )
    return str(_ok(created, 201)["secret"])


def heard_fulfillment(body: dict[str, Any]) -> tuple[str, str, str, str]:
    """(event code, order id, status, previous status) of a fulfillment notification."""
    data = body["data"]
    return body["event_code"], data["id"], data["status"], data["previous_status"]


HOOKS: dict[str, tuple[Callable[[Context, str], str], Callable[[dict[str, Any]], Any]]] = {
    "partner": (subscribe_partner, heard_partner),
    "fulfillment": (subscribe_fulfillment, heard_fulfillment),
}
# How each subscriber's dialect words the two statuses (its webhook body's vocabulary).
HOOK_WORDS = {"partner": ("pending", "in_progress"), "fulfillment": ("received", "picked")}

CHANNELS = [
    Channel("partner", "Partner API", place_partner, "pending", "in_progress", "partner"),
    Channel("labs", "Lab ordering API", place_labs, "submitted", "in_progress", "partner"),
    # The portal reads an order's status as the practice's own status id: the one that
    # means its state now ("S-LAB": "At lab").
    Channel("portal", "Patient portal sync", place_portal, "S-NEW", "S-LAB", "partner"),
    Channel(
        "practice", "Practice management API", place_practice, "received", "in_progress", "partner"
    ),
    Channel(
        "fulfillment", "Fulfillment API", place_fulfillment, "received", "picked", "fulfillment"
    ),
]


# Installed dialects that place no orders (so have no channel here), with the reason.
PLACES_NO_ORDERS = {"fhir": "reads and imports prescriptions and patients, never orders"}


def test_the_channels_are_every_installed_dialect_with_its_title():
    assert {c.name: c.title for c in CHANNELS} == {
        s.name: s.title for s in SURFACES if s.name not in PLACES_NO_ORDERS
    }


# -- the pages -------------------------------------------------------------------------------


def board_row(html: str, order_id: uuid.UUID) -> list[str]:
    """The cells (as text) of the board's row that links to the order; fails without one."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    found = [
        row
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
        if f'href="/dashboard/orders/{order_id}"' in row
    ]
    assert len(found) == 1, f"order {order_id} is not on the board once: {text_of(body)}"
    return [text_of(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", found[0], re.S)]


def move_on_form(html: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The order page's move-on form: (action, hidden fields, {button value: label})."""
    form = re.search(
        r'<form method="post" action="([^"]+)" class="order-moves">(.*?)</form>', html, re.S
    )
    assert form is not None, "the order page offers no move"
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form[2]))
    buttons = {
        value: text_of(label)
        for value, label in re.findall(
            r'<button type="submit" name="to" value="([^"]+)"[^>]*>(.*?)</button>', form[2], re.S
        )
    }
    return form[1], hidden, buttons


# -- the test --------------------------------------------------------------------------------


@pytest.fixture
def https(app):
    """The app over https: the dialects' token calls answer nothing else, and staff sign in
    over it too (each ``Agent`` keeps its own cookies)."""
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def ctx(app, db, world: World, https: TestClient) -> Context:
    def mint(practice_id: int, scope: str, client_id: str) -> str:
        return app.state.tokens.issue_access_token(
            client_id=client_id, subject="user-1", scope=scope, practice_ids=[practice_id]
        ).token

    return Context(https, db, world, mint)


def send_to_lab(staff: Agent, order_id: uuid.UUID, title: str) -> None:
    """Move the order on with the order page's own form, as staff do: "Send to the lab"."""
    page = staff.get(f"/dashboard/orders/{order_id}")
    assert page.status_code == 200, page.text
    assert f"through {title}" in text_of(page.text)
    action, hidden, buttons = move_on_form(page.text)
    assert hidden["from"] == "received" and hidden["csrf_token"]
    assert buttons.get("in_progress") == "Send to the lab", buttons
    moved = staff.request("POST", action, data={**hidden, "to": "in_progress"})
    assert moved.status_code == 303, moved.text
    assert moved.headers["location"] == f"/dashboard/orders/{order_id}"
    number = re.search(r"<h1>Order (\S+) ", page.text)
    assert number is not None
    after = staff.get(moved.headers["location"]).text
    assert f"Order {number[1]} is now At the lab." in text_of(after)


@pytest.mark.parametrize("channel", [pytest.param(c, id=c.name) for c in CHANNELS])
def test_an_order_from_every_channel_is_moved_on_the_order_page_and_heard_of(
    channel: Channel, app, db, ctx: Context, receiver: dict[str, Any]
):
    # 1. Placed through the dialect's own API, it shows on the board, channel named.
    placed = channel.place(ctx)
    assert placed.read_status() == channel.received
    subscribe, heard = HOOKS[channel.hook]
    secret = subscribe(ctx, receiver["url"] + f"/{channel.name}")

    staff = Agent(ctx.http).sign_in(STAFF)
    board = staff.get(f"{BOARD}?status=received")
    assert board.status_code == 200, board.text
    number, _patient, came_through, *_rest = board_row(board.text, placed.order_id)
    assert came_through.startswith(channel.title), came_through
    found = staff.get(f"{BOARD}?q={number}")
    assert board_row(found.text, placed.order_id)[2] == "Received"

    # Nothing is announced to the subscriber before the move (it hears of status changes).
    run_worker(app, db)
    assert receiver["requests"] == []

    # 2. Staff send it to the lab from the order page; the board shows it at the lab...
    send_to_lab(staff, placed.order_id, channel.title)
    at_lab = staff.get(f"{BOARD}?status=in_progress").text
    assert board_row(at_lab, placed.order_id)[2].startswith(channel.title)
    # ... and the dialect reads the new status back in its own words (the portal: see below).
    shown = placed.read_status()
    if channel.at_the_lab is not None:
        assert shown == channel.at_the_lab

    # 3. The subscriber receives order.status_changed naming the order and its new status.
    run_worker(app, db)
    assert len(receiver["requests"]) == 1, receiver["requests"]
    [request] = receiver["requests"]
    assert request["path"] == f"/{channel.name}"
    headers = request["headers"]
    assert verify(
        secret, headers["X-Webhook-Timestamp"], request["body"], headers["X-Webhook-Signature"]
    )
    event, order_id, status, previous = heard(orjson.loads(request["body"]))
    assert (event, order_id) == ("order.status_changed", str(placed.order_id))
    assert (previous, status) == HOOK_WORDS[channel.hook]
