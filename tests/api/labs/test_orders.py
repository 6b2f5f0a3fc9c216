"""Lab orders: POST /v1/orders (every rule of the contract's table, drafts, idempotency,
effects in the core) and GET /v1/orders (cursors, created filters, limits, tenancy)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import (
    AuditEntry,
    Event,
    IdempotencyKey,
    Order,
    OrderStatusChange,
    Patient,
    User,
    WebhookDelivery,
)
from optihub.domain.orders import OrderStatus
from optihub.services.context import Actor
from optihub.services.orders import NewOrder, change_order_status, place_order
from tests.api.labs.conftest import STAFF

ORDERS = "/v1/orders"


def valid_body(world, **changes: Any) -> dict[str, Any]:
    """A submit that passes every rule: the Precision lab, account PX-1, every field set."""
    body: dict[str, Any] = {
        "mode": "submit",
        "submission_type": "new",
        "order_type": "rx",
        "lab": world.labs["precision"],
        "account_number": "PX-1",
        "patient": {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "phone_number": "(555) 123-4567",
        },
        "mounting_option": "Edged & mounted",
        "lens": {
            "style": world.ids["sv"],
            "material": world.ids["poly"],
            "color": world.ids["clear"],
            "coats": [world.ids["ar"], world.ids["blue"], world.ids["mirror"]],
            "tint": "Gray",
            "tint_instruction": "Gradient, 50% at the top",
        },
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
            "vertex": 12,
            "pantoscopic_tilt": 8,
            "wrap": 5,
        },
        "rx": {
            "right_eye": {
                "sphere": -2.25,
                "cylinder": -0.75,
                "axis": 90,
                "pd": 32,
                "near_pd": 30.5,
                "add": 2,
                "seg_height": 18,
                "oc_height": 20,
                "horizontal_prism": {"power": 1, "direction": "in"},
                "vertical_prism": {"power": 0.5, "direction": "up"},
            },
            "left_eye": {"sphere": -2, "pd": 31.5},
        },
        "services": ["Roll & polish edges"],
        "special_instructions": "Match the old pair's tint.",
        "shipping": {
            "name": "Ada Lovelace",
            "address_line1": "1 Harbor Way",
            "city": "Portland",
            "state": "OR",
            "postal_code": "97201",
        },
    }
    for path, value in changes.items():
        set_path(body, path, value)
    return body


DELETE = object()


def set_path(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``set_path(body, "rx.right_eye.axis", 7)``; ``DELETE`` removes the key."""
    *parents, last = path.split(".")
    node = body
    for name in parents:
        node = node.setdefault(name, {})
    if value is DELETE:
        node.pop(last, None)
    else:
        node[last] = value
    return body


def refused(response) -> list[tuple[str, str]]:
    """The (param, message) violations of a 400, after checking the envelope's shape."""
    assert response.status_code == 400, response.text
    body = response.json()
    error = body["error"]
    assert error["type"] == "invalid_request_error"
    violations = [(e["param"], e["message"]) for e in body.get("errors", [])]
    if violations:
        assert (error["param"], error["message"]) == violations[0]
    return violations or [(error.get("param"), error["message"])]


def params(response) -> set[str]:
    return {param for param, _ in refused(response)}


def counts(db) -> dict[str, int]:
    with db.reading() as reader:
        return {
            model.__name__: reader.scalar(select(func.count()).select_from(model))
            for model in (Order, Patient, Event, OrderStatusChange, AuditEntry, IdempotencyKey)
        }


def order_row(db, public: str) -> Order:
    with Session(db.engine) as session:
        order = session.get(Order, uuid.UUID(hex=public[4:]))
    assert order is not None
    return order


# -- a valid order -------------------------------------------------------------------------


def test_a_submitted_order_is_received_with_the_acting_user_and_every_field(lab, lab_world, db):
    response = lab.post(ORDERS, json=valid_body(lab_world))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"].startswith("ord_")
    assert body["lab_status"] == "submitted"
    assert body["tray_number"] is None and body["invoice_number"] is None
    assert isinstance(body["created"], int) and body["updated"] == body["created"]
    assert "url" not in body  # drafts only
    order = order_row(db, body["id"])
    with Session(db.engine) as reader:
        staff = reader.scalar(select(User).where(User.email == STAFF.lower()))
        patient = reader.get(Patient, order.patient_id)
        history = reader.scalars(
            select(OrderStatusChange).where(OrderStatusChange.order_id == order.id)
        ).all()
    assert order.status == "received" and order.type == "spectacles"
    assert order.practice_id == lab_world.practice_id
    assert order.submitted_by_user_id == staff.id == order.created_by_user_id
    assert order.submitted_at is not None and order.created_via == "labs"
    assert str(order.lab_id.hex) == lab_world.labs["precision"][4:]
    assert order.lab_account_number == "PX-1" and order.lab_order_type == "rx"
    assert order.submission_type == "new" and order.mounting_option == "Edged & mounted"
    assert order.lab_services == ["Roll & polish edges"]
    assert order.lens["style"] == "Essential Single Vision"
    assert order.lens["material"] == "Polycarbonate" and order.lens["color"] == "Clear"
    assert order.lens["coats"] == ["Basic AR", "Blue Filter", "Silver Mirror"]
    assert order.lens["tint"] == "Gray"
    assert order.frame_details["brand"] == "Ray-Ban" and order.frame_details["ed"] == "55.5"
    assert order.frame_details["eye_size"] == 51 and order.frame_details["handling"]
    assert order.rx_snapshot["right"]["axis"] == 90
    assert order.rx_snapshot["right"]["prism_horizontal"] == {"amount": "1", "base": "in"}
    assert order.rx_snapshot["left"]["distance_pd"] == "31.5"
    assert order.shipping_address["country"] == "US"
    # The phone as given (the vendor's only rule is its length); 555 is no area code, so
    # it has no E.164 form.
    assert (patient.first_name, patient.email, patient.phone, patient.phone_e164) == (
        "Ada",
        "ada@example.com",
        "(555) 123-4567",
        None,
    )
    assert STAFF.lower() in history[0].actor_label and history[0].via == "labs"


