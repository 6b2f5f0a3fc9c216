"""Pricebook reads: a practice's price lists of the eight kinds, as one row shape.

Where each kind comes from:

- ``frames``: the frame catalog (``frames``): one row per frame, id the frame's id, code
  its SKU, name brand + model. Retail price and cost are those of the practice's
  ``frames`` pricebook item linked to the frame (``pricebook_items.frame_id``) when there
  is one, else the frame's own ``price`` / ``wholesale_price``.
- ``lenses``: pricebook items of kind ``lenses``. The labs' lens catalogs (styles,
  materials, addons) are a shared directory without prices, so a practice's lens prices
  live in its pricebook; an item's ``attributes`` may name the lab, style and material.
- ``contactlenses``, ``proffees``, ``merchandise``, ``addons``, ``misc``: pricebook items
  of that kind.
- ``tierprices``: the practice's price tiers (``price_tiers``): code and name the tier's
  name, no price or cost, and ``attributes`` holding ``discount_percent``,
  ``description`` and ``is_default``.

Every query is scoped by the practice; one query for the page and one count.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, select

from optihub.db.models import Frame, PricebookItem, PriceTier
from optihub.db.models.catalog import PRICEBOOK_KINDS
from optihub.errors import BadRequest, NotFound
from optihub.reads.order_views import Reader
from optihub.reads.sorting import Sort, order_by

__all__ = [
    "ITEM_KINDS",
    "KINDS",
    "SORT_FIELDS",
    "PricebookFilter",
    "PricebookPage",
    "PricebookRow",
    "detail",
    "page",
]

KINDS: tuple[str, ...] = PRICEBOOK_KINDS
# The kinds whose rows are pricebook items of that kind.
ITEM_KINDS: tuple[str, ...] = (
    "lenses",
    "contactlenses",
    "proffees",
    "merchandise",
    "addons",
    "misc",
)


@dataclass(frozen=True)
class PricebookRow:
    id: uuid.UUID
    kind: str
    code: str
    name: str
    retail_price: Decimal | None
    cost: Decimal | None
    attributes: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class PricebookFilter:
    """``search``: a case-insensitive prefix of the name or the code; ``updated_since``
    is inclusive."""

    search: str | None = None
    updated_since: datetime | None = None


@dataclass(frozen=True)
class PricebookPage:
    views: list[PricebookRow]
    total: int


# A frame's own pricebook item, when the practice priced it in its pricebook.
_FRAME_ITEM = PricebookItem.__table__.alias("frame_item")
_FRAME_PRICE = func.coalesce(_FRAME_ITEM.c.retail_price, Frame.price)
_FRAME_COST = func.coalesce(_FRAME_ITEM.c.cost, Frame.wholesale_price)

_FRAME_ATTRIBUTES: list[Any] = [
    Frame.brand,
    Frame.model,
    Frame.color,
    Frame.material,
    Frame.upc,
    Frame.eye_size,
    Frame.bridge,
    Frame.temple,
    Frame.a,
    Frame.b,
    Frame.ed,
    Frame.currency,
    Frame.is_active,
]

# Sort keys per source (the row's field names); every kind accepts the same keys.
SORT_FIELDS: dict[str, dict[str, Any]] = {
    "frames": {
        "id": Frame.id,
        "code": Frame.sku,
        "name": Frame.brand + " " + Frame.model,
        "retail_price": _FRAME_PRICE,
        "cost": _FRAME_COST,
        "created_at": Frame.created_at,
        "updated_at": Frame.updated_at,
    },
    "items": {
        "id": PricebookItem.id,
        "code": PricebookItem.code,
        "name": PricebookItem.name,
        "retail_price": PricebookItem.retail_price,
        "cost": PricebookItem.cost,
        "created_at": PricebookItem.created_at,
        "updated_at": PricebookItem.updated_at,
    },
    "tierprices": {
        "id": PriceTier.id,
        "code": PriceTier.name,
        "name": PriceTier.name,
        "retail_price": None,  # tiers have no price or cost
        "cost": None,
        "created_at": PriceTier.created_at,
        "updated_at": PriceTier.updated_at,
    },
}
DEFAULT_SORT: Sort = (("name", False),)


def _source(kind: str) -> str:
    if kind == "frames" or kind == "tierprices":
        return kind
    if kind in ITEM_KINDS:
        return "items"
    raise BadRequest(f"Unknown pricebook {kind!r}", field="kind", allowed=list(KINDS))


def _frames(practice_id: int, flt: PricebookFilter) -> tuple[Any, ColumnElement[bool]]:
    conditions = [Frame.practice_id == practice_id]
    term = flt.search.strip() if flt.search is not None else ""
    if term:
        conditions.append(
            Frame.brand.istartswith(term, autoescape=True)
            | Frame.model.istartswith(term, autoescape=True)
            | Frame.sku.istartswith(term, autoescape=True)
        )
    if flt.updated_since is not None:
        conditions.append(Frame.updated_at >= flt.updated_since)
    statement = select(
        Frame.id,
        Frame.sku,
        Frame.brand,
        Frame.model,
        _FRAME_PRICE,
        _FRAME_COST,
        Frame.created_at,
        Frame.updated_at,
        *_FRAME_ATTRIBUTES,
    ).outerjoin(
        _FRAME_ITEM,
        and_(
            _FRAME_ITEM.c.practice_id == practice_id,
            _FRAME_ITEM.c.kind == "frames",
            _FRAME_ITEM.c.frame_id == Frame.id,
        ),
    )
    return statement, and_(*conditions)


def _frame_row(row: Any) -> PricebookRow:
    frame_id, sku, brand, model, price, cost, created_at, updated_at, *attributes = row
    return PricebookRow(
        id=frame_id,
        kind="frames",
        code=sku,
        name=f"{brand} {model}",
        retail_price=price,
        cost=cost,
        attributes={
            column.key: value for column, value in zip(_FRAME_ATTRIBUTES, attributes, strict=True)
        },
        created_at=created_at,
        updated_at=updated_at,
    )


def _items(practice_id: int, kind: str, flt: PricebookFilter) -> tuple[Any, ColumnElement[bool]]:
    conditions = [PricebookItem.practice_id == practice_id, PricebookItem.kind == kind]
    term = flt.search.strip() if flt.search is not None else ""
    if term:
        conditions.append(
            PricebookItem.name.istartswith(term, autoescape=True)
            | PricebookItem.code.istartswith(term, autoescape=True)
        )
    if flt.updated_since is not None:
        conditions.append(PricebookItem.updated_at >= flt.updated_since)
    statement = select(
        PricebookItem.id,
        literal(kind).label("kind"),
        PricebookItem.code,
        PricebookItem.name,
        PricebookItem.retail_price,
        PricebookItem.cost,
        PricebookItem.attributes,
        PricebookItem.created_at,
        PricebookItem.updated_at,
    )
    return statement, and_(*conditions)


def _item_row(row: Any) -> PricebookRow:
    item_id, kind, code, name, price, cost, attributes, created_at, updated_at = row
    return PricebookRow(
        item_id, kind, code, name, price, cost, dict(attributes or {}), created_at, updated_at
    )


def _tiers(practice_id: int, flt: PricebookFilter) -> tuple[Any, ColumnElement[bool]]:
    conditions = [PriceTier.practice_id == practice_id]
    term = flt.search.strip() if flt.search is not None else ""
    if term:
        conditions.append(PriceTier.name.istartswith(term, autoescape=True))
    if flt.updated_since is not None:
        conditions.append(PriceTier.updated_at >= flt.updated_since)
    statement = select(
        PriceTier.id,
        PriceTier.name,
        PriceTier.discount_percent,
        PriceTier.description,
        PriceTier.is_default,
        PriceTier.created_at,
        PriceTier.updated_at,
    )
    return statement, and_(*conditions)


def _tier_row(row: Any) -> PricebookRow:
    tier_id, name, discount, description, is_default, created_at, updated_at = row
    return PricebookRow(
        id=tier_id,
        kind="tierprices",
        code=name,
        name=name,
        retail_price=None,
        cost=None,
        attributes={
            "discount_percent": discount,
            "description": description,
            "is_default": is_default,
        },
        created_at=created_at,
        updated_at=updated_at,
    )


def _query(
    practice_id: int, kind: str, flt: PricebookFilter
) -> tuple[str, Any, ColumnElement[bool], Any, Callable[[Any], PricebookRow]]:
    """(source, statement, condition, model, row builder) for one kind."""
    source = _source(kind)
    if source == "frames":
        statement, condition = _frames(practice_id, flt)
        return source, statement, condition, Frame, _frame_row
    if source == "tierprices":
        statement, condition = _tiers(practice_id, flt)
        return source, statement, condition, PriceTier, _tier_row
    statement, condition = _items(practice_id, kind, flt)
    return source, statement, condition, PricebookItem, _item_row


def page(
    reader: Reader,
    practice_id: int,
    kind: str,
    flt: PricebookFilter | None = None,
    *,
    limit: int,
    offset: int = 0,
    sort: Sort = DEFAULT_SORT,
) -> PricebookPage:
    """A page of one of the practice's pricebooks (``kind`` one of ``KINDS``, else
    ``BadRequest``), ordered by ``sort`` over ``id, code, name, retail_price, cost,
    created_at, updated_at`` (frames sort ``name`` by brand), the id breaking ties."""
    flt = flt or PricebookFilter()
    source, statement, condition, model, build = _query(practice_id, kind, flt)
    ordering = order_by(sort, SORT_FIELDS[source], model.id)
    total = reader.scalar(select(func.count()).select_from(model).where(condition)) or 0
    rows = reader.execute(
        statement.where(condition).order_by(*ordering).limit(limit).offset(offset)
    )
    return PricebookPage([build(row) for row in rows], int(total))


def detail(reader: Reader, practice_id: int, kind: str, row_id: uuid.UUID) -> PricebookRow:
    """One row of one of the practice's pricebooks; ``NotFound`` when missing, of another
    kind or another practice's."""
    _source_name, statement, condition, model, build = _query(practice_id, kind, PricebookFilter())
    row = reader.execute(statement.where(condition, model.id == row_id)).first()
    if row is None:
        raise NotFound("Pricebook item", row_id)
    return build(row)
