"""Frame catalog and stock per location.

Every stock change moves the frame's ``updated_at`` and writes one ``inventory.updated``
event per changed frame, whatever the channel (partner batch, practice API, dashboard, an
order consuming a frame).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import Frame, FrameStock, Location
from optihub.domain import rx as rx_rules
from optihub.errors import FieldError, NotFound, ValidationFailed
from optihub.events.outbox import record_event
from optihub.reads.frames import stock_levels
from optihub.services import audit
from optihub.services.common import flush_or_conflict
from optihub.services.context import Actor


@dataclass(frozen=True)
class FrameDetails:
    sku: str
    brand: str
    model: str
    upc: str | None = None
    color: str | None = None
    material: str | None = None
    eye_size: int | None = None
    bridge: int | None = None
    temple: int | None = None
    a: Decimal | None = None
    b: Decimal | None = None
    ed: Decimal | None = None
    price: Decimal | None = None
    wholesale_price: Decimal | None = None
    currency: str = "USD"


def _validate(details: FrameDetails) -> list[FieldError]:
    errors = []
    for name in ("sku", "brand", "model"):
        value = getattr(details, name)
        if not value or not value.strip():
            errors.append(FieldError(name, "Is required."))
        elif len(value) > (50 if name == "sku" else 100):
            errors.append(FieldError(name, "Is too long."))
    measurements = rx_rules.FrameMeasurements(
        eye_size=Decimal(details.eye_size) if details.eye_size is not None else None,
        bridge=Decimal(details.bridge) if details.bridge is not None else None,
        temple=Decimal(details.temple) if details.temple is not None else None,
        a=details.a,
        b=details.b,
        ed=details.ed,
    )
    errors += [
        FieldError(v.field.removeprefix("frame."), v.message)
        for v in rx_rules.validate_frame_measurements(measurements)
    ]
    for name in ("price", "wholesale_price"):
        value = getattr(details, name)
        if value is not None and value < 0:
            errors.append(FieldError(name, "Cannot be negative."))
    return errors


def create_frame(session: Session, actor: Actor, details: FrameDetails) -> Frame:
    """Add a frame to the practice's catalog (no stock yet). Audited.

    Raises ``ValidationFailed`` (fields, measurement ranges) or ``Conflict`` (SKU taken).
    """
    errors = _validate(details)
    if errors:
        raise ValidationFailed(errors)
    frame = Frame(
        practice_id=actor.practice_id,
        brand_key=details.brand.strip().lower(),
        **{f.name: getattr(details, f.name) for f in fields(details)},
    )
    session.add(frame)
    flush_or_conflict(session, f"A frame with SKU {details.sku} already exists")
    audit.record(session, actor, "frame.created", "frame", frame.id)
    return frame


def update_frame(
    session: Session, actor: Actor, frame_id: uuid.UUID, details: FrameDetails
) -> Frame:
    frame = get_frame(session, actor.practice_id, frame_id)
    errors = _validate(details)
    if errors:
        raise ValidationFailed(errors)
    for f in fields(details):
        setattr(frame, f.name, getattr(details, f.name))
    frame.brand_key = details.brand.strip().lower()
    flush_or_conflict(session, f"A frame with SKU {details.sku} already exists")
    audit.record(session, actor, "frame.updated", "frame", frame.id)
    return frame


def get_frame(session: Session, practice_id: int, frame_id: uuid.UUID) -> Frame:
    frame = session.scalar(
        select(Frame).where(Frame.practice_id == practice_id, Frame.id == frame_id)
    )
    if frame is None:
        raise NotFound("Frame", frame_id)
    return frame


def find_frame(session: Session, practice_id: int, frame_id: uuid.UUID | None) -> Frame | None:
    if frame_id is None:
        return None
    return session.scalar(
        select(Frame).where(Frame.practice_id == practice_id, Frame.id == frame_id)
    )


def location_ids(session: Session, practice_id: int) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(Location.id).where(Location.practice_id == practice_id).order_by(Location.name)
        )
    )


def get_frame_by_sku(session: Session, practice_id: int, sku: str) -> Frame | None:
    return session.scalar(select(Frame).where(Frame.practice_id == practice_id, Frame.sku == sku))


# The stock table itself: its statements run once for many rows (Core executemany), which
# the ORM's per-object bookkeeping would make cost a scan of the session per row.
_STOCK_TABLE = cast(Table, FrameStock.__table__)


@dataclass(frozen=True)
class StockChange:
    """Set (``quantity``) or move (``delta``) one frame's stock at one location."""

    frame_id: uuid.UUID
    location_id: uuid.UUID
    quantity: int | None = None
    delta: int | None = None
    price: Decimal | None = None
    wholesale_price: Decimal | None = None


