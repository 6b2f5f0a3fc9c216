"""Prescription reads: a practice's prescriptions with their eyes, as plain views (one
query for the page, one for its eyes, one indexed count)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select

from optihub.db.models import Prescription, PrescriptionEye
from optihub.reads.order_views import Keyset, Reader

__all__ = [
    "EyeView",
    "Keyset",
    "PrescriptionFilter",
    "PrescriptionPage",
    "PrescriptionView",
    "eyes",
    "page",
    "view",
]


@dataclass(frozen=True)
class EyeView:
    sphere: Decimal | None
    cylinder: Decimal | None
    axis: int | None
    add: Decimal | None
    prism_horizontal: Decimal | None
    prism_horizontal_base: str | None
    prism_vertical: Decimal | None
    prism_vertical_base: str | None
    distance_pd: Decimal | None
    near_pd: Decimal | None
    seg_height: Decimal | None
    oc_height: Decimal | None
    base_curve: Decimal | None
    diameter: Decimal | None
    brand: str | None


_EYE_COLUMNS: list[Any] = [
    PrescriptionEye.sphere,
    PrescriptionEye.cylinder,
    PrescriptionEye.axis,
    PrescriptionEye.add,
    PrescriptionEye.prism_horizontal,
    PrescriptionEye.prism_horizontal_base,
    PrescriptionEye.prism_vertical,
    PrescriptionEye.prism_vertical_base,
    PrescriptionEye.distance_pd,
    PrescriptionEye.near_pd,
    PrescriptionEye.seg_height,
    PrescriptionEye.oc_height,
    PrescriptionEye.base_curve,
    PrescriptionEye.diameter,
    PrescriptionEye.brand,
]


@dataclass(frozen=True)
class PrescriptionView:
    id: uuid.UUID
    patient_id: uuid.UUID
    external_id: str | None
    kind: str
    issued_on: date
    expires_on: date | None
    prescriber_name: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime
    prescriber_id: uuid.UUID | None
    right: EyeView | None = field(default=None, kw_only=True)
    left: EyeView | None = field(default=None, kw_only=True)


_COLUMNS: list[Any] = [
    Prescription.id,
    Prescription.patient_id,
    Prescription.external_id,
    Prescription.kind,
    Prescription.issued_on,
    Prescription.expires_on,
    Prescription.prescriber_name,
    Prescription.notes,
    Prescription.created_at,
    Prescription.updated_at,
    Prescription.prescriber_id,
]


@dataclass(frozen=True)
class PrescriptionFilter:
    """``issued_from`` and ``issued_to`` are inclusive; ``issued_outside`` keeps those
    issued before its first or after its second date; ``current_on`` keeps those not
    expired on that date (no expiry, or expiring on or after it); ``updated_since`` is
    inclusive."""

    patient_id: uuid.UUID | None = None
    kind: str | None = None
    updated_since: datetime | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    issued_outside: tuple[date, date] | None = None
    prescriber_id: uuid.UUID | None = None
    current_on: date | None = None


@dataclass(frozen=True)
class PrescriptionPage:
    views: list[PrescriptionView]
    total: int


def _where(practice_id: int, flt: PrescriptionFilter) -> ColumnElement[bool]:
    conditions = [Prescription.practice_id == practice_id]
    if flt.patient_id is not None:
        conditions.append(Prescription.patient_id == flt.patient_id)
    if flt.kind is not None:
        conditions.append(Prescription.kind == flt.kind)
    if flt.updated_since is not None:
        conditions.append(Prescription.updated_at >= flt.updated_since)
    if flt.issued_from is not None:
        conditions.append(Prescription.issued_on >= flt.issued_from)
    if flt.issued_to is not None:
        conditions.append(Prescription.issued_on <= flt.issued_to)
    if flt.issued_outside is not None:
        low, high = flt.issued_outside
        conditions.append(or_(Prescription.issued_on < low, Prescription.issued_on > high))
    if flt.prescriber_id is not None:
        conditions.append(Prescription.prescriber_id == flt.prescriber_id)
    if flt.current_on is not None:
        conditions.append(
            or_(Prescription.expires_on.is_(None), Prescription.expires_on >= flt.current_on)
        )
    return and_(*conditions)


def eyes(
    reader: Reader, practice_id: int, prescription_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, dict[str, EyeView]]:
    """Each prescription's eyes by side (``right``/``left``), one query."""
    ids = list(prescription_ids)
    result: dict[uuid.UUID, dict[str, EyeView]] = {i: {} for i in ids}
    if not ids:
        return result
    rows = reader.execute(
        select(PrescriptionEye.prescription_id, PrescriptionEye.side, *_EYE_COLUMNS).where(
            PrescriptionEye.practice_id == practice_id,
            PrescriptionEye.prescription_id.in_(ids),
        )
    )
    for prescription_id, side, *values in rows:
        result[prescription_id][side] = EyeView(*values)
    return result


def _views(reader: Reader, practice_id: int, rows: Iterable[Any]) -> list[PrescriptionView]:
    rows = list(rows)
    by_id = eyes(reader, practice_id, [row.id for row in rows])
    return [
        PrescriptionView(*row, right=by_id[row.id].get("right"), left=by_id[row.id].get("left"))
        for row in rows
    ]


def page(
    reader: Reader,
    practice_id: int,
    flt: PrescriptionFilter,
    *,
    limit: int,
    offset: int = 0,
    after: Keyset | None = None,
    oldest_issued_first: bool = False,
) -> PrescriptionPage:
    """A page of the practice's prescriptions. With ``updated_since`` or ``after``:
    oldest-first by (updated_at, id), ``after`` continuing strictly past that position;
    otherwise newest issue first (issued_on, id descending), or oldest issue first with
    ``oldest_issued_first`` (issued_on, id ascending). ``total`` counts the filter's
    matches, ignoring ``after``."""
    condition = _where(practice_id, flt)
    total = reader.scalar(select(func.count()).select_from(Prescription).where(condition)) or 0
    ordering: tuple[Any, ...]
    if flt.updated_since is not None or after is not None:
        ordering = (Prescription.updated_at.asc(), Prescription.id.asc())
    elif oldest_issued_first:
        ordering = (Prescription.issued_on.asc(), Prescription.id.asc())
    else:
        ordering = (Prescription.issued_on.desc(), Prescription.id.desc())
    statement = select(*_COLUMNS).where(condition)
    if after is not None:
        statement = statement.where(after.after(Prescription.updated_at, Prescription.id))
    rows = reader.execute(statement.order_by(*ordering).limit(limit).offset(offset))
    return PrescriptionPage(_views(reader, practice_id, rows), int(total))


def view(reader: Reader, practice_id: int, prescription_id: uuid.UUID) -> PrescriptionView | None:
    """The practice's prescription with its eyes, or None (also for another practice's)."""
    rows = reader.execute(
        select(*_COLUMNS).where(
            Prescription.practice_id == practice_id, Prescription.id == prescription_id
        )
    )
    views = _views(reader, practice_id, rows)
    return views[0] if views else None