def test_a_draft_is_a_draft_with_its_dashboard_url(lab, lab_world, db, settings):
    response = lab.post(ORDERS, json=valid_body(lab_world, mode="draft"))
    assert response.status_code == 200, response.text
    body = response.json()
    order = order_row(db, body["id"])
    assert body["lab_status"] == "draft" and order.status == "draft"
    assert body["url"] == f"{settings.issuer}/dashboard/drafts/{order.id}"
    assert order.submitted_at is None and order.submitted_by_user_id is None


def test_the_order_shows_in_the_partner_api_and_emits_order_created(
    lab, lab_world, db, client, issue_token
):
    order_id = order_row(db, lab.post(ORDERS, json=valid_body(lab_world)).json()["id"]).id
    token = issue_token(lab_world.practice_id, "orders:read")
    listed = client.get(
        "/api/v1/partner/orders", headers={"Authorization": f"Bearer {token}"}
    ).json()
    [shown] = [o for o in listed["data"] if o["id"] == str(order_id)]
    assert shown["status"] == "pending"
    assert shown["lens"]["style"] == "Essential Single Vision"
    assert shown["frame"]["sku"] == "RB5154-2000"
    with Session(db.engine) as reader:
        events = reader.scalars(select(Event).where(Event.type == "order.created")).all()
    assert [e.data["id"] for e in events] == [str(order_id)]
    assert events[0].practice_id == lab_world.practice_id


def test_a_patient_with_the_same_names_and_email_is_reused(lab, lab_world, db):
    first = order_row(db, lab.post(ORDERS, json=valid_body(lab_world)).json()["id"])
    again = valid_body(lab_world)
    again["patient"] |= {"first_name": "ADA", "email": "Ada@Example.com"}
    second = order_row(db, lab.post(ORDERS, json=again).json()["id"])
    other = valid_body(lab_world)
    other["patient"]["email"] = "ada.l@example.com"
    third = order_row(db, lab.post(ORDERS, json=other).json()["id"])
    no_email = valid_body(lab_world, **{"patient.email": DELETE})
    fourth = order_row(db, lab.post(ORDERS, json=no_email).json()["id"])
    assert first.patient_id == second.patient_id
    assert len({first.patient_id, third.patient_id, fourth.patient_id}) == 3


def test_a_frame_order_needs_no_rx_lens_or_mounting(lab, lab_world):
    body = valid_body(lab_world, order_type="frame")
    for key in ("rx", "lens", "mounting_option"):
        del body[key]
    assert lab.post(ORDERS, json=body).status_code == 200


# -- ranges: each bound passes, one step beyond fails ---------------------------------------

RANGES = [
    ("rx.right_eye.sphere", "-30", "30", False),
    ("rx.right_eye.cylinder", "-20", "20", False),
    ("rx.right_eye.axis", "1", "180", True),
    ("rx.right_eye.add", "0.5", "5", False),
    ("rx.right_eye.seg_height", "0.5", "50", False),
    ("rx.right_eye.oc_height", "0.5", "50", False),
    ("rx.right_eye.pd", "20", "50", False),
    ("rx.right_eye.near_pd", "20", "50", False),
    ("rx.right_eye.horizontal_prism.power", "0.01", "50", False),
    ("rx.left_eye.vertical_prism.power", "0.01", "50", False),
    ("frame.eye_size", "10", "100", True),
    ("frame.bridge", "10", "100", True),
    ("frame.a", "10", "100", False),
    ("frame.b", "10", "100", False),
    ("frame.lens_ed", "10", "100", False),
    ("frame.temple", "100", "200", True),
    ("frame.vertex", "1", "30", False),
    ("frame.pantoscopic_tilt", "-20", "20", False),
    ("frame.wrap", "0", "40", False),
]


def _number(text: str, integer: bool) -> int | float:
    return int(text) if integer else float(text)


