"""The product catalog behind SKUs: what a fulfillment order may contain.

Where each product comes from (every lookup scoped by the practice):

- frames: the frame catalog (``frames``, active ones), SKU the frame's ``sku``, price its
  ``frames`` pricebook item's retail price when it has one, else the frame's own price;
  non-prescription.
- Rx spectacle lenses: pricebook items of kind ``lenses`` (SKU the item's ``code``); they
  need a valid spectacle prescription.
- contact lenses: pricebook items of kind ``contactlenses``; they need a valid contact-lens
  prescription.
- accessories, solutions, plano sunglasses: pricebook items of kind ``merchandise``;
  non-prescription.

A SKU found in more than one source resolves in that order (frames first).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, func, select

from optihub.db.models import Frame, PricebookItem
from optihub.reads.order_views import Reader

__all__ = ["PRODUCT_KINDS", "Product", "by_ids", "by_skus"]

# Product kind → the prescription it needs (None: none). The kind is also the order line's.
PRODUCT_KINDS: dict[str, str | None] = {
    "frame": None,
    "lens": "spectacle",
    "contact_lens": "contact_lens",
    "merchandise": None,
}
# Pricebook kinds that are products, and the product kind each holds.
_ITEM_KINDS = {"lenses": "lens", "contactlenses": "contact_lens", "merchandise": "merchandise"}
_SOURCE_ORDER = ("frame", "lens", "contact_lens", "merchandise")


@dataclass(frozen=True)
class Product:
    id: uuid.UUID
    sku: str
    name: str
    kind: str
    price: Decimal

    @property
    def prescription_kind(self) -> str | None:
        """The prescription kind it needs (``spectacle``, ``contact_lens``) or None."""
        return PRODUCT_KINDS[self.kind]

    @property
    def needs_prescription(self) -> bool:
        return self.prescription_kind is not None


_FRAME_ITEM = PricebookItem.__table__.alias("frame_item")


def _frames(reader: Reader, practice_id: int, condition: object) -> list[Product]:
    rows = reader.execute(
        select(
            Frame.id,
            Frame.sku,
            Frame.brand,
            Frame.model,
            func.coalesce(_FRAME_ITEM.c.retail_price, Frame.price),
        )
        .outerjoin(
            _FRAME_ITEM,
            and_(
                _FRAME_ITEM.c.practice_id == practice_id,
                _FRAME_ITEM.c.kind == "frames",
                _FRAME_ITEM.c.frame_id == Frame.id,
            ),
        )
        .where(Frame.practice_id == practice_id, Frame.is_active.is_(True), condition)  # type: ignore[arg-type]
    ).all()
    return [
        Product(row[0], row[1], f"{row[2]} {row[3]}", "frame", row[4] or Decimal("0"))
        for row in rows
    ]


def _items(reader: Reader, practice_id: int, condition: object) -> list[Product]:
    rows = reader.execute(
        select(
            PricebookItem.id,
            PricebookItem.code,
            PricebookItem.name,
            PricebookItem.kind,
            PricebookItem.retail_price,
        ).where(
            PricebookItem.practice_id == practice_id,
            PricebookItem.kind.in_(list(_ITEM_KINDS)),
            PricebookItem.price_tier_id.is_(None),
            condition,  # type: ignore[arg-type]
        )
    ).all()
    return [Product(row[0], row[1], row[2], _ITEM_KINDS[row[3]], row[4]) for row in rows]


def _first_by(products: Iterable[Product], key: str) -> dict[object, Product]:
    found: dict[object, Product] = {}
    for product in sorted(products, key=lambda p: _SOURCE_ORDER.index(p.kind)):
        found.setdefault(getattr(product, key), product)
    return found


def by_skus(reader: Reader, practice_id: int, skus: Iterable[str]) -> dict[str, Product]:
    """The practice's products with these SKUs (exact match), by SKU; unknown ones absent."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    found = _frames(reader, practice_id, Frame.sku.in_(wanted))
    found += _items(reader, practice_id, PricebookItem.code.in_(wanted))
    return {str(k): v for k, v in _first_by(found, "sku").items()}


def by_ids(reader: Reader, practice_id: int, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Product]:
    """The practice's products with these ids (frame or pricebook item ids), by id."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    found = _frames(reader, practice_id, Frame.id.in_(wanted))
    found += _items(reader, practice_id, PricebookItem.id.in_(wanted))
    return {k: v for k, v in _first_by(found, "id").items() if isinstance(k, uuid.UUID)}
