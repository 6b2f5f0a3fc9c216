"""Invoice reads: a practice's invoices with their lines, payments and balance, as plain
views (one query for the page, one for its lines, one for its payments, one count)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select

from optihub.db.models import Invoice, InvoiceLine, Payment
from optihub.errors import NotFound
from optihub.reads.order_views import Reader
from optihub.reads.sorting import Sort, day_bounds, order_by

__all__ = [
    "SORT_FIELDS",
    "InvoiceFilter",
    "InvoiceLineView",
    "InvoicePage",
    "InvoiceView",
    "PaymentView",
    "detail",
    "page",
]


@dataclass(frozen=True)
class InvoiceLineView:
    id: uuid.UUID
    position: int
    description: str
    quantity: int
    unit_price: Decimal
    tax: Decimal

    @property
    def amount(self) -> Decimal:
        """Quantity times unit price, before tax."""
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class PaymentView:
    id: uuid.UUID
    amount: Decimal
    method: str
    payer: str
    paid_at: datetime


@dataclass(frozen=True)
class InvoiceView:
    id: uuid.UUID
    number: str
    order_id: uuid.UUID | None
    patient_id: uuid.UUID | None
    currency: str
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    amount_paid: Decimal
    status: str
    created_at: datetime
    updated_at: datetime
    lines: tuple[InvoiceLineView, ...] = ()
    payments: tuple[PaymentView, ...] = ()

    @property
    def balance(self) -> Decimal:
        """What is still owed: total less what was paid."""
        return self.total - self.amount_paid


_COLUMNS: list[Any] = [
    Invoice.id,
    Invoice.number,
    Invoice.order_id,
    Invoice.patient_id,
    Invoice.currency,
    Invoice.subtotal,
    Invoice.tax_total,
    Invoice.total,
    Invoice.amount_paid,
    Invoice.status,
    Invoice.created_at,
    Invoice.updated_at,
]

SORT_FIELDS: dict[str, Any] = {
    "id": Invoice.id,
    "number": Invoice.number,
    "status": Invoice.status,
    "total": Invoice.total,
    "balance": Invoice.total - Invoice.amount_paid,
    "created_at": Invoice.created_at,
    "updated_at": Invoice.updated_at,
}
DEFAULT_SORT: Sort = (("created_at", True),)


@dataclass(frozen=True)
class InvoiceFilter:
    """``created_from`` / ``created_to``: inclusive days of creation, in the practice's
    time zone. The others match exactly."""

    patient_id: uuid.UUID | None = None
    order_id: uuid.UUID | None = None
    status: str | None = None
    created_from: date | None = None
    created_to: date | None = None


@dataclass(frozen=True)
class InvoicePage:
    views: list[InvoiceView]
    total: int


def _where(reader: Reader, practice_id: int, flt: InvoiceFilter) -> ColumnElement[bool]:
    conditions = [Invoice.practice_id == practice_id]
    if flt.patient_id is not None:
        conditions.append(Invoice.patient_id == flt.patient_id)
    if flt.order_id is not None:
        conditions.append(Invoice.order_id == flt.order_id)
    if flt.status is not None:
        conditions.append(Invoice.status == flt.status)
    start, end = day_bounds(reader, practice_id, flt.created_from, flt.created_to)
    if start is not None:
        conditions.append(Invoice.created_at >= start)
    if end is not None:
        conditions.append(Invoice.created_at < end)
    return and_(*conditions)


def _with_children(
    reader: Reader, practice_id: int, invoices: Iterable[InvoiceView]
) -> list[InvoiceView]:
    views = list(invoices)
    ids = [v.id for v in views]
    if not ids:
        return views
    lines: dict[uuid.UUID, list[InvoiceLineView]] = {i: [] for i in ids}
    rows: Any = reader.execute(
        select(
            InvoiceLine.invoice_id,
            InvoiceLine.id,
            InvoiceLine.position,
            InvoiceLine.description,
            InvoiceLine.quantity,
            InvoiceLine.unit_price,
            InvoiceLine.tax,
        )
        .where(InvoiceLine.practice_id == practice_id, InvoiceLine.invoice_id.in_(ids))
        .order_by(InvoiceLine.invoice_id, InvoiceLine.position, InvoiceLine.id)
    )
    for invoice_id, *values in rows:
        lines[invoice_id].append(InvoiceLineView(*values))
    payments: dict[uuid.UUID, list[PaymentView]] = {i: [] for i in ids}
    rows = reader.execute(
        select(
            Payment.invoice_id,
            Payment.id,
            Payment.amount,
            Payment.method,
            Payment.payer,
            Payment.paid_at,
        )
        .where(Payment.practice_id == practice_id, Payment.invoice_id.in_(ids))
        .order_by(Payment.invoice_id, Payment.paid_at, Payment.id)
    )
    for invoice_id, *values in rows:
        payments[invoice_id].append(PaymentView(*values))
    return [replace(v, lines=tuple(lines[v.id]), payments=tuple(payments[v.id])) for v in views]


def page(
    reader: Reader,
    practice_id: int,
    flt: InvoiceFilter,
    *,
    limit: int,
    offset: int = 0,
    sort: Sort = DEFAULT_SORT,
) -> InvoicePage:
    """A page of the practice's invoices, each with its lines and payments, ordered by
    ``sort`` (keys of ``SORT_FIELDS``; ``BadRequest`` for others), the id breaking ties."""
    ordering = order_by(sort, SORT_FIELDS, Invoice.id)
    condition = _where(reader, practice_id, flt)
    total = reader.scalar(select(func.count()).select_from(Invoice).where(condition)) or 0
    rows = reader.execute(
        select(*_COLUMNS).where(condition).order_by(*ordering).limit(limit).offset(offset)
    )
    views = _with_children(reader, practice_id, (InvoiceView(*row) for row in rows))
    return InvoicePage(views, int(total))


def detail(reader: Reader, practice_id: int, invoice_id: uuid.UUID) -> InvoiceView:
    """The practice's invoice with its lines and payments; ``NotFound`` when missing or
    another practice's."""
    row = reader.execute(
        select(*_COLUMNS).where(Invoice.practice_id == practice_id, Invoice.id == invoice_id)
    ).first()
    if row is None:
        raise NotFound("Invoice", invoice_id)
    return _with_children(reader, practice_id, [InvoiceView(*row)])[0]
