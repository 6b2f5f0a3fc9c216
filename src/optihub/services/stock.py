"""Setting a frame's on-hand quantity at one location, as typed by a person (the dashboard's
inline edit): the typed text is checked here, the change goes through
``services.frames.apply_stock_changes`` — the partner API's path, with its row lock, its
audit row and its ``inventory.updated`` event.
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from optihub.db.models import Frame, Location
from optihub.errors import FieldError, NotFound, ValidationFailed
from optihub.services.context import Actor
from optihub.services.frames import StockChange, apply_stock_changes

# No practice holds 100,000 of one frame at one location: a bigger number is a slip
# (a UPC pasted into the quantity, a digit held down), refused rather than stored.
MAX_QUANTITY = 99_999

_WHOLE = re.compile(r"[+-]?\d+")


def quantity_problem(text: str) -> tuple[int | None, str | None]:
    """The on-hand quantity ``text`` says, or the problem with it in plain words."""
    typed = text.strip()
    if not typed:
        return None, "Enter the quantity on hand (0 or more)."
    if not _WHOLE.fullmatch(typed):
        if re.fullmatch(r"[+-]?\d+[.,]\d*", typed):
            return None, f"“{typed[:20]}” is not a whole number of frames."
        return None, f"“{typed[:20]}” is not a number."
    if len(typed.lstrip("+-")) > 12:  # a barcode or a held-down key, not a count
        if typed.startswith("-"):
            return None, "The quantity cannot be negative."
        return None, f"“{typed[:20]}” is more than {MAX_QUANTITY:,}: check the number."
    value = int(typed)
    if value < 0:
        return None, "The quantity cannot be negative."
    if value > MAX_QUANTITY:
        return None, f"{value:,} is more than {MAX_QUANTITY:,}: check the number."
    return value, None


def set_on_hand(
    session: Session, actor: Actor, frame_id: uuid.UUID, location_id: uuid.UUID, typed: str
) -> int:
    """Set the frame's quantity at the location to what ``typed`` says; returns it.

    One transaction (the caller's). Raises ``NotFound`` for a frame or location of another
    practice (or none), ``ValidationFailed`` (field ``quantity``) for text that is not a
    whole number from 0 to ``MAX_QUANTITY``; nothing is written then. A changed quantity
    writes one ``inventory.updated`` event and an audit row; the same quantity writes none.
    """
    frame = session.scalar(
        select(Frame.id).where(Frame.practice_id == actor.practice_id, Frame.id == frame_id)
    )
    if frame is None:
        raise NotFound("Frame", frame_id)
    location = session.scalar(
        select(Location.id).where(
            Location.practice_id == actor.practice_id, Location.id == location_id
        )
    )
    if location is None:
        raise NotFound("Location", location_id)
    quantity, problem = quantity_problem(typed)
    if problem is not None or quantity is None:
        raise ValidationFailed([FieldError("quantity", problem or "Enter the quantity.")])
    apply_stock_changes(session, actor, [StockChange(frame_id, location_id, quantity=quantity)])
    return quantity
