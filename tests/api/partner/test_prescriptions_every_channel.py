"""The partner prescriptions list over orders written by every channel.

Each dialect writes orders its own way: the lab-order API snapshots the Rx of an ``rx`` job
itself, a frame job has none; the portal, practice and fulfillment APIs place orders with
no Rx on the order (fulfillment links prescriptions to product lines, not to the order);
an order placed through the order service may carry an Rx typed in with it or the Rx of a
prescription on file. Whoever wrote them, every item of ``GET /prescriptions`` is the
documented Prescription object (``right`` / ``left`` read as eyes), and ``total`` counts
exactly the orders that carry an Rx (docs/partner-api.md, "Prescriptions").

Orders are placed as tests/api/dashboard/test_every_channel.py places them (the same
functions), plus an ``rx`` job through ``POST /v1/orders`` and two service orders with an Rx.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from optihub.services import orders as order_service
from optihub.services import prescriptions as rx_service
from optihub.services import users
from optihub.services.context import Actor
from optihub.surfaces.partner import schemas
from tests import factories
from tests.api.dashboard.conftest import PASSWORD, World
from tests.api.dashboard.conftest import STAFF as DASHBOARD_STAFF
from tests.api.dashboard.test_every_channel import CHANNELS, Context
from tests.api.labs.conftest import LabWorld, lab, lab_token, lab_world
from tests.api.labs.test_orders import valid_body
from tests.api.partner.conftest import BASE

__all__ = ["lab", "lab_token", "lab_world"]  # the lab fixtures, imported to be found here

EYE_FIELDS = set(schemas.EyePrescription.model_fields)
PRESCRIPTION_FIELDS = set(schemas.Prescription.model_fields)


@pytest.fixture
def https(app):
    """The app over https: the dialects' token calls answer nothing else."""
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def ctx(app, db, https: TestClient, lab_world: LabWorld) -> Context:
    """The lab world's practice, with the member of staff the every-channel placements act
    as (the lab-order API names them in ``User-Email``)."""
    with db.transaction() as s:
        users.create_user(
            s,
            email=DASHBOARD_STAFF,
            password=PASSWORD,
            practice_id=lab_world.practice_id,
            role="staff",
            first_name="Sam",
            last_name="Harbor",
        )

    def mint(practice_id: int, scope: str, client_id: str) -> str:
        return app.state.tokens.issue_access_token(
            client_id=client_id, subject="user-1", scope=scope, practice_ids=[practice_id]
        ).token

    return Context(https, db, World(lab_world.practice_id, lab_world.other_practice_id), mint)


def place_with_rx(ctx: Context, *, on_file: bool) -> uuid.UUID:
    """A service order carrying an Rx: typed in with it, or the Rx of a prescription on
    file (its snapshot then also names the issue date and prescriber)."""
    practice_id = ctx.world.practice_id
    actor = Actor(practice_id=practice_id, via="partner" if on_file else "dashboard", label="t")
    with ctx.db.transaction() as s:
        patient = factories.patient(s, practice_id)
        prescription_id = None
        if on_file:
            prescription_id = rx_service.create_spectacle_prescription(
                s,
                actor,
                patient_id=patient.id,
                rx=factories.spectacle_rx(),
                issued_on=date(2025, 3, 1),
                expires_on=date(2027, 3, 1),
                prescriber_name="Dr. Ana Ruiz, OD",
            ).id
        return order_service.place_order(
            s,
            actor,
            order_service.NewOrder(
                patient_id=patient.id,
                rx=None if on_file else factories.spectacle_rx(),
                prescription_id=prescription_id,
                lines=[order_service.LineItem("Lenses", 1, Decimal("120.00"))],
            ),
        ).id


def assert_documented(item: Any) -> None:
    """One list item is the documented Prescription object, eyes included."""
    assert isinstance(item, dict), item
    assert set(item) == PRESCRIPTION_FIELDS, item
    schemas.Prescription.model_validate(item)
    assert item["right"] is not None or item["left"] is not None, item
    for side in ("right", "left"):
        if item[side] is not None:
            assert set(item[side]) == EYE_FIELDS, item[side]


def test_every_item_is_a_documented_prescription_whatever_channel_wrote_the_order(
    ctx: Context, lab, lab_world: LabWorld
):
    without_rx = {channel.name: channel.place(ctx).order_id for channel in CHANNELS}
    lab_job = lab.post("/v1/orders", json=valid_body(lab_world))
    assert lab_job.status_code == 200, lab_job.text
    with_rx = {
        uuid.UUID(hex=lab_job.json()["id"][4:]),
        place_with_rx(ctx, on_file=False),
        place_with_rx(ctx, on_file=True),
    }
    headers = ctx.bearer("prescriptions:read", "partner-app")

    body = ctx.http.get(f"{BASE}/prescriptions", params={"limit": 100}, headers=headers)
    assert body.status_code == 200, body.text
    listed = body.json()
    schemas.PrescriptionList.model_validate(listed)
    for item in listed["data"]:
        assert_documented(item)
    assert {uuid.UUID(item["order_id"]) for item in listed["data"]} == with_rx
    assert listed["pagination"] == {"limit": 100, "offset": 0, "total": 3, "has_more": False}

    # Paged one at a time, newest first: the same three, each page full, total the same.
    seen = []
    for offset in range(3):
        page = ctx.http.get(
            f"{BASE}/prescriptions", params={"limit": 1, "offset": offset}, headers=headers
        ).json()
        assert page["pagination"]["total"] == 3
        assert page["pagination"]["has_more"] is (offset < 2)
        [item] = page["data"]
        assert_documented(item)
        seen.append(uuid.UUID(item["order_id"]))
    assert set(seen) == with_rx

    # Polling (``since``) sees the same orders; an order without an Rx is not there at all.
    polled = ctx.http.get(
        f"{BASE}/prescriptions", params={"since": "2000-01-01T00:00:00Z"}, headers=headers
    ).json()
    assert {uuid.UUID(item["order_id"]) for item in polled["data"]} == with_rx
    assert polled["pagination"]["total"] == 3
    for name, order_id in without_rx.items():
        one = ctx.http.get(
            f"{BASE}/prescriptions", params={"order_id": str(order_id)}, headers=headers
        ).json()
        assert one["data"] == [], name
        assert one["pagination"]["total"] == 0, name


def test_the_lab_jobs_rx_reads_as_the_lab_sent_it(ctx: Context, lab, lab_world: LabWorld):
    placed = lab.post("/v1/orders", json=valid_body(lab_world))
    assert placed.status_code == 200, placed.text
    order_id = placed.json()["id"][4:]
    headers = ctx.bearer("prescriptions:read", "partner-app")
    body = ctx.http.get(
        f"{BASE}/prescriptions", params={"order_id": str(uuid.UUID(hex=order_id))}, headers=headers
    ).json()
    [item] = body["data"]
    assert_documented(item)
    right, left = item["right"], item["left"]
    assert (Decimal(right["sphere"]), Decimal(right["cylinder"]), right["axis"]) == (
        Decimal("-2.25"),
        Decimal("-0.75"),
        90,
    )
    assert right["prism_horizontal"]["base"] == "in"
    assert Decimal(right["prism_horizontal"]["amount"]) == 1
    assert Decimal(left["sphere"]) == Decimal("-2")
    assert Decimal(item["binocular_pd"]) == Decimal("63.5")
