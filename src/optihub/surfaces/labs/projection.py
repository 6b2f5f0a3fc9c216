"""How the lab-order API shows an order in its list (the stored projection): the vendor's
``Order`` object, a plain dict from a plain view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from optihub.reads.documents import Projection
from optihub.surfaces.labs.ids import public_id
from optihub.surfaces.labs.mapping import LAB_STATUSES, ORDER


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def order_item(order: Any) -> dict[str, Any]:
    """An order (row or view) as the vendor's ``Order`` object."""
    return {
        "id": public_id(ORDER, order.id),
        "tray_number": order.tray_number,
        "invoice_number": order.invoice_number,
        "lab_status": LAB_STATUSES.from_canonical(order.status),
        "created": _epoch(order.created_at),
        "updated": _epoch(order.updated_at),
    }


ORDERS = Projection(name="labs", summary=order_item)