@pytest.mark.parametrize(
    ("path", "low", "high", "integer"), [pytest.param(*r, id=r[0]) for r in RANGES]
)
def test_each_range_takes_its_bounds_and_refuses_one_step_beyond(
    lab, lab_world, path, low, high, integer
):
    step = Decimal(1) if integer else Decimal("0.01")
    if path.startswith("rx.left_eye.vertical_prism"):
        set_path_base = {"rx.left_eye.vertical_prism.direction": "down"}
    else:
        set_path_base = {}
    for value in (low, high):
        body = valid_body(lab_world, **set_path_base, **{path: _number(value, integer)})
        assert lab.post(ORDERS, json=body).status_code == 200, (path, value)
    for value in (Decimal(low) - step, Decimal(high) + step):
        body = valid_body(lab_world, **set_path_base, **{path: _number(str(value), integer)})
        violations = refused(lab.post(ORDERS, json=body))
        assert [p for p, _ in violations] == [path], (value, violations)
        assert "must be" in violations[0][1]


def test_ranges_and_enums_hold_for_drafts_too(lab, lab_world):
    body = valid_body(lab_world, mode="draft", **{"rx.right_eye.axis": 181})
    body["frame"]["material"] = "plastic"
    assert params(lab.post(ORDERS, json=body)) == {"rx.right_eye.axis", "frame.material"}


def test_a_binocular_pd_is_refused_saying_per_eye(lab, lab_world):
    [(param, message)] = refused(
        lab.post(ORDERS, json=valid_body(lab_world, **{"rx.right_eye.pd": 64}))
    )
    assert param == "rx.right_eye.pd" and "per eye" in message


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("rx.right_eye.axis", 7.5),
        ("rx.right_eye.axis", "7"),
        ("rx.right_eye.axis", 90.0),
        ("frame.eye_size", "51"),
        ("frame.temple", True),
        ("rx.right_eye.sphere", "-2.25"),
        ("frame.a", "51"),
        ("patient.first_name", 5),
        ("lens.coats", "coat_1"),
    ],
)
def test_wrong_types_are_refused_naming_the_field(lab, lab_world, path, value):
    assert params(lab.post(ORDERS, json=valid_body(lab_world, **{path: value}))) == {path}


# -- required -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["draft", "submit"])
@pytest.mark.parametrize(
    "path",
    [
        "submission_type",
        "order_type",
        "lab",
        "account_number",
        "patient",
        "patient.first_name",
        "patient.last_name",
        "frame",
        "rx",
        "mounting_option",
    ],
)
def test_always_required_fields_are_required_in_both_modes(lab, lab_world, mode, path):
    body = valid_body(lab_world, mode=mode, **{path: DELETE})
    violations = refused(lab.post(ORDERS, json=body))
    assert [p for p, _ in violations] == [path]
    assert "required" in violations[0][1]


def test_mode_is_required_and_must_be_draft_or_submit(lab, lab_world):
    assert params(lab.post(ORDERS, json=valid_body(lab_world, mode=DELETE))) == {"mode"}
    assert params(lab.post(ORDERS, json=valid_body(lab_world, mode="later"))) == {"mode"}


def test_lens_is_required_to_submit_an_rx_order_but_not_for_a_draft(lab, lab_world):
    submit = valid_body(lab_world, lens=DELETE)
    assert params(lab.post(ORDERS, json=submit)) == {"lens"}
    draft = valid_body(lab_world, mode="draft", lens=DELETE)
    assert lab.post(ORDERS, json=draft).status_code == 200


def test_frame_fields_are_required_to_submit_but_not_for_a_draft(lab, lab_world):
    submit = valid_body(lab_world, frame={"sku": "X-1"})
    assert params(lab.post(ORDERS, json=submit)) == {
        "frame.handling",
        "frame.manufacturer",
        "frame.model",
        "frame.material",
        "frame.color",
        "frame.eye_size",
        "frame.bridge",
    }
    draft = valid_body(lab_world, mode="draft", frame={"sku": "X-1"})
    assert lab.post(ORDERS, json=draft).status_code == 200


def test_lens_parts_are_required_when_a_lens_is_sent(lab, lab_world):
    body = valid_body(lab_world, mode="draft", lens={"coats": []})
    assert params(lab.post(ORDERS, json=body)) == {"lens.style", "lens.material", "lens.color"}


def test_an_rx_needs_at_least_one_eye(lab, lab_world):
    [(param, message)] = refused(lab.post(ORDERS, json=valid_body(lab_world, rx={})))
    assert param == "rx" and "right_eye or left_eye" in message


