"""Notifications (the dialect's webhooks): its event codes, which codes each core event
produces, the delivery body, sample payloads and the test delivery.

Deliveries go through the shared engine (``events.relay`` and ``events.worker``): signed,
retried and logged like every OptiHub webhook. A delivery body is
``{"event_code": code, "data": order}`` where ``order`` is the order object as this API
shows it (rendered when the event is fanned out) plus ``status_name``; events about drafts
are not delivered (drafts are hidden from this API).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.orm import Session

from optihub.db.models import Event
from optihub.errors import NotFound
from optihub.events import sending
from optihub.events.addresses import Resolver, resolve
from optihub.events.signing import sign
from optihub.reads import orders as order_reads
from optihub.surfaces.fulfillment.mapping import HIDDEN, STATUS_DISPLAY, STATUSES, SURFACE

# The dialect's event codes with their descriptions (GET /notifications/events).
EVENTS: dict[str, str] = {
    "order.created": "An order was created",
    "order.status_changed": "An order's status changed (picked, verified, paused, shipped, …)",
    "order.shipped": "An order shipped (also sent as order.status_changed)",
    "order.delivered": "An order was delivered (also sent as order.status_changed)",
    "order.stuck": "A prescription product still has no matched prescription 24 hours after "
    "the order was created (sent once per order)",
    "order.cancellation_requested": "The cancellation of an order was requested",
    "order.replacement_requested": "A replacement of a shipped or delivered order was requested",
}
EVENT_CODES: tuple[str, ...] = tuple(EVENTS)
ALL = "all"


def event_codes(type: str, data: Mapping[str, Any]) -> Iterator[str]:
    """The codes a core event produces: its own type, and for a status change to shipped
    (delivered) also ``order.shipped`` (``order.delivered``). The kit keeps only codes of
    ``EVENT_CODES`` (``order.completed``, ``inventory.updated``: nothing)."""
    yield type
    if type == "order.status_changed" and data.get("previous_status") != data.get("status"):
        if data.get("status") == "shipped":
            yield "order.shipped"
        elif data.get("status") == "delivered":
            yield "order.delivered"


# What each event adds to the order object (from the event's data).
_EXTRA: dict[str, tuple[str, ...]] = {
    "order.stuck": ("unmatched_line_ids", "stuck_at"),
    "order.cancellation_requested": ("comments",),
    "order.replacement_requested": ("reason",),
}


def event_data(session: Session, event: Event, code: str) -> dict[str, Any] | None:
    """The order as this API shows it now, with ``status_name`` (and ``previous_status``,
    ``unmatched_line_ids``/``stuck_at``, ``comments`` or ``reason`` where the event has
    them); None for a draft."""
    data = event.data
    if data.get("status") in HIDDEN:
        return None
    try:
        document = order_reads.detail(
            session, event.practice_id, SURFACE, uuid.UUID(data["id"]), HIDDEN
        )
        body: dict[str, Any] = orjson.loads(document)
    except (NotFound, KeyError, ValueError):
        # The order is gone (or hidden): what the event recorded, in the dialect's words.
        body = {"id": data.get("id"), "order_number": data.get("number")}
        body["status"] = STATUSES.from_canonical(data["status"]) if "status" in data else None
    body["status_name"] = STATUS_DISPLAY.get(body.get("status") or "", None)
    previous = data.get("previous_status")
    if code in ("order.status_changed", "order.shipped", "order.delivered") and previous:
        body["previous_status"] = STATUSES.from_canonical(previous)
    for key in _EXTRA.get(code, ()):
        body[key] = data.get(key)
    return body


def delivery_body(session: Session, event: Event, code: str) -> dict[str, Any] | None:
    """``{"event_code", "data"}`` (``WebhookShape.render_code``)."""
    data = event_data(session, event, code)
    return None if data is None else {"event_code": code, "data": data}


def subscribed_codes(given: Sequence[str] | str) -> list[str]:
    """The stored event list of a subscription: ``"all"`` is ``["*"]``."""
    return ["*"] if given == ALL else list(dict.fromkeys(given))


def shown_codes(stored: Sequence[str]) -> list[str] | str:
    return ALL if "*" in stored else list(stored)


# -- samples --------------------------------------------------------------------------------

_SAMPLE_RX = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
_SAMPLE_LINE = "9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
_SAMPLE_STATUS = {
    "order.created": "received",
    "order.status_changed": "picked",
    "order.shipped": "shipped",
    "order.delivered": "delivered",
    "order.stuck": "received",
    "order.cancellation_requested": "received",
    "order.replacement_requested": "delivered",
}


def sample(code: str) -> dict[str, Any]:
    """A delivery body of ``code`` with a made-up order (the shape real deliveries have).
    ``NotFound`` for a code this API does not have."""
    if code not in EVENTS:
        raise NotFound("Event code", code)
    status = _SAMPLE_STATUS[code]
    shipped = status in ("shipped", "delivered")
    order: dict[str, Any] = {
        "id": "3f1c2a9e-8d4b-4c1e-9a57-0b6d2e4f7a10",
        "created_at": "2026-11-23T09:30:00Z",
        "updated_at": "2026-11-24T14:05:00Z",
        "order_number": "ORD261123093000ABCD",
        "status": status,
        "customer_id": 1,
        "external_id": "SHOP-1001",
        "address": {
            "id": "8a0e3b52-6f0f-4d8e-b1a3-3c2f6a1d9e44",
            "address_1": "12 Harbor Road",
            "address_2": None,
            "city": "Boston",
            "state": "MA",
            "zip_code": "02110",
            "country": "US",
            "type": "shipping",
        },
        "custom_shipping": None,
        "shipping": {"carrier": "USPS", "service_level": "priority"},
        "is_replacement": False,
        "original_order_id": None,
        "replacement_order_ids": [],
        "replacement_reason": None,
        "prescription_count": 0 if code == "order.stuck" else 1,
        "priority_requested": False,
        "cancellation_requested": code == "order.cancellation_requested",
        "has_replacement_request": code == "order.replacement_requested",
        "replacement_request_status": "pending" if code == "order.replacement_requested" else None,
        "replacement_requested_at": (
            "2026-11-24T14:05:00Z" if code == "order.replacement_requested" else None
        ),
        "replacement_request_reason": (
            "Lens scratched in transit" if code == "order.replacement_requested" else None
        ),
        "patient": {
            "id": "5d6e7f80-1a2b-4c3d-8e9f-0a1b2c3d4e5f",
            "external_id": "PAT-1001",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "phone": "6175550100",
            "date_of_birth": None,
        },
        "products": {
            "prescription": [
                {
                    "id": _SAMPLE_LINE,
                    "sku": "LNS-SV-POLY",
                    "name": "Single vision, polycarbonate",
                    "quantity": 1,
                    "price": "149.00",
                    "prescription_id": (None if code == "order.stuck" else _SAMPLE_RX),
                }
            ],
            "non_prescription": [
                {
                    "id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                    "sku": "FR-CLUB-51",
                    "name": "Clubmaster 51",
                    "quantity": 1,
                    "price": "129.00",
                    "prescription_id": None,
                }
            ],
        },
        "prescription_ids": [] if code == "order.stuck" else [_SAMPLE_RX],
        "shipments": (
            [
                {
                    "carrier": "USPS",
                    "service_level": "priority",
                    "tracking_number": "9400111",
                    "tracking_url": None,
                    "estimated_delivery_date": None,
                    "created_at": "2026-11-24T14:05:00Z",
                }
            ]
            if shipped
            else []
        ),
        "status_name": STATUS_DISPLAY[status],
    }
    if code in ("order.status_changed", "order.shipped", "order.delivered"):
        order["previous_status"] = {"picked": "received", "shipped": "verified"}.get(
            status, "shipped"
        )
    if code == "order.stuck":
        order["unmatched_line_ids"] = [_SAMPLE_LINE]
        order["stuck_at"] = "2026-11-24T09:30:00+00:00"
    elif code == "order.cancellation_requested":
        order["comments"] = "Customer ordered twice"
    elif code == "order.replacement_requested":
        order["reason"] = "Lens scratched in transit"
    return {"event_code": code, "data": order}


@dataclass(frozen=True)
class TestDelivery:
    """What a test delivery did: ``status_code`` of the receiver's answer (None when there
    was none) or ``error`` (refused address, timeout, connection error)."""

    webhook_id: str
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def send_test(
    url: str,
    secret: str,
    body: dict[str, Any],
    allowed_hosts: Sequence[str],
    resolver: Resolver = resolve,
) -> TestDelivery:
    """POST ``body`` to ``url`` once, signed with ``secret`` as the engine signs deliveries
    (``X-Webhook-*`` headers; ``X-Webhook-Test: 1``), through the engine's sender (the same
    address check, the checked address connected to); no redirects, 10 s. Not retried or
    recorded; never raises (a failure is the ``error``)."""
    webhook_id = f"test_{uuid.uuid4().hex}"
    raw = orjson.dumps(body)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "OptiHub-Webhooks/1",
        "X-Webhook-Id": webhook_id,
        "X-Webhook-Timestamp": str(timestamp),
        "X-Webhook-Signature": sign(secret, timestamp, raw),
        "X-Webhook-Test": "1",
    }
    with sending.client() as http:
        sent = sending.post(http, url, raw, headers, allowed_hosts, resolver)
    return TestDelivery(webhook_id, sent.status_code, sent.error)
