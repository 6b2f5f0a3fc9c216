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
from typing import Any

from sqlalchemy import (
    BindParameter,
    String,
    and_,
    bindparam,
    func,
    literal_column,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import Numeric

from optihub.db.models import Frame, PricebookItem
from optihub.db.prepared import Prepared

__all__ = ["PRODUCT_KINDS", "Product", "by_ids", "by_skus", "lookup"]

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
# Marks a frame's row in the lookup (no pricebook kind is spelled so).
_FRAME = "frame"
_PRACTICE: BindParameter[int] = bindparam("practice_id")


_PRICE = Numeric(12, 2, asdecimal=True)  # the prices' columns' type (``db.base.Money``)
# Constants written into the statement (no parameters to send).
_FRAMES_KIND = literal_column("'frames'", String)
_PRODUCT_ITEM_KINDS = [literal_column(f"'{kind}'", String) for kind in _ITEM_KINDS]


def _lookup(skus: int, ids: int) -> Prepared:
    """The practice's frames and pricebook products with one of ``skus`` SKUs (parameters
    ``sku_0``…) or ``ids`` ids (``id_0``…), in one statement."""
    # Typed as the columns (bound values then go through their bind processing).
    sku_params = [bindparam(f"sku_{i}", type_=Frame.sku.type) for i in range(skus)]
    id_params = [bindparam(f"id_{i}", type_=Frame.id.type) for i in range(ids)]

    def named(sku: Any, id_: Any) -> Any:
        wanted = []
        if sku_params:
            wanted.append(sku.in_(sku_params))
        if id_params:
            wanted.append(id_.in_(id_params))
        return or_(*wanted)

    return Prepared(
        union_all(
            select(
                Frame.id,
                Frame.sku,
                Frame.brand,
                Frame.model,
                literal_column(f"'{_FRAME}'", String),
                type_coerce(func.coalesce(_FRAME_ITEM.c.retail_price, Frame.price), _PRICE),
            )
            .outerjoin(
                _FRAME_ITEM,
                and_(
                    _FRAME_ITEM.c.practice_id == _PRACTICE,
                    _FRAME_ITEM.c.kind == _FRAMES_KIND,
                    _FRAME_ITEM.c.frame_id == Frame.id,
                ),
            )
            .where(
                Frame.practice_id == _PRACTICE,
                Frame.is_active.is_(True),
                named(Frame.sku, Frame.id),
            ),
            select(
                PricebookItem.id,
                PricebookItem.code,
                PricebookItem.name,
                null(),
                PricebookItem.kind,
                PricebookItem.retail_price,
            ).where(
                PricebookItem.practice_id == _PRACTICE,
                PricebookItem.kind.in_(_PRODUCT_ITEM_KINDS),
                PricebookItem.price_tier_id.is_(None),
                named(PricebookItem.code, PricebookItem.id),
            ),
        )
    )


# One prepared statement per shape: counts of SKUs and ids rounded up to a power of two (the
# last one repeated), so that a handful of shapes serve every request (at most 100 products).
_LOOKUPS: dict[tuple[int, int], Prepared] = {}


def _padded(values: list[Any]) -> list[Any]:
    if not values:
        return values
    size = 1 << (len(values) - 1).bit_length()
    return values + [values[-1]] * (size - len(values))


def _found(
    session: Session, practice_id: int, skus: list[str], ids: list[uuid.UUID]
) -> list[Product]:
    """The frames and pricebook products with one of these SKUs or ids."""
    skus, ids = _padded(skus), _padded(ids)
    shape = (len(skus), len(ids))
    statement = _LOOKUPS.get(shape)
    if statement is None:
        statement = _LOOKUPS.setdefault(shape, _lookup(*shape))
    params: dict[str, Any] = {"practice_id": practice_id}
    params.update(zip(_SKU_NAMES, skus, strict=False))
    params.update(zip(_ID_NAMES, ids, strict=False))
    return [
        Product(row[0], row[1], f"{row[2]} {row[3]}", "frame", row[5] or Decimal("0"))
        if row[4] == _FRAME
        else Product(row[0], row[1], row[2], _ITEM_KINDS[row[4]], row[5])
        for row in statement.rows(session, params)
    ]


# The parameters' names, as many as a request may name (100 products, padded: 128).
_SKU_NAMES = tuple(f"sku_{i}" for i in range(128))
_ID_NAMES = tuple(f"id_{i}" for i in range(128))


def _first_by(products: Iterable[Product], key: str) -> dict[object, Product]:
    found: dict[object, Product] = {}
    for product in sorted(products, key=lambda p: _SOURCE_ORDER.index(p.kind)):
        found.setdefault(getattr(product, key), product)
    return found


def lookup(
    session: Session, practice_id: int, skus: Iterable[str], ids: Iterable[uuid.UUID]
) -> tuple[dict[str, Product], dict[uuid.UUID, Product]]:
    """``by_skus`` and ``by_ids`` at once, in one statement."""
    wanted_skus = sorted(set(skus))
    wanted_ids = sorted(set(ids))
    if not wanted_skus and not wanted_ids:
        return {}, {}
    found = _found(session, practice_id, wanted_skus, wanted_ids)
    named = set(wanted_skus)
    numbered = set(wanted_ids)
    by_sku = _first_by((p for p in found if p.sku in named), "sku")
    by_id = _first_by((p for p in found if p.id in numbered), "id")
    return (
        {str(k): v for k, v in by_sku.items()},
        {k: v for k, v in by_id.items() if isinstance(k, uuid.UUID)},
    )


def by_skus(session: Session, practice_id: int, skus: Iterable[str]) -> dict[str, Product]:
    """The practice's products with these SKUs (exact match), by SKU; unknown ones absent."""
    return lookup(session, practice_id, skus, ())[0]


def by_ids(
    session: Session, practice_id: int, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Product]:
    """The practice's products with these ids (frame or pricebook item ids), by id."""
    return lookup(session, practice_id, (), ids)[1]