def inventory_event_data(frame: Frame, stock: list[tuple[uuid.UUID, int]]) -> dict[str, Any]:
    return {
        "frame_id": str(frame.id),
        "sku": frame.sku,
        "brand": frame.brand,
        "model": frame.model,
        "price": str(frame.price) if frame.price is not None else None,
        "wholesale_price": str(frame.wholesale_price)
        if frame.wholesale_price is not None
        else None,
        "quantity": sum(q for _, q in stock),
        "stock": [{"location_id": str(loc), "quantity": q} for loc, q in stock],
        "updated_at": frame.updated_at.isoformat(),
    }


def apply_stock_changes(session: Session, actor: Actor, changes: list[StockChange]) -> list[Frame]:
    """Apply stock/price changes atomically; returns the frames that changed.

    All rows are checked first and every violation is reported (``ValidationFailed`` with
    ``index`` per row) before anything is written. The batch's stock rows are read in one
    query under a row lock, missing ones inserted in one statement, and the others moved by
    their difference (``quantity = quantity + diff``) in one statement run per row, so two
    concurrent batches never lose each other's update and a batch of thousands of rows
    costs a few statements, not a few per row. One ``inventory.updated`` event per
    changed frame; frames whose values did not change emit nothing.
    """
    errors: list[FieldError] = []
    frame_ids = {c.frame_id for c in changes}
    location_ids = {c.location_id for c in changes}
    frames = {
        f.id: f
        for f in session.scalars(
            select(Frame)
            .where(Frame.practice_id == actor.practice_id, Frame.id.in_(frame_ids))
            .with_for_update()
        )
    }
    known_locations = set(
        session.scalars(
            select(Location.id).where(
                Location.practice_id == actor.practice_id, Location.id.in_(location_ids)
            )
        )
    )
    for index, change in enumerate(changes):
        if change.frame_id not in frames:
            errors.append(FieldError("frame_id", f"Frame {change.frame_id} not found.", index))
        if change.location_id not in known_locations:
            errors.append(
                FieldError("location_id", f"Location {change.location_id} not found.", index)
            )
        if (change.quantity is None) == (change.delta is None):
            errors.append(FieldError("quantity", "Give either a quantity or a delta.", index))
        if change.quantity is not None and change.quantity < 0:
            errors.append(FieldError("quantity", "Must be 0 or more.", index))
        for name in ("price", "wholesale_price"):
            value = getattr(change, name)
            if value is not None and value < 0:
                errors.append(FieldError(name, "Must be 0 or more.", index))
    if errors:
        raise ValidationFailed(errors)

    now = utcnow()
    stored = {
        (frame_id, location_id): quantity
        for frame_id, location_id, quantity in session.execute(
            select(FrameStock.frame_id, FrameStock.location_id, FrameStock.quantity)
            .where(FrameStock.frame_id.in_(frame_ids))
            .with_for_update()
        )
    }
    # Every row's target first (a frame and location may come more than once), then the
    # writes: nothing is written for a batch that a row refuses.
    current = dict(stored)
    changed: dict[uuid.UUID, Frame] = {}
    for index, change in enumerate(changes):
        frame = frames[change.frame_id]
        key = (change.frame_id, change.location_id)
        before = current.get(key, 0)
        target = change.quantity if change.quantity is not None else before + (change.delta or 0)
        if target < 0:
            raise ValidationFailed(
                [FieldError("quantity", f"Only {before} in stock at this location.", index)]
            )
        if target != before:
            changed[frame.id] = frame
        current[key] = target
        for name in ("price", "wholesale_price"):
            value = getattr(change, name)
            if value is not None and value != getattr(frame, name):
                setattr(frame, name, value)
                changed[frame.id] = frame
    new_rows = [
        {
            "frame_id": frame_id,
            "location_id": location_id,
            "practice_id": actor.practice_id,
            "quantity": quantity,
            "updated_at": now,
        }
        for (frame_id, location_id), quantity in current.items()
        if (frame_id, location_id) not in stored
    ]
    if new_rows:
        session.execute(insert(_STOCK_TABLE), new_rows)
    # Moved by the difference (quantity = quantity + diff), one statement run for every
    # row: no update is lost to a concurrent batch.
    moves = [
        {"b_frame": key[0], "b_location": key[1], "b_diff": quantity - stored[key]}
        for key, quantity in current.items()
        if key in stored and quantity != stored[key]
    ]
    if moves:
        table = _STOCK_TABLE
        session.execute(
            update(table)
            .where(
                table.c.frame_id == bindparam("b_frame"),
                table.c.location_id == bindparam("b_location"),
            )
            .values(quantity=table.c.quantity + bindparam("b_diff"), updated_at=now),
            moves,
        )
    for frame in changed.values():
        frame.updated_at = now
    session.flush()
    levels = stock_levels(session, actor.practice_id, changed)
    for frame in changed.values():
        record_event(
            session,
            practice_id=actor.practice_id,
            type="inventory.updated",
            data=inventory_event_data(frame, levels[frame.id]),
            at=now,
        )
        audit.record(session, actor, "inventory.updated", "frame", frame.id)
    return list(changed.values())