# -- enums from the lab's settings and catalog ----------------------------------------------


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("submission_type", "urgent"),
        ("order_type", "contacts"),
        ("mounting_option", "Glued"),
        ("frame.handling", "Mail it"),
        ("frame.material", "Metal"),
        ("services", ["Engraving"]),
        ("lens.tint", "Purple"),
        ("lens.style", "style_" + "0" * 32),
        ("lens.style", "not-an-id"),
        ("lens.color", "color_" + "1" * 32),
        ("patient.email", "ada-at-example.com"),
        ("shipping.state", "ZZ"),
        ("shipping.country", "CA"),
        ("shipping.postal_code", "9720"),
    ],
)
def test_values_outside_the_allowed_ones_are_refused(lab, lab_world, path, value):
    param = "services.0" if path == "services" else path
    assert params(lab.post(ORDERS, json=valid_body(lab_world, **{path: value}))) == {param}


def test_the_settings_list_allowed_values_in_the_message(lab, lab_world):
    [(_, message)] = refused(lab.post(ORDERS, json=valid_body(lab_world, mounting_option="Glued")))
    assert "Edged & mounted, Uncut" in message


def test_another_labs_style_is_refused(lab, lab_world):
    body = valid_body(lab_world, **{"lens.style": lab_world.ids["coastal_sv"]})
    [(param, message)] = refused(lab.post(ORDERS, json=body))
    assert param == "lens.style" and "at this lab" in message


def test_material_and_coats_must_be_offered_for_the_style(lab, lab_world):
    # Comfort Progressive comes in polycarbonate only; the mirror coat is for single vision.
    body = valid_body(lab_world, **{"lens.style": lab_world.ids["prog"]})
    body["lens"]["material"] = lab_world.ids["cr39"]
    # The coat is judged even though the material is refused: the mirror coat is for
    # single vision, whatever the material.
    assert params(lab.post(ORDERS, json=body)) == {"lens.material", "lens.coats.2"}
    body["lens"]["material"] = lab_world.ids["poly"]
    assert params(lab.post(ORDERS, json=body)) == {"lens.coats.2"}


def test_order_type_from_the_settings_rx_always(lab, lab_world):
    assert lab.post(ORDERS, json=valid_body(lab_world, order_type="frame")).status_code == 200
    assert params(lab.post(ORDERS, json=valid_body(lab_world, order_type="Frame"))) == {
        "order_type"
    }


def test_an_unknown_lab_or_account_is_refused(lab, lab_world):
    assert params(lab.post(ORDERS, json=valid_body(lab_world, lab="lab_" + "2" * 32))) == {"lab"}
    assert params(lab.post(ORDERS, json=valid_body(lab_world, account_number="PX-9"))) == {
        "account_number"
    }
    # Coastal is one of the practice's labs, but HILL-1 is another practice's account.
    hill = valid_body(lab_world, lab=lab_world.labs["coastal"], account_number="HILL-1")
    assert "account_number" in params(lab.post(ORDERS, json=hill))


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("patient.first_name", 50),
        ("patient.last_name", 50),
        ("patient.phone_number", 20),
        ("frame.manufacturer", 50),
        ("frame.model", 50),
        ("frame.color", 50),
        ("frame.sku", 50),
        ("lens.tint_instruction", 250),
        ("special_instructions", 1000),
        ("shipping.name", 50),
    ],
)
def test_text_lengths(lab, lab_world, path, limit):
    fits = "x" * limit
    assert lab.post(ORDERS, json=valid_body(lab_world, **{path: fits})).status_code == 200
    violations = refused(lab.post(ORDERS, json=valid_body(lab_world, **{path: "x" * (limit + 1)})))
    assert violations == [(path, violations[0][1])] and str(limit) in violations[0][1]


# -- cross-field rules ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "param", "words"),
    [
        ({"rx.right_eye.axis": DELETE}, "rx.right_eye.axis", "Axis is required when cylinder"),
        ({"rx.right_eye.cylinder": DELETE}, "rx.right_eye.cylinder", "Cylinder is required"),
        ({"rx.right_eye.seg_height": DELETE}, "rx.right_eye.seg_height", "required when add"),
        ({"rx.right_eye.add": DELETE}, "rx.right_eye.add", "required when seg height"),
        ({"lens.tint_instruction": DELETE}, "lens.tint_instruction", "required when a tint"),
        (
            {"rx.right_eye.horizontal_prism.direction": DELETE},
            "rx.right_eye.horizontal_prism.direction",
            "in or out",
        ),
        (
            {"rx.right_eye.horizontal_prism.power": DELETE},
            "rx.right_eye.horizontal_prism.power",
            "power is required",
        ),
        (
            {"rx.right_eye.vertical_prism.direction": "in"},
            "rx.right_eye.vertical_prism.direction",
            "up or down",
        ),
        ({"submission_type": "redo"}, "redo_data", "required when the submission type is redo"),
        ({"submission_type": "multi_pair"}, "multi_pair_data", "required when"),
        ({"redo_data": {"reason": "Scratched", "reference": "T-1"}}, "redo_data", "only for"),
        ({"multi_pair_data": {"reference": "T-1"}}, "multi_pair_data", "only for"),
    ],
)
def test_cross_field_rules(lab, lab_world, changes, param, words):
    [(got, message)] = refused(lab.post(ORDERS, json=valid_body(lab_world, **changes)))
    assert got == param and words in message


