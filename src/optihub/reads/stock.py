"""The stock page's read: the practice's frames with their quantity at each location,
filtered by location, low stock and words, in pages by (brand, SKU) with a keyset cursor
(a deep page costs what the first does). One query for the page, one for its stock, one
capped count."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select

from optihub.db.models import Frame, FrameStock
from optihub.reads.frames import stock_levels
from optihub.reads.order_views import Reader

# Frames have no reorder level of their own: "low" is at or below this unless the person
# asks for another number.
DEFAULT_LOW_STOCK = 2
PAGE_SIZE = 50
COUNT_CAP = 10_000
MAX_WORDS = 5


@dataclass(frozen=True)
class StockRow:
    id: uuid.UUID
    sku: str
    upc: str | None
    brand: str
    model: str
    color: str | None
    eye_size: int | None
    bridge: int | None
    temple: int | None
    is_active: bool
    quantities: dict[uuid.UUID, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.quantities.values())

    @property
    def size(self) -> str:
        """The size as opticians write it: eye□bridge temple (``52□18 140``)."""
        box = "□".join(str(v) for v in (self.eye_size, self.bridge) if v is not None)
        if self.eye_size is None and self.bridge is not None:
            box = f"□{self.bridge}"
        return " ".join(part for part in (box, str(self.temple or "")) if part)


@dataclass(frozen=True)
class StockFilter:
    location_id: uuid.UUID | None = None
    low_only: bool = False
    threshold: int = DEFAULT_LOW_STOCK
    words: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cursor:
    """The last row of a page: the next page starts after it."""

    brand_key: str
    sku: str


@dataclass(frozen=True)
class StockPage:
    rows: list[StockRow]
    next: Cursor | None
    matching: int  # capped at COUNT_CAP + 1


_COLUMNS: list[Any] = [
    Frame.id,
    Frame.sku,
    Frame.upc,
    Frame.brand,
    Frame.model,
    Frame.color,
    Frame.eye_size,
    Frame.bridge,
    Frame.temple,
    Frame.is_active,
]


def _on_hand(location_id: uuid.UUID | None) -> Any:
    """The frame's quantity at the location (or at all of them); 0 without a stock row."""
    conditions = [FrameStock.frame_id == Frame.id]
    if location_id is not None:
        conditions.append(FrameStock.location_id == location_id)
    return (
        select(func.coalesce(func.sum(FrameStock.quantity), 0)).where(*conditions).scalar_subquery()
    )


def _where(practice_id: int, flt: StockFilter) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = [Frame.practice_id == practice_id]
    if flt.low_only:
        conditions.append(_on_hand(flt.location_id) <= flt.threshold)
    for word in flt.words[:MAX_WORDS]:
        word = word.lower()
        conditions.append(
            or_(
                Frame.brand_key.contains(word, autoescape=True),
                func.lower(Frame.model).contains(word, autoescape=True),
                func.lower(Frame.color).contains(word, autoescape=True),
                func.lower(Frame.sku).contains(word, autoescape=True),
                Frame.upc.contains(word, autoescape=True),
            )
        )
    return and_(*conditions)


def page(
    reader: Reader,
    practice_id: int,
    flt: StockFilter,
    *,
    after: Cursor | None = None,
    limit: int = PAGE_SIZE,
) -> StockPage:
    """Frames matching ``flt`` by brand then SKU, after ``after``. ``low_only``: the
    quantity at the filter's location (or the total over all of them) is at or below
    ``threshold``; each word must be in the brand, model, colour, SKU or UPC."""
    condition = _where(practice_id, flt)
    matching = reader.scalar(
        select(func.count()).select_from(
            select(Frame.id).where(condition).limit(COUNT_CAP + 1).subquery()
        )
    )
    query = select(*_COLUMNS, Frame.brand_key).where(condition)
    if after is not None:
        query = query.where(
            or_(
                Frame.brand_key > after.brand_key,
                and_(Frame.brand_key == after.brand_key, Frame.sku > after.sku),
            )
        )
    rows = reader.execute(query.order_by(Frame.brand_key, Frame.sku).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    levels = stock_levels(reader, practice_id, [row.id for row in rows])
    views = [_row(row, levels[row.id]) for row in rows]
    last = rows[-1] if more and rows else None
    return StockPage(
        views,
        Cursor(last.brand_key, last.sku) if last is not None else None,
        int(matching or 0),
    )


def row(reader: Reader, practice_id: int, frame_id: uuid.UUID) -> StockRow | None:
    """One frame of the practice with its stock (None: no such frame in the practice)."""
    found = reader.execute(
        select(*_COLUMNS).where(Frame.practice_id == practice_id, Frame.id == frame_id)
    ).first()
    if found is None:
        return None
    return _row(found, stock_levels(reader, practice_id, [frame_id])[frame_id])


def _row(row: Any, stock: list[tuple[uuid.UUID, int]]) -> StockRow:
    values = {column.key: getattr(row, column.key) for column in _COLUMNS}
    return StockRow(**values, quantities=dict(stock))
