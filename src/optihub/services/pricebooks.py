"""Pricebooks: frames priced in bulk, pricebook items, price tiers — within one practice.

A pricebook frame is a frame of the catalog (``optihub.reads.pricebooks``): creating
pricebook frames adds catalog frames, and patching one changes the frame (and its linked
``frames`` pricebook item, when the practice has one, so the pricebook shows what was
set). A price change emits ``inventory.updated`` as a stock-and-price change does.
Every write is audited; a batch is all or nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import Frame, PricebookItem, PriceTier
from optihub.errors import Conflict, FieldError, NotFound, ValidationFailed
from optihub.events.outbox import record_event
from optihub.reads.frames import stock_levels
from optihub.reads.pricebooks import ITEM_KINDS
from optihub.services import audit
from optihub.services import frames as frame_service
from optihub.services.context import Actor

# The catalog's own rules for a frame (fields, measurement ranges, prices).
frame_errors = frame_service._validate


def _write_or_conflict(session: Session, write: Callable[[], None], message: str) -> None:
    """Run ``write`` and flush it in a savepoint: a unique-key violation undoes only that
    and becomes ``Conflict(message)``, leaving the caller's transaction usable. (Rows
    added before a savepoint begins are flushed outside it, hence the callable.)"""
    try:
        with session.begin_nested():
            write()
            session.flush()
    except IntegrityError as exc:
        raise Conflict(message) from exc


def _indexed(errors: list[FieldError], index: int) -> list[FieldError]:
    return [replace(error, index=index) for error in errors]


def _batch_failure(errors: list[FieldError]) -> ValidationFailed:
    first = errors[0]
    return ValidationFailed(errors, message=f"Record {first.index}: {first.field}: {first.message}")


def create_frames(
    session: Session, actor: Actor, entries: Sequence[frame_service.FrameDetails]
) -> list[Frame]:
    """Add frames to the practice's catalog (its frames pricebook), all or none.

    Every record is checked before anything is written (fields, measurements, prices, a
    SKU repeated in the batch or already in the catalog); ``ValidationFailed`` lists every
    violation with its record ``index`` and its message names the first. A write that
    still fails (a SKU taken meanwhile) undoes the whole batch and raises ``Conflict``
    naming the record. Each frame is audited (``frame.created``).
    """
    errors: list[FieldError] = []
    first_index: dict[str, int] = {}
    for index, entry in enumerate(entries):
        errors += _indexed(frame_errors(entry), index)
        sku = entry.sku
        if sku in first_index:
            errors.append(
                FieldError("sku", f"Repeats the SKU of record {first_index[sku]}.", index)
            )
        elif sku:
            first_index[sku] = index
    if first_index:
        taken = set(
            session.scalars(
                select(Frame.sku).where(
                    Frame.practice_id == actor.practice_id, Frame.sku.in_(first_index)
                )
            )
        )
        errors += [
            FieldError("sku", f"A frame with SKU {sku} already exists.", index)
            for sku, index in first_index.items()
            if sku in taken
        ]
    if errors:
        errors.sort(key=lambda e: e.index or 0)
        raise _batch_failure(errors)
    created: list[Frame] = []
    with session.begin_nested():
        for index, entry in enumerate(entries):
            try:
                created.append(frame_service.create_frame(session, actor, entry))
            except Conflict as exc:
                raise Conflict(f"Record {index}: {exc.message}") from exc
    return created


@dataclass(frozen=True)
class FramePatch:
    """What a PATCH may change; ``None`` leaves a field as it is. ``cost`` is the
    frame's wholesale price."""

    brand: str | None = None
    model: str | None = None
    color: str | None = None
    material: str | None = None
    upc: str | None = None
    price: Decimal | None = None
    cost: Decimal | None = None


