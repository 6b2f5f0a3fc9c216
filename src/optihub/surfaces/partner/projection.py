"""How partners see orders (the stored projection), frames, prescriptions, webhook
subscriptions and deliveries: plain views in, plain dicts out."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from optihub.reads.documents import Projection
from optihub.reads.frames import FrameView
from optihub.reads.order_views import OrderView
from optihub.services.webhooks import DeliveryRecord, SubscriptionStatus
from optihub.surfaces.partner.mapping import STATUSES


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _frame(order: OrderView) -> dict[str, Any] | None:
    details = order.frame_details
    if details is None and order.frame_id is None:
        return None
    details = details or {}
    return {
        "id": str(order.frame_id) if order.frame_id else None,
        **{
            k: details.get(k)
            for k in (
                "sku",
                "brand",
                "model",
                "color",
                "material",
                "eye_size",
                "bridge",
                "temple",
                "a",
                "b",
                "ed",
            )
        },
    }


def _lens(order: OrderView) -> dict[str, Any] | None:
    if not order.lens:
        return None
    lens = order.lens
    return {
        "style": lens.get("style"),
        "material": lens.get("material"),
        "color": lens.get("color"),
        "coats": list(lens.get("coats") or []),
        "tint": lens.get("tint"),
    }


def prescription(order: OrderView) -> dict[str, Any] | None:
    """The Rx the order was made with. ``id`` is the prescription on file when the order
    references one, else the order's own id (an Rx typed in with the order)."""
    rx = order.rx_snapshot
    if rx is None:
        return None
    right, left = rx.get("right"), rx.get("left")
    binocular = None
    if right and left and right.get("distance_pd") and left.get("distance_pd"):
        binocular = str(Decimal(right["distance_pd"]) + Decimal(left["distance_pd"]))
    return {
        "id": str(order.prescription_id or order.id),
        "order_id": str(order.id),
        "patient_id": str(order.patient_id) if order.patient_id else None,
        "issued_on": rx.get("issued_on"),
        "expires_on": rx.get("expires_on"),
        "prescriber": rx.get("prescriber"),
        "right": right,
        "left": left,
        "binocular_pd": binocular,
    }


def order(o: OrderView) -> dict[str, Any]:
    """The list item (the detail adds ``prescription``)."""
    patient, location = o.patient, o.location
    return {
        "id": str(o.id),
        "number": o.number,
        "external_id": o.external_id,
        "status": STATUSES.from_canonical(o.status),
        "created_at": o.created_at.isoformat(),
        "updated_at": o.updated_at.isoformat(),
        "patient": (
            {
                "id": str(patient.id),
                "first_name": patient.first_name,
                "last_name": patient.last_name,
                "email": patient.email,
                "phone": patient.phone,
            }
            if patient
            else None
        ),
        "location": {"id": str(location.id), "name": location.name} if location else None,
        "type": o.type,
        "frame": _frame(o),
        "lens": _lens(o),
        "items": [
            {
                "description": line.description,
                "quantity": line.quantity,
                "unit_price": _money(line.unit_price),
                "retail_price": _money(line.retail_price),
                "tax": _money(line.tax),
            }
            for line in o.lines
        ],
        "payment": {
            "currency": o.currency,
            "subtotal": _money(o.subtotal),
            "tax": _money(o.tax_total),
            "total": _money(o.total),
            "paid": _money(o.amount_paid),
            "balance": _money(o.balance),
            "patient_balance": _money(o.patient_balance),
        },
        "shipping_address": o.shipping_address,
        "tracking_number": o.tracking_number,
        "status_history": [
            {
                "status": STATUSES.from_canonical(h.to_status),
                "at": h.at.isoformat(),
                "by": h.actor_label,
            }
            for h in o.history
        ],
    }


def order_detail_extra(o: OrderView) -> dict[str, Any]:
    return {"prescription": prescription(o)}


ORDERS = Projection("partner", summary=order, detail_extra=order_detail_extra)


def frame(f: FrameView) -> dict[str, Any]:
    return {
        "id": str(f.id),
        "sku": f.sku,
        "upc": f.upc,
        "brand": f.brand,
        "model": f.model,
        "color": f.color,
        "material": f.material,
        "eye_size": f.eye_size,
        "bridge": f.bridge,
        "temple": f.temple,
        "a": _money(f.a),
        "b": _money(f.b),
        "ed": _money(f.ed),
        "price": _money(f.price),
        "wholesale_price": _money(f.wholesale_price),
        "currency": f.currency,
        "quantity": f.quantity,
        "stock": [{"location_id": str(loc), "quantity": q} for loc, q in f.stock],
        "in_stock": f.quantity > 0,
        "updated_at": f.updated_at.isoformat(),
    }


def webhook(status: SubscriptionStatus) -> dict[str, Any]:
    s = status.subscription
    return {
        "id": str(s.id),
        "url": s.url,
        "events": list(s.events),
        "enabled": s.enabled,
        "description": s.description,
        "created_at": s.created_at.isoformat(),
        "last_delivery_at": s.last_delivery_at.isoformat() if s.last_delivery_at else None,
        "last_status": "disabled" if not s.enabled else s.last_status,
        "consecutive_failures": s.consecutive_failures,
        "pending_deliveries": status.pending_deliveries,
        "disabled_reason": s.disabled_reason,
    }


def delivery(record: DeliveryRecord) -> dict[str, Any]:
    d = record.delivery
    return {
        "id": str(d.id),
        "event_id": d.event_id,
        "event_type": record.event_type,
        "status": d.status,
        "attempts": d.attempt_count,
        "next_attempt_at": d.next_attempt_at.isoformat() if d.status == "pending" else None,
        "last_response_code": d.last_response_code,
        "last_error": d.last_error,
        "created_at": d.created_at.isoformat(),
        "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
        "attempt_log": [
            {
                "at": a.attempted_at.isoformat(),
                "response_code": a.response_code,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
            for a in record.attempts
        ],
    }
