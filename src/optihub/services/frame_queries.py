"""Read model for the frame catalog with stock: one query per page plus one for its stock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from optihub.db.models import Frame, FrameStock
from optihub.services.frames import stock_levels


@dataclass(frozen=True)
class FrameRow:
    frame: Frame
    stock: list[tuple[uuid.UUID, int]]

    @property
    def quantity(self) -> int:
        return sum(q for _, q in self.stock)


@dataclass(frozen=True)
class FramePage:
    rows: list[FrameRow]
    total: int


def list_frames(
    session: Session,
    practice_id: int,
    *,
    limit: int,
    offset: int,
    brand: str | None = None,
    in_stock: bool | None = None,
    updated_since: datetime | None = None,
) -> FramePage:
    """A page of frames; ``brand`` matches case-insensitively and exactly; ``in_stock`` is
    any location holding at least one. ``updated_since`` orders oldest-first by
    (updated_at, id), otherwise newest-first by (created_at, id)."""
    filters = [Frame.practice_id == practice_id]
    if brand is not None:
        filters.append(Frame.brand_key == brand.strip().lower())
    if in_stock is not None:
        stocked = exists().where(FrameStock.frame_id == Frame.id, FrameStock.quantity > 0)
        filters.append(stocked if in_stock else ~stocked)
    if updated_since is not None:
        filters.append(Frame.updated_at >= updated_since)
    where = and_(*filters)
    total = session.scalar(select(func.count()).select_from(Frame).where(where)) or 0
    ordering = (
        (Frame.updated_at.asc(), Frame.id.asc())
        if updated_since is not None
        else (Frame.created_at.desc(), Frame.id.desc())
    )
    frames = list(
        session.scalars(select(Frame).where(where).order_by(*ordering).limit(limit).offset(offset))
    )
    levels = stock_levels(session, practice_id, [f.id for f in frames])
    return FramePage([FrameRow(f, levels[f.id]) for f in frames], total)
