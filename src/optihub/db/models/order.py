"""Orders with their lines, frame, Rx snapshot, lens choice, payment, shipping, lab
submission, replacement and status history; invoices."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from optihub.db.base import Base, JSONDocument, Money, Timestamps, new_id, utcnow
from optihub.domain.orders import ORDER_TYPES, OrderStatus

# The canonical states and order types are the domain's; storage only enforces them.
ORDER_STATUSES = tuple(status.value for status in OrderStatus)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Order(Timestamps, Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(_one_of("status", ORDER_STATUSES), name="status_known"),
        CheckConstraint(_one_of("type", ORDER_TYPES), name="type_known"),
        UniqueConstraint("number"),
        UniqueConstraint("practice_id", "external_id"),
        # Newest-first lists and `since` polling (updated_at, id), with and without status.
        Index(None, "practice_id", "created_at", "id"),
        Index(None, "practice_id", "updated_at", "id"),
        Index(None, "practice_id", "status", "created_at"),
        Index(None, "practice_id", "patient_id", "created_at"),
        Index(None, "practice_id", "lab_id", "created_at"),
        Index(None, "practice_id", "original_order_id"),
        # Renaming a location re-renders the stored documents of its orders.
        Index(None, "practice_id", "location_id"),
        # The dashboard's board: a status column, longest waiting first; its search by
        # tray and invoice number.
        Index(None, "practice_id", "status", "status_changed_at", "id"),
        Index(None, "practice_id", "tray_number"),
        Index(None, "practice_id", "invoice_number"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(30))
    external_id: Mapped[str | None] = mapped_column(String(100))
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("locations.id", ondelete="SET NULL")
    )
    patient_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patients.id", ondelete="SET NULL")
    )
    physician_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("employees.id", ondelete="SET NULL")
    )
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_via: Mapped[str] = mapped_column(String(30), default="service")
    type: Mapped[str] = mapped_column(String(20), default="spectacles")
    status: Mapped[str] = mapped_column(String(20), default="received")
    # Fulfillment sub-steps inside in_progress (e.g. picked, verified).
    sub_status: Mapped[str | None] = mapped_column(String(30))
    # When the order entered its status (the board's "days in status" and overdue marks).
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Frame: the catalog frame when there is one, plus what was measured/sent for this job.
    frame_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("frames.id", ondelete="SET NULL"))
    frame_details: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    frame_tracing: Mapped[str | None] = mapped_column(Text)

    # Prescription on file it was made from, and an immutable copy of the values used.
    prescription_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("prescriptions.id", ondelete="SET NULL")
    )
    rx_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    lens: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)

    # Payment
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    subtotal: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    tax_total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    amount_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    patient_balance: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))

    # Shipping and pickup
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    pickup_date: Mapped[date | None] = mapped_column(Date)
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    carrier: Mapped[str | None] = mapped_column(String(50))

    # Lab submission
    lab_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("labs.id", ondelete="SET NULL"))
    lab_account_number: Mapped[str | None] = mapped_column(String(50))
    lab_order_type: Mapped[str | None] = mapped_column(String(50))
    submission_type: Mapped[str | None] = mapped_column(String(20))
    mounting_option: Mapped[str | None] = mapped_column(String(100))
    redo_type: Mapped[str | None] = mapped_column(String(100))
    redo_reason: Mapped[str | None] = mapped_column(String(250))
    redo_reference: Mapped[str | None] = mapped_column(String(100))
    multi_pair_reference: Mapped[str | None] = mapped_column(String(100))
    lab_services: Mapped[list[Any] | None] = mapped_column(JSONDocument)
    special_instructions: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column()
    submitted_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    tray_number: Mapped[str | None] = mapped_column(String(50))
    invoice_number: Mapped[str | None] = mapped_column(String(50))

    # Fulfillment flags and replacements
    priority: Mapped[bool] = mapped_column(Boolean, default=False)
    cancellation_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    original_order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL")
    )
    replacement_reason: Mapped[str | None] = mapped_column(String(250))
    replacement_request_status: Mapped[str | None] = mapped_column(String(20))
    replacement_requested_at: Mapped[datetime | None] = mapped_column()
    replacement_request_reason: Mapped[str | None] = mapped_column(String(250))
    # Fulfillment shipping: a prepaid label the caller supplies, the service level asked for,
    # and the comments of a cancellation request.
    custom_shipping: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    shipping_service_level: Mapped[str | None] = mapped_column(String(50))
    cancellation_comments: Mapped[str | None] = mapped_column(Text)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order",
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="OrderLine.position",
    )
    history: Mapped[list[OrderStatusChange]] = relationship(
        back_populates="order",
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="(OrderStatusChange.at, OrderStatusChange.id)",
    )

    @property
    def balance(self) -> Decimal:
        return self.total - self.amount_paid


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        # selectinload fetches an order page's lines by order id alone.
        Index(None, "order_id", "position"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20), default="other")
    sku: Mapped[str | None] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    retail_price: Mapped[Decimal] = mapped_column(Money)
    tax: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    # A prescription product (Rx lenses, contact lenses) needs a valid prescription on file;
    # ``prescription_id`` is the one linked to the line (None while unmatched).
    prescription_required: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    prescription_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("prescriptions.id", ondelete="SET NULL")
    )

    order: Mapped[Order] = relationship(back_populates="lines", lazy="raise")


class OrderStatusChange(Base):
    """One recorded transition: who, when, from, to, through which surface."""

    __tablename__ = "order_status_changes"
    __table_args__ = (Index(None, "order_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    sub_status: Mapped[str | None] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    actor_client_id: Mapped[str | None] = mapped_column(String(100))
    actor_label: Mapped[str] = mapped_column(String(254))
    via: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)

    order: Mapped[Order] = relationship(back_populates="history", lazy="raise")


class OrderDocument(Base):
    """An order as one surface shows it, stored as the bytes that surface serves.

    Written in the same transaction as every change that shows in the order (see
    ``optihub.reads.documents``), so a read never serves a stale one; ``detail_extra`` holds
    the keys a detail read adds to the list item (a JSON object, or nothing).
    """

    __tablename__ = "order_documents"

    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), primary_key=True
    )
    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    projection: Mapped[str] = mapped_column(String(30), primary_key=True)
    summary: Mapped[bytes] = mapped_column(LargeBinary)
    detail_extra: Mapped[bytes | None] = mapped_column(LargeBinary)


class OrderCount(Base):
    """How many orders a practice has in each status, kept in the transaction of every
    change, so a list's ``total`` is a sum of a few rows instead of a count of them all."""

    __tablename__ = "order_counts"

    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class OrderVersion(Base):
    """A practice's order version: raised in the transaction of every change to what its
    orders show (a stored document written, an order deleted), so a reader that cached a
    page or a document under the version it read with them knows, by reading this one row,
    whether the copy is still exact (``optihub.reads.orders``)."""

    __tablename__ = "order_versions"

    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class Invoice(Timestamps, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("practice_id", "number"),
        Index(None, "practice_id", "created_at"),
        Index(None, "practice_id", "order_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    patient_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patients.id", ondelete="SET NULL")
    )
    number: Mapped[str] = mapped_column(String(30))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    subtotal: Mapped[Decimal] = mapped_column(Money)
    tax_total: Mapped[Decimal] = mapped_column(Money)
    total: Mapped[Decimal] = mapped_column(Money)
    amount_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    status: Mapped[str] = mapped_column(String(20), default="open")

    lines: Mapped[list[InvoiceLine]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="InvoiceLine.position"
    )
    payments: Mapped[list[Payment]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="Payment.paid_at"
    )

    @property
    def balance(self) -> Decimal:
        return self.total - self.amount_paid


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (Index(None, "practice_id", "invoice_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    tax: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (Index(None, "practice_id", "invoice_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    amount: Mapped[Decimal] = mapped_column(Money)
    method: Mapped[str] = mapped_column(String(30))
    payer: Mapped[str] = mapped_column(String(20), default="patient")
    paid_at: Mapped[datetime] = mapped_column(default=utcnow)
