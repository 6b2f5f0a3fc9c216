"""Invoices: bill an order (or a patient) with lines, taxes and payments."""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import Invoice, InvoiceLine, Order, OrderLine, Patient, Payment
from optihub.errors import FieldError, NotFound, ValidationFailed
from optihub.services import audit
from optihub.services.common import flush_or_conflict
from optihub.services.context import Actor

CENTS = Decimal("0.01")
PAYMENT_METHODS = ("cash", "card", "check", "insurance", "financing", "other")
PAYERS = ("patient", "insurance")


@dataclass(frozen=True)
class InvoiceLineDetails:
    """``tax`` is the line's whole tax (not per unit), as on order lines."""

    description: str
    quantity: int
    unit_price: Decimal
    tax: Decimal = Decimal("0")


def new_invoice_number(at: datetime) -> str:
    """``INV`` + YYMMDD + 6 random capitals and digits."""
    alphabet = string.ascii_uppercase + string.digits
    return f"INV{at:%y%m%d}" + "".join(secrets.choice(alphabet) for _ in range(6))


def create_invoice(
    session: Session,
    actor: Actor,
    *,
    order_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    lines: Sequence[InvoiceLineDetails] | None = None,
) -> Invoice:
    """Invoice an order or a patient (audited ``invoice.created``), status ``open``.

    With an order and no ``lines``, the order's lines are billed; the patient defaults to
    the order's. Subtotal is the sum of quantity × unit price, tax the sum of the lines'
    taxes, total their sum (to the cent). Raises ``ValidationFailed`` (an unknown order or
    patient, no lines, bad quantities or amounts).
    """
    errors: list[FieldError] = []
    order = None
    if order_id is not None:
        order = session.scalar(
            select(Order).where(Order.practice_id == actor.practice_id, Order.id == order_id)
        )
        if order is None:
            errors.append(FieldError("order_id", "No such order in this practice."))
    if patient_id is not None and (
        session.scalar(
            select(Patient.id).where(
                Patient.practice_id == actor.practice_id, Patient.id == patient_id
            )
        )
        is None
    ):
        errors.append(FieldError("patient_id", "No such patient in this practice."))
    if lines is None and order is not None:
        lines = [
            InvoiceLineDetails(line.description, line.quantity, line.unit_price, line.tax)
            for line in session.scalars(
                select(OrderLine)
                .where(OrderLine.practice_id == actor.practice_id, OrderLine.order_id == order.id)
                .order_by(OrderLine.position)
            )
        ]
    lines = list(lines or [])
    if not lines:
        errors.append(FieldError("lines", "An invoice needs at least one line."))
    for index, line in enumerate(lines):
        if line.quantity < 1:
            errors.append(FieldError(f"lines[{index}].quantity", "Must be at least 1."))
        if line.unit_price < 0:
            errors.append(FieldError(f"lines[{index}].unit_price", "Cannot be negative."))
        if line.tax < 0:
            errors.append(FieldError(f"lines[{index}].tax", "Cannot be negative."))
        if not line.description.strip() or len(line.description) > 300:
            errors.append(
                FieldError(f"lines[{index}].description", "Is required (at most 300 characters).")
            )
    if errors:
        raise ValidationFailed(errors)
    subtotal = sum((line.unit_price * line.quantity for line in lines), Decimal("0"))
    tax = sum((line.tax for line in lines), Decimal("0"))
    now = utcnow()
    invoice = Invoice(
        practice_id=actor.practice_id,
        order_id=order_id,
        patient_id=patient_id if patient_id is not None else (order.patient_id if order else None),
        number=new_invoice_number(now),
        currency=order.currency if order is not None else "USD",
        subtotal=subtotal.quantize(CENTS),
        tax_total=tax.quantize(CENTS),
        total=(subtotal + tax).quantize(CENTS),
        amount_paid=Decimal("0"),
        status="open",
        created_at=now,
        updated_at=now,
    )
    session.add(invoice)
    session.flush()
    session.add_all(
        InvoiceLine(
            practice_id=actor.practice_id,
            invoice_id=invoice.id,
            position=position,
            description=line.description.strip(),
            quantity=line.quantity,
            unit_price=line.unit_price,
            tax=line.tax,
        )
        for position, line in enumerate(lines, start=1)
    )
    flush_or_conflict(session, "Invoice number taken; try again")
    audit.record(session, actor, "invoice.created", "invoice", invoice.id)
    return invoice


def record_payment(
    session: Session,
    actor: Actor,
    invoice_id: uuid.UUID,
    *,
    amount: Decimal,
    method: str,
    payer: str = "patient",
    paid_at: datetime | None = None,
) -> Payment:
    """Record a payment on an invoice (audited ``invoice.paid``); the invoice's amount paid
    grows and it becomes ``paid`` once nothing is owed. Raises ``NotFound`` or
    ``ValidationFailed`` (a non-positive amount, more than is owed, unknown method/payer)."""
    invoice = session.scalar(
        select(Invoice)
        .where(Invoice.practice_id == actor.practice_id, Invoice.id == invoice_id)
        .with_for_update()
    )
    if invoice is None:
        raise NotFound("Invoice", invoice_id)
    errors: list[FieldError] = []
    if amount <= 0 or amount != amount.quantize(CENTS):
        errors.append(FieldError("amount", "Must be a positive amount in cents."))
    elif amount > invoice.balance:
        errors.append(FieldError("amount", f"Only {invoice.balance} is owed."))
    if method not in PAYMENT_METHODS:
        errors.append(FieldError("method", f"Must be one of: {', '.join(PAYMENT_METHODS)}."))
    if payer not in PAYERS:
        errors.append(FieldError("payer", f"Must be one of: {', '.join(PAYERS)}."))
    if errors:
        raise ValidationFailed(errors)
    payment = Payment(
        practice_id=actor.practice_id,
        invoice_id=invoice.id,
        amount=amount,
        method=method,
        payer=payer,
        paid_at=paid_at or utcnow(),
    )
    session.add(payment)
    invoice.amount_paid = invoice.amount_paid + amount
    if invoice.balance == 0:
        invoice.status = "paid"
    session.flush()
    audit.record(session, actor, "invoice.paid", "invoice", invoice.id, {"amount": str(amount)})
    return payment
