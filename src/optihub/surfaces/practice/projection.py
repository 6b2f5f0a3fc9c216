"""How the practice API shows an order (the stored projection): ``mapping.order_out``,
the same object in its list and as one order."""

from __future__ import annotations

from optihub.reads.documents import Projection
from optihub.surfaces.practice.mapping import SURFACE, order_out

ORDERS = Projection(name=SURFACE, summary=order_out)