def patch_frame(session: Session, actor: Actor, frame_id: uuid.UUID, patch: FramePatch) -> Frame:
    """Change a pricebook frame's name fields, price or cost (audited ``frame.updated``).

    The linked ``frames`` pricebook item, if any, takes the new price and cost too. A
    changed price or cost emits ``inventory.updated``. Raises ``NotFound`` (missing or
    another practice's frame) or ``ValidationFailed``.
    """
    frame = frame_service.get_frame(session, actor.practice_id, frame_id)
    current = {f.name: getattr(frame, f.name) for f in fields(frame_service.FrameDetails)}
    changes: dict[str, Any] = {
        name: getattr(patch, name)
        for name in ("brand", "model", "color", "material", "upc", "price")
        if getattr(patch, name) is not None
    }
    if patch.cost is not None:
        changes["wholesale_price"] = patch.cost
    details = frame_service.FrameDetails(**(current | changes))
    errors = frame_errors(details)
    if errors:
        raise ValidationFailed(
            [replace(e, field="cost") if e.field == "wholesale_price" else e for e in errors]
        )
    repriced = (frame.price, frame.wholesale_price) != (details.price, details.wholesale_price)
    frame_service.update_frame(session, actor, frame.id, details)
    if repriced:
        values: dict[str, Any] = {"updated_at": utcnow()}
        if patch.price is not None:
            values["retail_price"] = patch.price
        if patch.cost is not None:
            values["cost"] = patch.cost
        session.execute(
            update(PricebookItem)
            .where(
                PricebookItem.practice_id == actor.practice_id,
                PricebookItem.kind == "frames",
                PricebookItem.frame_id == frame.id,
            )
            .values(**values)
        )
        record_event(
            session,
            practice_id=actor.practice_id,
            type="inventory.updated",
            data=frame_service.inventory_event_data(
                frame, stock_levels(session, actor.practice_id, [frame.id])[frame.id]
            ),
        )
    return frame


@dataclass(frozen=True)
class PricebookItemDetails:
    """One priced item. ``frame_id`` links a ``frames`` item to its catalog frame (one
    item per frame); ``price_tier_id`` ties an item to a tier."""

    code: str
    name: str
    retail_price: Decimal
    cost: Decimal | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    frame_id: uuid.UUID | None = None
    price_tier_id: uuid.UUID | None = None


def _item_errors(
    session: Session, actor: Actor, kind: str, item: PricebookItemDetails
) -> list[FieldError]:
    errors: list[FieldError] = []
    if kind not in (*ITEM_KINDS, "frames"):
        errors.append(FieldError("kind", f"Must be one of: {', '.join((*ITEM_KINDS, 'frames'))}."))
    for name, longest in (("code", 50), ("name", 200)):
        value = getattr(item, name)
        if not value or not value.strip():
            errors.append(FieldError(name, "Is required."))
        elif len(value) > longest:
            errors.append(FieldError(name, f"Must be at most {longest} characters."))
    for name in ("retail_price", "cost"):
        value = getattr(item, name)
        if value is not None and value < 0:
            errors.append(FieldError(name, "Cannot be negative."))
    if kind == "frames":
        if item.frame_id is None:
            errors.append(FieldError("frame_id", "A frames item names its frame."))
        elif frame_service.find_frame(session, actor.practice_id, item.frame_id) is None:
            errors.append(FieldError("frame_id", "No such frame in this practice."))
        elif session.scalar(
            select(PricebookItem.id).where(
                PricebookItem.practice_id == actor.practice_id,
                PricebookItem.kind == "frames",
                PricebookItem.frame_id == item.frame_id,
            )
        ):
            errors.append(FieldError("frame_id", "This frame is already in the pricebook."))
    elif item.frame_id is not None:
        errors.append(FieldError("frame_id", "Only a frames item names a frame."))
    if item.price_tier_id is not None:
        get_price_tier(session, actor.practice_id, item.price_tier_id)
    return errors


def create_item(
    session: Session, actor: Actor, kind: str, item: PricebookItemDetails
) -> PricebookItem:
    """Add an item to one of the practice's pricebooks (audited ``pricebook_item.created``).

    Raises ``ValidationFailed`` (fields, a kind without items, a frames item without its
    frame), ``NotFound`` (an unknown price tier) or ``Conflict`` (the code is taken in that
    pricebook).
    """
    errors = _item_errors(session, actor, kind, item)
    if errors:
        raise ValidationFailed(errors)
    row = PricebookItem(
        practice_id=actor.practice_id,
        kind=kind,
        code=item.code.strip(),
        name=item.name.strip(),
        retail_price=item.retail_price,
        cost=item.cost,
        attributes=dict(item.attributes),
        frame_id=item.frame_id,
        price_tier_id=item.price_tier_id,
    )
    _write_or_conflict(
        session,
        lambda: session.add(row),
        f"The {kind} pricebook already has an item with code {row.code}",
    )
    audit.record(session, actor, "pricebook_item.created", "pricebook_item", row.id, {"kind": kind})
    return row


@dataclass(frozen=True)
class PriceTierDetails:
    name: str
    description: str | None = None
    discount_percent: Decimal = Decimal("0")
    is_default: bool = False


@dataclass(frozen=True)
class PriceTierPatch:
    """``None`` leaves a field as it is; ``description=""`` clears the description."""

    name: str | None = None
    description: str | None = None
    discount_percent: Decimal | None = None
    is_default: bool | None = None