# -- the lens: no violation hides another -------------------------------------------------


def test_a_tint_the_lab_does_not_offer_without_an_instruction_reports_both(lab, lab_world):
    body = valid_body(lab_world, **{"lens.tint": "Purple", "lens.tint_instruction": DELETE})
    assert refused(lab.post(ORDERS, json=body)) == [
        ("lens.tint_instruction", "Tint instruction is required when a tint is given."),
        ("lens.tint", "Tint must be one of: Gray."),
    ]


def test_a_lens_with_only_a_tint_reports_every_missing_part_and_the_tint(lab, lab_world):
    body = valid_body(lab_world, mode="draft", lens={"tint": "Purple"})
    assert refused(lab.post(ORDERS, json=body)) == [
        ("lens.style", "Lens style is required."),
        ("lens.material", "Lens material is required."),
        ("lens.color", "Lens color is required."),
        ("lens.tint_instruction", "Tint instruction is required when a tint is given."),
        ("lens.tint", "Tint must be one of: Gray."),
    ]


def test_an_unknown_style_hides_nothing_else_of_the_lens(lab, lab_world):
    """Without a style of this lab, the material, colour, coats and tint are judged by
    what the lab offers at all (the mirror coat is one of its coats: not refused)."""
    unknown = {
        "material": "material_" + "0" * 32,
        "color": "color_" + "1" * 32,
        "coat": "coat_" + "2" * 32,
    }
    body = valid_body(
        lab_world,
        lens={
            "style": lab_world.ids["coastal_sv"],
            "material": unknown["material"],
            "color": unknown["color"],
            "coats": [lab_world.ids["mirror"], unknown["coat"]],
            "tint": "Purple",
        },
    )
    assert refused(lab.post(ORDERS, json=body)) == [
        ("lens.tint_instruction", "Tint instruction is required when a tint is given."),
        (
            "lens.style",
            f"No lens style {lab_world.ids['coastal_sv']} at this lab (GET /v1/catalogs/styles).",
        ),
        (
            "lens.material",
            f"The lab offers no material {unknown['material']} (GET /v1/catalogs/materials).",
        ),
        ("lens.color", f"No color {unknown['color']} at this lab (GET /v1/catalogs/addons)."),
        ("lens.coats.1", f"No coat {unknown['coat']} at this lab (GET /v1/catalogs/addons)."),
        ("lens.tint", "Tint must be one of: Gray."),
    ]


def test_a_material_refused_for_the_style_hides_nothing_else_of_the_lens(lab, lab_world):
    """Comfort Progressive comes in polycarbonate only: with CR-39 the colour, coats and
    tint are still judged, by what the lab offers for the style."""
    body = valid_body(
        lab_world,
        **{
            "lens.style": lab_world.ids["prog"],
            "lens.material": lab_world.ids["cr39"],
            "lens.tint": "Purple",
            "lens.tint_instruction": DELETE,
        },
    )
    assert refused(lab.post(ORDERS, json=body)) == [
        ("lens.tint_instruction", "Tint instruction is required when a tint is given."),
        (
            "lens.material",
            f"The lab offers no material {lab_world.ids['cr39']} for this style"
            " (GET /v1/catalogs/materials).",
        ),
        (
            "lens.coats.2",
            f"No coat {lab_world.ids['mirror']} for this style (GET /v1/catalogs/addons).",
        ),
        ("lens.tint", "Tint must be one of: Gray."),
    ]


def test_redo_and_multi_pair_orders_with_their_data(lab, lab_world, db):
    redo = valid_body(
        lab_world,
        submission_type="redo",
        redo_data={"type": "Warranty", "reason": "Coating peeled", "reference": "INV-77"},
    )
    order = order_row(db, lab.post(ORDERS, json=redo).json()["id"])
    assert (order.redo_type, order.redo_reason, order.redo_reference) == (
        "Warranty",
        "Coating peeled",
        "INV-77",
    )
    multi = valid_body(
        lab_world, submission_type="multi_pair", multi_pair_data={"reference": "T-12"}
    )
    assert order_row(db, lab.post(ORDERS, json=multi).json()["id"]).multi_pair_reference == "T-12"
    bad = valid_body(lab_world, submission_type="redo", redo_data={"type": "Oops"})
    assert params(lab.post(ORDERS, json=bad)) == {
        "redo_data.type",
        "redo_data.reason",
        "redo_data.reference",
    }


def test_every_violation_is_reported_together(lab, lab_world):
    body = valid_body(
        lab_world,
        **{
            "rx.right_eye.axis": DELETE,
            "rx.left_eye.sphere": 31,
            "frame.temple": 99,
            "lens.style": lab_world.ids["coastal_sv"],
            "patient.email": "nope",
            "submission_type": "redo",
        },
    )
    violations = refused(lab.post(ORDERS, json=body))
    assert {p for p, _ in violations} == {
        "rx.right_eye.axis",
        "rx.left_eye.sphere",
        "frame.temple",
        "lens.style",
        "patient.email",
        "redo_data",
    }
    assert dict(violations)["rx.right_eye.axis"] == "Axis is required when cylinder is provided."


