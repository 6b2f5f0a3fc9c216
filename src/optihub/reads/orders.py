"""Order reads for every surface: pages and details of stored documents (the hot path),
or of plain views when a surface shapes something else from orders (e.g. their Rx).

Lists: one indexed query for the page (stored document bytes joined to the order rows in
the list's sort order) and, for ``total``, a sum over the kept per-status counts when the
filter is by status alone (otherwise an indexed ``COUNT``). A document missing from
storage (an order changed by a process without that projection) is rendered on the fly.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, select

from optihub.db.models import Order, OrderCount, OrderDocument
from optihub.domain.orders import OrderStatus
from optihub.errors import NotFound
from optihub.reads import documents
from optihub.reads.order_views import (
    Keyset,
    OrderFilter,
    OrderView,
    Reader,
    Sort,
    load,
    ordering,
    where,
)

__all__ = [
    "DocumentPage",
    "Keyset",
    "OrderFilter",
    "OrderView",
    "Sort",
    "ViewPage",
    "detail",
    "page",
    "total",
    "view",
    "views",
]


@dataclass(frozen=True)
class DocumentPage:
    items: list[bytes]
    total: int
    # The sort position of the last item (when asked for: pollers build their cursor on it).
    last: Keyset | None = None


@dataclass(frozen=True)
class ViewPage:
    views: list[OrderView]
    total: int


def total(reader: Reader, practice_id: int, flt: OrderFilter) -> int:
    """How many of the practice's orders match ``flt``."""
    if flt.by_status_only:
        wanted = [s.value for s in OrderStatus] if flt.statuses is None else list(flt.statuses)
        wanted = [s for s in wanted if s not in set(flt.hidden_statuses)]
        return int(
            reader.scalar(
                select(func.coalesce(func.sum(OrderCount.count), 0)).where(
                    OrderCount.practice_id == practice_id, OrderCount.status.in_(wanted)
                )
            )
            or 0
        )
    return int(
        reader.scalar(select(func.count()).select_from(Order).where(where(practice_id, flt))) or 0
    )


def _document_of(projection: str) -> ColumnElement[bool]:
    """Join condition: an order's stored document of ``projection``."""
    return and_(
        OrderDocument.practice_id == Order.practice_id,
        OrderDocument.order_id == Order.id,
        OrderDocument.projection == projection,
    )


def page(
    reader: Reader,
    practice_id: int,
    projection: str,
    flt: OrderFilter,
    *,
    limit: int,
    offset: int = 0,
    sort: Sort = Sort.NEWEST,
    with_total: bool = True,
    with_last: bool = False,
) -> DocumentPage:
    """A page of the projection's list items, in ``sort`` order."""
    doc = OrderDocument
    columns = [doc.summary] + ([Order.updated_at, Order.id] if with_last else [])
    rows = reader.execute(
        select(*columns)
        .select_from(Order)
        .outerjoin(doc, _document_of(projection))
        .where(where(practice_id, flt))
        .order_by(*ordering(sort))
        .limit(limit)
        .offset(offset)
    ).all()
    items = [row[0] for row in rows]
    if any(item is None for item in items):
        items = _render_page(reader, practice_id, projection, flt, limit, offset, sort)
    last = Keyset(rows[-1][1], rows[-1][2]) if with_last and rows else None
    count = total(reader, practice_id, flt) if with_total else len(items)
    return DocumentPage(items, count, last)


def _render_page(
    reader: Reader,
    practice_id: int,
    projection: str,
    flt: OrderFilter,
    limit: int,
    offset: int,
    sort: Sort,
) -> list[bytes]:
    shape = documents.projection(projection)
    found = load(reader, practice_id, where(practice_id, flt), ordering(sort), limit, offset)
    return [shape.render(order)[0] for order in found]


def detail(
    reader: Reader,
    practice_id: int,
    projection: str,
    order_id: uuid.UUID,
    hidden_statuses: tuple[str, ...] = (),
) -> bytes:
    """One order's detail document; a foreign, hidden or missing order is ``NotFound``."""
    doc = OrderDocument
    condition = where(practice_id, OrderFilter(order_id=order_id, hidden_statuses=hidden_statuses))
    row = reader.execute(
        select(Order.id, doc.summary, doc.detail_extra)
        .select_from(Order)
        .outerjoin(doc, _document_of(projection))
        .where(condition)
    ).first()
    if row is None:
        raise NotFound("Order", order_id)
    summary, extra = row[1], row[2]
    if summary is None:
        summary, extra = documents.projection(projection).render(
            view(reader, practice_id, order_id)
        )
    return documents.detail_bytes(summary, extra)


def views(
    reader: Reader,
    practice_id: int,
    flt: OrderFilter,
    *,
    limit: int,
    offset: int = 0,
    sort: Sort = Sort.NEWEST,
) -> ViewPage:
    """A page of plain views, for surfaces that shape something other than the order."""
    found = load(reader, practice_id, where(practice_id, flt), ordering(sort), limit, offset)
    return ViewPage(found, total(reader, practice_id, flt))


def view(
    reader: Reader,
    practice_id: int,
    order_id: uuid.UUID,
    hidden_statuses: tuple[str, ...] = (),
) -> OrderView:
    """One order as a view; a foreign, hidden or missing order is ``NotFound``."""
    flt = OrderFilter(order_id=order_id, hidden_statuses=hidden_statuses)
    found = load(reader, practice_id, where(practice_id, flt), limit=1)
    if not found:
        raise NotFound("Order", order_id)
    return found[0]
