"""The lab-order request: the plain values a lab order arrives as, nothing checked yet.

These are the shapes every caller builds: the lab-order surface from its wire body
(``surfaces/labs/orders.py``), the dashboard's draft review from its form
(``dashboard/forms.py``), the demo, and ``drafts`` itself from an order's stored values.
Their names are the lab-order contract's paths (``rx.right_eye.axis``, ``frame.temple``,
``lens.style``...), the paths ``rules`` reports violations at.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class CatalogRef:
    """A catalog id as sent (``raw``) and the row it names (None: not an id of that kind)."""

    raw: str
    id: uuid.UUID | None


@dataclass(frozen=True)
class PatientInput:
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone_number: str | None = None


@dataclass(frozen=True)
class PrismInput:
    power: Decimal | None = None
    direction: str | None = None


@dataclass(frozen=True)
class EyeInput:
    sphere: Decimal | None = None
    pd: Decimal | None = None
    near_pd: Decimal | None = None
    cylinder: Decimal | None = None
    axis: int | None = None
    add: Decimal | None = None
    seg_height: Decimal | None = None
    oc_height: Decimal | None = None
    horizontal_prism: PrismInput | None = None
    vertical_prism: PrismInput | None = None


@dataclass(frozen=True)
class RxInput:
    right_eye: EyeInput | None = None
    left_eye: EyeInput | None = None


@dataclass(frozen=True)
class LensInput:
    style: CatalogRef | None = None
    material: CatalogRef | None = None
    color: CatalogRef | None = None
    coats: tuple[CatalogRef, ...] = ()
    tint: str | None = None
    tint_instruction: str | None = None


@dataclass(frozen=True)
class FrameInput:
    handling: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    color: str | None = None
    sku: str | None = None
    material: str | None = None
    eye_size: int | None = None
    bridge: int | None = None
    temple: int | None = None
    a: Decimal | None = None
    b: Decimal | None = None
    lens_ed: Decimal | None = None
    vertex: Decimal | None = None
    pantoscopic_tilt: Decimal | None = None
    wrap: Decimal | None = None
    tracing: str | None = None


@dataclass(frozen=True)
class RedoInput:
    type: str | None = None
    reason: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class MultiPairInput:
    reference: str | None = None


@dataclass(frozen=True)
class ShippingInput:
    name: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    postal_code: str | None = None


@dataclass(frozen=True)
class LabOrderRequest:
    """A lab order as the order-entry tool sent it (plain values, nothing checked yet)."""

    submission_type: str | None = None
    order_type: str | None = None
    lab: CatalogRef | None = None
    account_number: str | None = None
    patient: PatientInput | None = None
    mounting_option: str | None = None
    lens: LensInput | None = None
    frame: FrameInput | None = None
    rx: RxInput | None = None
    services: tuple[str, ...] | None = None
    special_instructions: str | None = None
    redo_data: RedoInput | None = None
    multi_pair_data: MultiPairInput | None = None
    shipping: ShippingInput | None = None