# -- the OMA tracing -------------------------------------------------------------------------


def test_a_tracing_is_parsed_and_stored(lab, lab_world, db, testdata):
    text = (testdata / "oma" / "lens_protocol-R360_1.oma").read_text()
    body = valid_body(lab_world, **{"frame.tracing": text})
    order = order_row(db, lab.post(ORDERS, json=body).json()["id"])
    assert order.frame_tracing == text


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("JOB=1\nnot a record\n", "line 2"),
        ("JOB=1\nDBP=18\n", "no TRCFMT"),
        ("JOB=1\nTRCFMT=1;4;E;R;F\nR=2500;2500\n", "TRCFMT"),
    ],
)
def test_a_broken_tracing_is_refused_naming_the_record(lab, lab_world, text, words):
    body = valid_body(lab_world, **{"frame.tracing": text})
    [(param, message)] = refused(lab.post(ORDERS, json=body))
    assert param == "frame.tracing" and words in message


# -- the body as a whole -------------------------------------------------------------------


def test_unknown_fields_are_refused_naming_them(lab, lab_world):
    assert params(lab.post(ORDERS, json=valid_body(lab_world, colour="red"))) == {"colour"}
    assert params(lab.post(ORDERS, json=valid_body(lab_world, **{"frame.colour": "red"}))) == {
        "frame.colour"
    }


def test_malformed_json_is_invalid_json(lab):
    response = lab.post(
        ORDERS, content=b'{"mode": "submit",', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_json")


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("patient.first_name", b'"Ada \\ud800"'),
        ("patient.first_name", b'"Ada \xed\xa0\x80"'),
        ("special_instructions", b'"\\udc00"'),
        ("frame.a", b"-1e-999999999"),
        ("rx.right_eye.sphere", b"1e-400"),
    ],
    ids=["escaped-surrogate", "raw-surrogate", "low-surrogate", "tiny-frame-a", "tiny-sphere"],
)
def test_what_no_field_can_take_is_refused_naming_it(lab, lab_world, db, path, sent):
    """Text that is not Unicode, a number a float cannot hold: 400, nothing written (the
    idempotency key is not used up)."""
    before = counts(db)
    content = orjson.dumps(valid_body(lab_world, **{path: "slot"})).replace(b'"slot"', sent)
    response = lab.post(
        ORDERS,
        content=content,
        headers={"Content-Type": "application/json", "Idempotency-Key": "unreadable-1"},
    )
    [(param, message)] = refused(response)
    assert param == path
    assert response.json()["error"]["code"] == "invalid_request"
    assert "valid Unicode" in message or "too small" in message
    assert counts(db) == before


def test_a_refused_order_writes_nothing(lab, lab_world, db):
    before = counts(db)
    body = valid_body(lab_world, **{"rx.right_eye.axis": 0, "patient.first_name": "New"})
    refused(lab.post(ORDERS, json=body, headers={"Idempotency-Key": "refused-1"}))
    refused(lab.post(ORDERS, json=valid_body(lab_world, **{"frame.tracing": "broken"})))
    assert counts(db) == before
    # The key was not used up by the refused request.
    fixed = valid_body(lab_world, **{"patient.first_name": "New"})
    assert lab.post(ORDERS, json=fixed, headers={"Idempotency-Key": "refused-1"}).status_code == 200
    after = counts(db)
    assert (after["Order"], after["Patient"], after["Event"]) == (
        before["Order"] + 1,
        before["Patient"] + 1,
        before["Event"] + 1,
    )


def test_idempotency_key_replays_and_refuses_a_different_body(lab, lab_world, db):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = lab.post(ORDERS, json=valid_body(lab_world), headers=key)
    again = lab.post(ORDERS, json=valid_body(lab_world), headers=key)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert counts(db)["Order"] == 1
    other = lab.post(ORDERS, json=valid_body(lab_world, special_instructions="x"), headers=key)
    assert other.status_code == 400
    error = other.json()["error"]
    assert (error["code"], error["param"]) == ("idempotency_error", "Idempotency-Key")
    too_long = lab.post(ORDERS, json=valid_body(lab_world), headers={"Idempotency-Key": "k" * 256})
    assert too_long.json()["error"]["code"] == "idempotency_error"
    assert counts(db)["Order"] == 1


