"""Fulfillment reads: an order's *stage* (its canonical status read with its sub-step),
the order a caller names, its stage history, search, and the lookups the fulfillment
service decides with. Nothing here writes (``services.fulfillment`` decides).

A fulfillment order's *stage*: ``received``; ``picked``, ``verified`` and ``paused`` inside
``in_progress`` (``completed`` reads as ``verified``: ready to ship); ``shipped``;
``delivered``; ``cancelled``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select, true
from sqlalchemy.orm import Session, selectinload

from optihub.db.models import Order, Patient, Prescription, User
from optihub.domain.orders import IN_PROGRESS_SUB_STATUSES, OrderStatus
from optihub.errors import BadRequest, NotFound

S = OrderStatus

# Sub-steps inside in_progress, by the stage they read as.
PAUSED = "paused"
VERIFIED_STEPS: tuple[str, ...] = ("verified", "packed")
PICKED_STEPS: tuple[str | None, ...] = (
    None,
    *(s for s in IN_PROGRESS_SUB_STATUSES if s not in VERIFIED_STEPS),
)
STAGES: tuple[str, ...] = (
    "received",
    "picked",
    "verified",
    "paused",
    "shipped",
    "delivered",
    "cancelled",
)
# Stages in which a cancellation may be requested; shipping may change before verified.
CANCELLABLE = ("received", "picked", "verified")
SHIPPING_OPEN = ("received", "picked", "paused")
CLOSED = ("shipped", "delivered", "cancelled")
REPLACEABLE = ("shipped", "delivered")


def stage(status: str, sub_status: str | None) -> str:
    """The fulfillment stage of an order in ``status`` with ``sub_status``."""
    if status == S.IN_PROGRESS:
        if sub_status == PAUSED:
            return "paused"
        return "verified" if sub_status in VERIFIED_STEPS else "picked"
    if status == S.COMPLETED:
        return "verified"
    if status == S.DRAFT:
        return "received"
    return status


def order_with_external_id(session: Session, practice_id: int, external_id: str) -> Order | None:
    """The practice's order carrying the caller's ``external_id``, if any."""
    return session.scalar(
        select(Order).where(Order.practice_id == practice_id, Order.external_id == external_id)
    )


def prescription_ids_of(
    session: Session, practice_id: int, patient_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of ``ids`` are prescriptions of the patient."""
    if not ids:
        return set()
    return set(
        session.scalars(
            select(Prescription.id).where(
                Prescription.practice_id == practice_id,
                Prescription.patient_id == patient_id,
                Prescription.id.in_(list(ids)),
            )
        )
    )


def valid_prescriptions(
    session: Session, practice_id: int, patient_id: uuid.UUID, today: date
) -> list[Prescription]:
    """The patient's unexpired prescriptions, newest issue first."""
    return list(
        session.scalars(
            select(Prescription)
            .where(
                Prescription.practice_id == practice_id,
                Prescription.patient_id == patient_id,
                or_(Prescription.expires_on.is_(None), Prescription.expires_on >= today),
            )
            .order_by(Prescription.issued_on.desc(), Prescription.created_at.desc())
        )
    )


def resolve_order_id(
    session: Session, practice_id: int, reference: str, hidden: Sequence[str] = ()
) -> uuid.UUID:
    """The practice's order a caller names by id, order number or external id (tried in
    that order). ``NotFound`` for none (and for a hidden status)."""
    conditions = []
    with contextlib.suppress(ValueError):
        conditions.append(Order.id == uuid.UUID(reference))
    conditions += [Order.number == reference, Order.external_id == reference]
    for condition in conditions:
        found = session.scalar(
            select(Order.id).where(
                Order.practice_id == practice_id,
                condition,
                Order.status.not_in(list(hidden)) if hidden else true(),
            )
        )
        if found is not None:
            return found
    raise NotFound("Order", reference)


@dataclass(frozen=True)
class HistoryEntry:
    stage: str
    at: datetime
    duration_seconds: int
    user_id: uuid.UUID | None
    first_name: str | None
    last_name: str | None


