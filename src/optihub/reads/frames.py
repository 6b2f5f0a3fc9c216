"""Frame reads: the catalog with stock per location, as plain views (one query for the
page, one for its stock, one indexed count)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select

from optihub.db.models import Frame, FrameStock
from optihub.reads.order_views import Reader


@dataclass(frozen=True)
class FrameView:
    id: uuid.UUID
    sku: str
    upc: str | None
    brand: str
    model: str
    color: str | None
    material: str | None
    eye_size: int | None
    bridge: int | None
    temple: int | None
    a: Decimal | None
    b: Decimal | None
    ed: Decimal | None
    price: Decimal | None
    wholesale_price: Decimal | None
    currency: str
    updated_at: datetime
    stock: tuple[tuple[uuid.UUID, int], ...] = ()

    @property
    def quantity(self) -> int:
        return sum(q for _, q in self.stock)


_COLUMNS: list[Any] = [
    Frame.id,
    Frame.sku,
    Frame.upc,
    Frame.brand,
    Frame.model,
    Frame.color,
    Frame.material,
    Frame.eye_size,
    Frame.bridge,
    Frame.temple,
    Frame.a,
    Frame.b,
    Frame.ed,
    Frame.price,
    Frame.wholesale_price,
    Frame.currency,
    Frame.updated_at,
]


@dataclass(frozen=True)
class FrameFilter:
    brand: str | None = None
    in_stock: bool | None = None
    updated_since: datetime | None = None


@dataclass(frozen=True)
class FramePage:
    views: list[FrameView]
    total: int


def _where(practice_id: int, flt: FrameFilter) -> ColumnElement[bool]:
    conditions = [Frame.practice_id == practice_id]
    if flt.brand is not None:
        conditions.append(Frame.brand_key == flt.brand.strip().lower())
    if flt.in_stock is not None:
        stocked = exists().where(FrameStock.frame_id == Frame.id, FrameStock.quantity > 0)
        conditions.append(stocked if flt.in_stock else ~stocked)
    if flt.updated_since is not None:
        conditions.append(Frame.updated_at >= flt.updated_since)
    return and_(*conditions)


def stock_levels(
    reader: Reader, practice_id: int, frame_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, int]]]:
    """(location_id, quantity) pairs per frame, one query."""
    ids = list(frame_ids)
    result: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = reader.execute(
        select(FrameStock.frame_id, FrameStock.location_id, FrameStock.quantity)
        .where(FrameStock.practice_id == practice_id, FrameStock.frame_id.in_(ids))
        .order_by(FrameStock.frame_id, FrameStock.location_id)
    )
    for frame_id, location_id, quantity in rows:
        result[frame_id].append((location_id, quantity))
    return result


def page(
    reader: Reader, practice_id: int, flt: FrameFilter, *, limit: int, offset: int
) -> FramePage:
    """A page of frames; ``brand`` matches case-insensitively and exactly; ``in_stock`` is
    any location holding at least one. ``updated_since`` orders oldest-first by
    (updated_at, id), otherwise newest-first by (created_at, id)."""
    condition = _where(practice_id, flt)
    total = reader.scalar(select(func.count()).select_from(Frame).where(condition)) or 0
    ordering = (
        (Frame.updated_at.asc(), Frame.id.asc())
        if flt.updated_since is not None
        else (Frame.created_at.desc(), Frame.id.desc())
    )
    rows = reader.execute(
        select(*_COLUMNS).where(condition).order_by(*ordering).limit(limit).offset(offset)
    ).all()
    levels = stock_levels(reader, practice_id, [row.id for row in rows])
    views = [FrameView(**row._mapping, stock=tuple(levels[row.id])) for row in rows]
    return FramePage(views, int(total))
