"""How the fulfillment dialect shows an order (the stored projection): the vendor's order
object, with OptiHub's optical content."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from optihub.domain.orders import OrderStatus
from optihub.reads.documents import Projection
from optihub.reads.fulfillment import stage
from optihub.reads.order_views import LineView, OrderView
from optihub.surfaces.fulfillment.mapping import SURFACE


def timestamp(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with ``Z``."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _id(value: object) -> str | None:
    return None if value is None else str(value)


def _address(stored: dict[str, Any] | None, order_id: str) -> dict[str, Any] | None:
    if not stored:
        return None
    return {
        "id": str(stored.get("id") or order_id),
        "address_1": stored.get("address_line1"),
        "address_2": stored.get("address_line2"),
        "city": stored.get("city"),
        "state": stored.get("state"),
        "zip_code": stored.get("postal_code"),
        "country": stored.get("country"),
        "type": "shipping",
    }


def _product(line: LineView) -> dict[str, Any]:
    return {
        "id": _id(line.id),
        "sku": line.sku,
        "name": line.description,
        "quantity": line.quantity,
        "price": _money(line.unit_price),
        "prescription_id": _id(line.prescription_id),
    }


def _shipments(o: OrderView) -> list[dict[str, Any]]:
    """The one shipment of an order that has shipped (OptiHub ships an order as one parcel)."""
    if o.status not in (OrderStatus.SHIPPED, OrderStatus.DELIVERED):
        return []
    label = o.custom_shipping or {}
    shipped_at = next((h.at for h in o.history if h.to_status == OrderStatus.SHIPPED), None)
    tracking = o.tracking_number or label.get("tracking_number")
    return [
        {
            "carrier": o.carrier or label.get("carrier"),
            "service_level": o.shipping_service_level,
            "tracking_number": tracking,
            "tracking_url": (
                label.get("tracking_url")
                if tracking and tracking == label.get("tracking_number")
                else None
            ),
            "estimated_delivery_date": None,
            "created_at": timestamp(shipped_at),
        }
    ]


def order(o: OrderView) -> dict[str, Any]:
    """The order object (list item and detail alike)."""
    oid = str(o.id)
    patient = o.patient
    linked = list(dict.fromkeys(str(ln.prescription_id) for ln in o.lines if ln.prescription_id))
    return {
        "id": oid,
        "created_at": timestamp(o.created_at),
        "updated_at": timestamp(o.updated_at),
        "order_number": o.number,
        "status": stage(o.status, o.sub_status),
        "customer_id": o.practice_id,
        "external_id": o.external_id,
        "address": _address(o.shipping_address, oid),
        "custom_shipping": (
            {
                key: o.custom_shipping.get(key)
                for key in ("label_url", "tracking_number", "tracking_url", "carrier")
            }
            if o.custom_shipping
            else None
        ),
        "shipping": {"carrier": o.carrier, "service_level": o.shipping_service_level},
        "is_replacement": o.original_order_id is not None,
        "original_order_id": _id(o.original_order_id),
        "replacement_order_ids": [str(r) for r in o.replacement_order_ids],
        "replacement_reason": o.replacement_reason,
        "prescription_count": len(linked),
        "priority_requested": o.priority,
        "cancellation_requested": o.cancellation_requested,
        "has_replacement_request": o.replacement_request_status is not None,
        "replacement_request_status": o.replacement_request_status,
        "replacement_requested_at": timestamp(o.replacement_requested_at),
        "replacement_request_reason": o.replacement_request_reason,
        "patient": (
            {
                "id": str(patient.id),
                "external_id": patient.external_id,
                "first_name": patient.first_name,
                "last_name": patient.last_name,
                "email": patient.email,
                "phone": patient.phone,
                "date_of_birth": patient.date_of_birth.isoformat()
                if patient.date_of_birth
                else None,
            }
            if patient
            else None
        ),
        "products": {
            "prescription": [_product(ln) for ln in o.lines if ln.prescription_required],
            "non_prescription": [_product(ln) for ln in o.lines if not ln.prescription_required],
        },
        "prescription_ids": linked,
        "shipments": _shipments(o),
    }


ORDERS = Projection(SURFACE, summary=order)