def status_history(session: Session, practice_id: int, order_id: uuid.UUID) -> list[HistoryEntry]:
    """The order's stages, oldest first: when each began, how long the order spent in the
    one before (seconds; 0 for the first), and who made the change (a staff user's names;
    an app or the system by its label)."""
    order = session.scalar(
        select(Order)
        .options(selectinload(Order.history))
        .where(Order.practice_id == practice_id, Order.id == order_id)
    )
    if order is None:
        raise NotFound("Order", order_id)
    user_ids = {h.actor_user_id for h in order.history if h.actor_user_id is not None}
    names = (
        {
            row[0]: (row[1], row[2])
            for row in session.execute(
                select(User.id, User.first_name, User.last_name).where(User.id.in_(list(user_ids)))
            )
        }
        if user_ids
        else {}
    )
    entries = []
    previous: datetime | None = None
    for change in order.history:
        duration = int((change.at - previous).total_seconds()) if previous is not None else 0
        known = names.get(change.actor_user_id) if change.actor_user_id else None
        entries.append(
            HistoryEntry(
                stage=stage(change.to_status, change.sub_status),
                at=change.at,
                duration_seconds=max(duration, 0),
                user_id=change.actor_user_id if known else None,
                first_name=known[0] if known else change.actor_label,
                last_name=known[1] if known else None,
            )
        )
        previous = change.at
    return entries


# Search ranks (see docs/fulfillment-api.md, "Search").
RANK_EXACT_ID = 100  # the order number or external id, exactly
RANK_ID_PREFIX = 80  # the order number or external id starts with the query
RANK_EXACT_EMAIL = 70
RANK_EXACT_NAME = 60  # first, last or "first last", exactly
RANK_NAME_PREFIX = 50  # a name or the email starts with the query
RANK_ID_CONTAINS = 40
RANK_NAME_CONTAINS = 30
SEARCH_CANDIDATES = 500


@dataclass(frozen=True)
class SearchHit:
    rank: int
    order_id: uuid.UUID


def _rank(query: str, number: str, external_id: str | None, names: list[str], email: str) -> int:
    ids = [number.lower()] + ([external_id.lower()] if external_id else [])
    if query in ids:
        return RANK_EXACT_ID
    if any(i.startswith(query) for i in ids):
        return RANK_ID_PREFIX
    if email and query == email:
        return RANK_EXACT_EMAIL
    if query in names:
        return RANK_EXACT_NAME
    if any(n.startswith(query) for n in [*names, email] if n):
        return RANK_NAME_PREFIX
    if any(query in i for i in ids):
        return RANK_ID_CONTAINS
    return RANK_NAME_CONTAINS


def search(
    session: Session,
    practice_id: int,
    query: str,
    *,
    limit: int,
    hidden: Sequence[str] = (),
) -> list[SearchHit]:
    """The practice's orders whose number, external id, patient name or email contain
    ``query`` (case-insensitive), best rank first, newest first within a rank."""
    term = query.strip().lower()
    if not term:
        raise BadRequest("q: give something to search for", field="q")
    full_name = func.lower(Patient.first_name + " " + Patient.last_name)
    rows = session.execute(
        select(
            Order.id,
            Order.number,
            Order.external_id,
            Order.created_at,
            Patient.first_name,
            Patient.last_name,
            Patient.email,
        )
        .outerjoin(Patient, (Patient.id == Order.patient_id) & (Patient.practice_id == practice_id))
        .where(
            Order.practice_id == practice_id,
            Order.status.not_in(list(hidden)) if hidden else true(),
            or_(
                func.lower(Order.number).contains(term, autoescape=True),
                func.lower(Order.external_id).contains(term, autoescape=True),
                full_name.contains(term, autoescape=True),
                func.lower(Patient.email).contains(term, autoescape=True),
            ),
        )
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(SEARCH_CANDIDATES)
    ).all()
    scored = []
    for order_id, number, external_id, created_at, first, last, email in rows:
        names = [n.lower() for n in (first, last) if n]
        if first and last:
            names.append(f"{first} {last}".lower())
        rank = _rank(term, number, external_id, names, (email or "").lower())
        scored.append((rank, created_at, order_id))
    scored.sort(key=lambda hit: (-hit[0], -hit[1].timestamp(), str(hit[2])))
    return [SearchHit(rank, order_id) for rank, _, order_id in scored[:limit]]


__all__ = [
    "CANCELLABLE",
    "CLOSED",
    "PAUSED",
    "PICKED_STEPS",
    "REPLACEABLE",
    "SHIPPING_OPEN",
    "STAGES",
    "VERIFIED_STEPS",
    "HistoryEntry",
    "SearchHit",
    "order_with_external_id",
    "prescription_ids_of",
    "resolve_order_id",
    "search",
    "stage",
    "status_history",
    "valid_prescriptions",
]