def test_creating_needs_the_write_scope_and_a_user_email(https, lab_world, lab_token, issue_token):
    body = valid_body(lab_world)
    response = https.post(ORDERS, json=body, headers={"Authorization": f"Bearer {lab_token}"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "User-Email"
    read_only = issue_token(lab_world.practice_id, "lab_orders:read")
    response = https.post(
        ORDERS, json=body, headers={"Authorization": f"Bearer {read_only}", "User-Email": STAFF}
    )
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"


# -- GET /v1/orders --------------------------------------------------------------------------

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _lab_uuid(public: str) -> uuid.UUID:
    return uuid.UUID(hex=public[4:])


def _place(s, practice_id, lab_id, account, at, status=OrderStatus.RECEIVED, **lab_fields):
    return place_order(
        s,
        Actor.system(practice_id, "test"),
        NewOrder(
            status=status,
            created_at=at,
            lab_fields={"lab_id": lab_id, "lab_account_number": account, **lab_fields},
        ),
    )


@pytest.fixture
def listed(db, lab_world) -> list[str]:
    """Twelve PX-1 orders an hour apart (T0 … T0+11h, the first a draft), plus orders that
    must never show in PX-1's list; public ids, oldest first."""
    precision = _lab_uuid(lab_world.labs["precision"])
    coastal = _lab_uuid(lab_world.labs["coastal"])
    with db.transaction() as s:
        ids = [
            _place(
                s,
                lab_world.practice_id,
                precision,
                "PX-1",
                T0 + timedelta(hours=i),
                OrderStatus.DRAFT if i == 0 else OrderStatus.RECEIVED,
                tray_number=f"T-{i}",
                invoice_number=f"INV-{i}",
            ).id
            for i in range(12)
        ]
        _place(s, lab_world.practice_id, precision, "PX-2", T0 + timedelta(minutes=30))
        _place(s, lab_world.practice_id, coastal, "C-9", T0 + timedelta(minutes=40))
        _place(s, lab_world.other_practice_id, coastal, "HILL-1", T0 + timedelta(minutes=50))
    return [f"ord_{i.hex}" for i in ids]


def list_of(lab, lab_world, account="PX-1", lab_name="precision", **query):
    return lab.get(
        ORDERS, params={"lab": lab_world.labs[lab_name], "account_number": account, **query}
    )


def ids_of(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [o["id"] for o in response.json()["data"]]


def test_list_is_newest_first_ten_by_default_with_the_vendors_fields(lab, lab_world, listed):
    response = list_of(lab, lab_world)
    assert ids_of(response) == list(reversed(listed))[:10]
    body = response.json()
    assert body["has_more"] is True
    assert body["data"][0] == {
        "id": listed[11],
        "tray_number": "T-11",
        "invoice_number": "INV-11",
        "lab_status": "submitted",
        "created": int((T0 + timedelta(hours=11)).timestamp()),
        "updated": int((T0 + timedelta(hours=11)).timestamp()),
    }


def test_drafts_are_listed_as_draft(lab, lab_world, listed):
    data = list_of(lab, lab_world, limit=100).json()["data"]
    assert [o["lab_status"] for o in data if o["id"] == listed[0]] == ["draft"]


def test_cursors_page_forward_and_back(lab, lab_world, listed):
    newest_first = list(reversed(listed))
    first = list_of(lab, lab_world, limit=4)
    assert ids_of(first) == newest_first[:4] and first.json()["has_more"] is True
    second = list_of(lab, lab_world, limit=4, starting_after=newest_first[3])
    assert ids_of(second) == newest_first[4:8] and second.json()["has_more"] is True
    last = list_of(lab, lab_world, limit=4, starting_after=newest_first[7])
    assert ids_of(last) == newest_first[8:] and last.json()["has_more"] is False
    back = list_of(lab, lab_world, limit=4, ending_before=newest_first[8])
    assert ids_of(back) == newest_first[4:8] and back.json()["has_more"] is True
    top = list_of(lab, lab_world, limit=4, ending_before=newest_first[4])
    assert ids_of(top) == newest_first[:4] and top.json()["has_more"] is False
    partial = list_of(lab, lab_world, limit=4, ending_before=newest_first[2])
    assert ids_of(partial) == newest_first[:2] and partial.json()["has_more"] is False


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"created[gt]": 3}, range(11, 3, -1)),
        ({"created[gte]": 3}, range(11, 2, -1)),
        ({"created[lt]": 3}, range(2, -1, -1)),
        ({"created[lte]": 3}, range(3, -1, -1)),
        ({"created[gte]": 2, "created[lt]": 5}, range(4, 1, -1)),
    ],
)
def test_created_filters_bounds(lab, lab_world, listed, query, expected):
    at = {k: int((T0 + timedelta(hours=v)).timestamp()) for k, v in query.items()}
    assert ids_of(list_of(lab, lab_world, limit=100, **at)) == [listed[i] for i in expected]


def test_created_filters_combine_with_cursors(lab, lab_world, listed):
    since = int((T0 + timedelta(hours=6)).timestamp())
    response = list_of(lab, lab_world, limit=2, starting_after=listed[9], **{"created[gte]": since})
    assert ids_of(response) == [listed[8], listed[7]] and response.json()["has_more"] is True


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"created[gt]": "7.5"}, "created[gt]"),
        ({"created[gte]": "yesterday"}, "created[gte]"),
        ({"created[lt]": 10**20}, "created[lt]"),
        ({"created[lte]": -1}, "created[lte]"),
        ({"created[lte]": 253_402_300_800}, "created[lte]"),
        ({"starting_after": "ord_" + "0" * 32}, "starting_after"),
        ({"ending_before": "nope"}, "ending_before"),
    ],
)
def test_bad_list_parameters_are_400_naming_them(lab, lab_world, listed, query, param):
    [(got, _)] = refused(list_of(lab, lab_world, **query))
    assert got == param


