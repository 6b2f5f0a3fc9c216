"""Lab orders: an Rx job a practice sends to a lab (the lab-order surface's POST /v1/orders,
and the drafts the dashboard reviews).

- ``requests``: the plain input shapes (``LabOrderRequest`` and its parts), nothing checked.
- ``rules``: every check of a request against the contract, the lab's catalog and the
  account's order settings, all violations reported at once (``ValidationFailed``).
- ``drafts``: creating an order (a draft, or submitted to the lab) and a draft's life
  afterwards: read, updated, submitted, discarded.

Callers use the names re-exported here (``from optihub.services import lab_orders``).
"""

from optihub.services.lab_orders.drafts import (
    Draft,
    create_lab_order,
    discard_draft,
    get_draft,
    submit_draft,
    update_draft,
)
from optihub.services.lab_orders.requests import (
    CatalogRef,
    EyeInput,
    FrameInput,
    LabOrderRequest,
    LensInput,
    MultiPairInput,
    PatientInput,
    PrismInput,
    RedoInput,
    RxInput,
    ShippingInput,
)
from optihub.services.lab_orders.rules import (
    FRAME_MATERIALS,
    FRAME_REQUIRED_ON_SUBMIT,
    FRAME_SIZES_REQUIRED_ON_SUBMIT,
    RX_ORDER_TYPE,
    SUBMISSION_TYPES,
)

__all__ = [
    "FRAME_MATERIALS",
    "FRAME_REQUIRED_ON_SUBMIT",
    "FRAME_SIZES_REQUIRED_ON_SUBMIT",
    "RX_ORDER_TYPE",
    "SUBMISSION_TYPES",
    "CatalogRef",
    "Draft",
    "EyeInput",
    "FrameInput",
    "LabOrderRequest",
    "LensInput",
    "MultiPairInput",
    "PatientInput",
    "PrismInput",
    "RedoInput",
    "RxInput",
    "ShippingInput",
    "create_lab_order",
    "discard_draft",
    "get_draft",
    "submit_draft",
    "update_draft",
]