def _tier_errors(details: PriceTierDetails) -> list[FieldError]:
    errors: list[FieldError] = []
    name = details.name.strip()
    if not name:
        errors.append(FieldError("name", "Is required."))
    elif len(name) > 100:
        errors.append(FieldError("name", "Must be at most 100 characters."))
    if not Decimal("0") <= details.discount_percent <= Decimal("100"):
        errors.append(FieldError("discount_percent", "Must be between 0 and 100."))
    elif details.discount_percent != details.discount_percent.quantize(Decimal("0.01")):
        errors.append(FieldError("discount_percent", "At most two decimal places."))
    return errors


def _check_tier_name(
    session: Session, practice_id: int, name: str, tier_id: uuid.UUID | None = None
) -> None:
    query = select(PriceTier.id).where(
        PriceTier.practice_id == practice_id, func.lower(PriceTier.name) == name.lower()
    )
    if tier_id is not None:
        query = query.where(PriceTier.id != tier_id)
    if session.scalar(query) is not None:
        raise Conflict(f"A price tier named {name} already exists")


def _one_default(session: Session, practice_id: int, tier: PriceTier) -> None:
    if tier.is_default:
        session.execute(
            update(PriceTier)
            .where(
                PriceTier.practice_id == practice_id,
                PriceTier.id != tier.id,
                PriceTier.is_default.is_(True),
            )
            .values(is_default=False, updated_at=utcnow())
        )


def get_price_tier(session: Session, practice_id: int, tier_id: uuid.UUID) -> PriceTier:
    """The practice's price tier; another practice's is reported as not found."""
    tier = session.scalar(
        select(PriceTier).where(PriceTier.practice_id == practice_id, PriceTier.id == tier_id)
    )
    if tier is None:
        raise NotFound("Price tier", tier_id)
    return tier


def create_price_tier(session: Session, actor: Actor, details: PriceTierDetails) -> PriceTier:
    """Add a price tier (audited ``price_tier.created``). A default tier makes every other
    tier of the practice non-default. Raises ``ValidationFailed`` or ``Conflict`` (the
    name, compared case-insensitively, is taken in the practice)."""
    errors = _tier_errors(details)
    if errors:
        raise ValidationFailed(errors)
    name = details.name.strip()
    _check_tier_name(session, actor.practice_id, name)
    tier = PriceTier(
        practice_id=actor.practice_id,
        name=name,
        description=details.description or None,
        discount_percent=details.discount_percent,
        is_default=details.is_default,
    )
    _write_or_conflict(
        session, lambda: session.add(tier), f"A price tier named {name} already exists"
    )
    _one_default(session, actor.practice_id, tier)
    audit.record(session, actor, "price_tier.created", "price_tier", tier.id)
    return tier


def update_price_tier(
    session: Session, actor: Actor, tier_id: uuid.UUID, patch: PriceTierPatch
) -> PriceTier:
    """Change a price tier (audited ``price_tier.updated``). Raises ``NotFound``,
    ``ValidationFailed`` or ``Conflict`` (the new name is another tier's)."""
    tier = get_price_tier(session, actor.practice_id, tier_id)
    details = PriceTierDetails(
        name=patch.name if patch.name is not None else tier.name,
        description=patch.description if patch.description is not None else tier.description,
        discount_percent=(
            patch.discount_percent
            if patch.discount_percent is not None
            else Decimal(tier.discount_percent)
        ),
        is_default=patch.is_default if patch.is_default is not None else tier.is_default,
    )
    errors = _tier_errors(details)
    if errors:
        raise ValidationFailed(errors)
    name = details.name.strip()
    _check_tier_name(session, actor.practice_id, name, tier.id)

    def write() -> None:
        tier.name = name
        tier.description = details.description or None
        tier.discount_percent = details.discount_percent
        tier.is_default = details.is_default

    _write_or_conflict(session, write, f"A price tier named {name} already exists")
    _one_default(session, actor.practice_id, tier)
    audit.record(session, actor, "price_tier.updated", "price_tier", tier.id)
    return tier


def delete_price_tier(session: Session, actor: Actor, tier_id: uuid.UUID) -> None:
    """Remove a price tier and the pricebook items priced for it (audited
    ``price_tier.deleted``). Raises ``NotFound``."""
    tier = get_price_tier(session, actor.practice_id, tier_id)
    session.execute(
        delete(PricebookItem).where(
            PricebookItem.practice_id == actor.practice_id,
            PricebookItem.price_tier_id == tier.id,
        )
    )
    session.delete(tier)
    session.flush()
    audit.record(session, actor, "price_tier.deleted", "price_tier", tier_id, {"name": tier.name})