def test_limit_bounds_are_inclusive(lab, lab_world, listed):
    assert len(ids_of(list_of(lab, lab_world, limit=1))) == 1
    assert len(ids_of(list_of(lab, lab_world, limit=100))) == 12


def test_both_cursors_at_once_are_refused(lab, lab_world, listed):
    response = list_of(lab, lab_world, starting_after=listed[5], ending_before=listed[2])
    assert params(response) == {"ending_before"}


def test_a_cursor_from_another_list_is_refused(lab, lab_world, listed, db):
    px2 = ids_of(list_of(lab, lab_world, account="PX-2"))
    assert len(px2) == 1
    assert params(list_of(lab, lab_world, starting_after=px2[0])) == {"starting_after"}


def test_lab_and_account_are_required_and_must_be_the_practices(lab, lab_world, listed):
    assert params(lab.get(ORDERS, params={"lab": lab_world.labs["precision"]})) == {
        "account_number"
    }
    assert params(lab.get(ORDERS, params={"account_number": "PX-1"})) == {"lab"}
    # Another practice's account with a lab this practice also uses: not found.
    response = list_of(lab, lab_world, account="HILL-1", lab_name="coastal")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_other_accounts_and_practices_orders_are_invisible(lab, lab_world, listed):
    assert set(ids_of(list_of(lab, lab_world, limit=100))) == set(listed)
    coastal = ids_of(list_of(lab, lab_world, account="C-9", lab_name="coastal"))
    assert len(coastal) == 1 and coastal[0] not in listed


def test_lab_status_vocabulary(lab, lab_world, listed, db):
    moves = {
        1: [OrderStatus.IN_PROGRESS],
        2: [OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED],
        3: [OrderStatus.IN_PROGRESS, OrderStatus.SHIPPED],
        4: [OrderStatus.IN_PROGRESS, OrderStatus.SHIPPED, OrderStatus.DELIVERED],
        5: [OrderStatus.CANCELLED],
    }
    with db.transaction() as s:
        for index, targets in moves.items():
            for target in targets:
                change_order_status(
                    s,
                    Actor.system(lab_world.practice_id, "test"),
                    uuid.UUID(hex=listed[index][4:]),
                    target,
                )
    data = {o["id"]: o for o in list_of(lab, lab_world, limit=100).json()["data"]}
    statuses = [data[listed[i]]["lab_status"] for i in range(7)]
    assert statuses == [
        "draft",
        "in_progress",
        "in_progress",
        "shipped",
        "shipped",
        "cancelled",
        "submitted",
    ]
    assert data[listed[1]]["updated"] > data[listed[1]]["created"]


def test_listing_needs_the_read_scope(https, lab_world, issue_token, listed):
    write_only = issue_token(lab_world.practice_id, "lab_orders:write")
    response = https.get(
        ORDERS,
        params={"lab": lab_world.labs["precision"], "account_number": "PX-1"},
        headers={"Authorization": f"Bearer {write_only}", "User-Email": STAFF},
    )
    assert response.status_code == 403


def test_an_order_created_through_post_is_listed(lab, lab_world):
    created = lab.post(ORDERS, json=valid_body(lab_world, mode="draft")).json()
    [shown] = list_of(lab, lab_world).json()["data"]
    assert shown == {k: v for k, v in created.items() if k != "url"}


def test_a_placed_order_is_delivered_to_a_partner_webhook_as_order_created(
    lab, lab_world, client, issue_token, db, app
):
    """From the lab-order API to a partner's webhook subscriber: the relay renders the event
    in the partner shape, and the subscription's deliveries name the order."""
    from optihub.events.relay import relay_events

    token = issue_token(lab_world.practice_id, "webhooks:read webhooks:write")
    auth = {"Authorization": f"Bearer {token}"}
    hook = client.post(
        "/api/v1/partner/webhooks",
        json={"url": "http://127.0.0.1:9/hooks", "events": ["order.created"]},
        headers=auth,
    )
    assert hook.status_code == 201, hook.text
    order_id = order_row(db, lab.post(ORDERS, json=valid_body(lab_world)).json()["id"]).id
    with db.transaction() as s:
        relay_events(s, utcnow(), app.state.surfaces.webhook_renderers())
    deliveries = client.get(
        f"/api/v1/partner/webhooks/{hook.json()['id']}/deliveries", headers=auth
    ).json()["data"]
    assert [(d["event_type"], d["status"]) for d in deliveries] == [("order.created", "pending")]
    with db.reading() as reader:
        payload = reader.scalar(select(WebhookDelivery.payload))
    body = orjson.loads(payload)
    assert body["type"] == "order.created"
    assert body["data"]["id"] == str(order_id)
