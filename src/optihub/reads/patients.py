"""Patient reads: a practice's patients as plain views (one query for the page, one
indexed count). ``page`` orders one of two fixed ways (by name, or by change for a sync);
``sorted_page`` orders by a caller-chosen ``reads.sorting`` sort over ``SORT_FIELDS``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select

from optihub.db.models import Patient
from optihub.db.prepared import Prepared
from optihub.reads.order_views import Keyset, Reader
from optihub.reads.sorting import Sort, order_by

__all__ = [
    "SORT_FIELDS",
    "Keyset",
    "PatientFilter",
    "PatientPage",
    "PatientView",
    "page",
    "same_person",
    "sorted_page",
    "view",
    "view_of",
    "views",
]


@dataclass(frozen=True)
class PatientView:
    id: uuid.UUID
    external_id: str | None
    home_location_id: uuid.UUID | None
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    date_of_birth: date | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str
    notes: str | None
    created_at: datetime
    updated_at: datetime
    notify_eyewear_email: bool = False
    notify_eyewear_sms: bool = False


_COLUMNS: list[Any] = [
    Patient.id,
    Patient.external_id,
    Patient.home_location_id,
    Patient.first_name,
    Patient.last_name,
    Patient.email,
    Patient.phone,
    Patient.date_of_birth,
    Patient.address_line1,
    Patient.address_line2,
    Patient.city,
    Patient.state,
    Patient.postal_code,
    Patient.country,
    Patient.notes,
    Patient.created_at,
    Patient.updated_at,
    Patient.notify_eyewear_email,
    Patient.notify_eyewear_sms,
]


# Sort keys of ``sorted_page`` (the views' field names); a surface maps its names onto these.
SORT_FIELDS: dict[str, Any] = {
    "id": Patient.id,
    "first_name": Patient.first_name,
    "last_name": Patient.last_name,
    "email": Patient.email,
    "date_of_birth": Patient.date_of_birth,
    "created_at": Patient.created_at,
    "updated_at": Patient.updated_at,
}
DEFAULT_SORT: Sort = (("last_name", False), ("first_name", False))


@dataclass(frozen=True)
class PatientFilter:
    """``search``: a case-insensitive prefix of the last or first name, or an exact email
    or phone. ``first_name`` / ``last_name``: a case-insensitive prefix of that name;
    ``email_any_case``: the email compared case-insensitively. The other fields match
    exactly; ``updated_since`` is inclusive."""

    search: str | None = None
    # A case-insensitive prefix of the first or the last name.
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email_any_case: str | None = None
    email: str | None = None
    phone: str | None = None
    # The phone's E.164 form, when it has one: a patient matches by that form (the same
    # number however it was written) or by the text as given.
    phone_e164: str | None = None
    date_of_birth: date | None = None
    external_id: str | None = None
    updated_since: datetime | None = None
    ids: tuple[uuid.UUID, ...] | None = None


@dataclass(frozen=True)
class PatientPage:
    views: list[PatientView]
    total: int


def _where(practice_id: int, flt: PatientFilter) -> ColumnElement[bool]:
    conditions = [Patient.practice_id == practice_id]
    term = flt.search.strip() if flt.search is not None else ""
    if term:
        conditions.append(
            or_(
                Patient.last_name.istartswith(term, autoescape=True),
                Patient.first_name.istartswith(term, autoescape=True),
                Patient.email == term,
                Patient.phone == term,
            )
        )
    if flt.name is not None:
        conditions.append(
            or_(
                Patient.last_name.istartswith(flt.name, autoescape=True),
                Patient.first_name.istartswith(flt.name, autoescape=True),
            )
        )
    if flt.first_name is not None:
        conditions.append(Patient.first_name.istartswith(flt.first_name, autoescape=True))
    if flt.last_name is not None:
        conditions.append(Patient.last_name.istartswith(flt.last_name, autoescape=True))
    if flt.email_any_case is not None:
        conditions.append(func.lower(Patient.email) == flt.email_any_case.lower())
    if flt.email is not None:
        conditions.append(Patient.email == flt.email)
    if flt.phone is not None:
        same_text = Patient.phone == flt.phone
        if flt.phone_e164 is not None:
            conditions.append(or_(Patient.phone_e164 == flt.phone_e164, same_text))
        else:
            conditions.append(same_text)
    if flt.date_of_birth is not None:
        conditions.append(Patient.date_of_birth == flt.date_of_birth)
    if flt.external_id is not None:
        conditions.append(Patient.external_id == flt.external_id)
    if flt.updated_since is not None:
        conditions.append(Patient.updated_at >= flt.updated_since)
    if flt.ids is not None:
        conditions.append(Patient.id.in_(flt.ids))
    return and_(*conditions)


def page(
    reader: Reader,
    practice_id: int,
    flt: PatientFilter,
    *,
    limit: int,
    offset: int = 0,
    after: Keyset | None = None,
) -> PatientPage:
    """A page of the practice's patients. With ``updated_since`` or ``after``: oldest-first
    by (updated_at, id), ``after`` continuing strictly past that position; otherwise by
    (last_name, first_name, id). ``total`` counts the filter's matches, ignoring ``after``."""
    condition = _where(practice_id, flt)
    total = reader.scalar(select(func.count()).select_from(Patient).where(condition)) or 0
    ordering: tuple[Any, ...]
    if flt.updated_since is not None or after is not None:
        ordering = (Patient.updated_at.asc(), Patient.id.asc())
    else:
        ordering = (Patient.last_name.asc(), Patient.first_name.asc(), Patient.id.asc())
    statement = select(*_COLUMNS).where(condition)
    if after is not None:
        statement = statement.where(after.after(Patient.updated_at, Patient.id))
    rows = reader.execute(statement.order_by(*ordering).limit(limit).offset(offset))
    return PatientPage([PatientView(*row) for row in rows], int(total))


def view(reader: Reader, practice_id: int, patient_id: uuid.UUID) -> PatientView | None:
    """The practice's patient, or None (also for another practice's patient)."""
    row = reader.execute(
        select(*_COLUMNS).where(Patient.practice_id == practice_id, Patient.id == patient_id)
    ).first()
    return PatientView(*row) if row is not None else None


# Compiled once per process: the lab order's patient lookup runs on every create. No ORDER
# BY: with one, SQLite (which has no statistics) walks the practice's patients in the order
# of the (practice_id, created_at) index, every patient of the practice, rather than the few
# with the last name (``ix_patients_practice_id_lower_last_name``): 1.4 ms at 3,000 patients,
# growing with the practice. The matches are few; the newest is chosen here.
_SAME_PERSON = Prepared(
    select(Patient.id, Patient.created_at).where(
        Patient.practice_id == bindparam("practice_id"),
        func.lower(Patient.last_name) == bindparam("last_name"),
        func.lower(Patient.first_name) == bindparam("first_name"),
        func.lower(Patient.email) == bindparam("email"),
    )
)


def same_person(
    reader: Reader, practice_id: int, first_name: str, last_name: str, email: str
) -> uuid.UUID | None:
    """The practice's newest patient with these names and email (each compared
    case-insensitively: give them lower-cased), or None; of two made at the same instant,
    the lower id. A prepared statement (``db.prepared``): on a session, what is pending is
    flushed first."""
    found = _SAME_PERSON.rows(
        reader,
        {
            "practice_id": practice_id,
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
        },
    )
    if not found:
        return None
    newest = max(created for _id, created in found)
    made_then: list[uuid.UUID] = [patient_id for patient_id, created in found if created == newest]
    return min(made_then)


def sorted_page(
    reader: Reader,
    practice_id: int,
    flt: PatientFilter,
    *,
    limit: int,
    offset: int = 0,
    sort: Sort = DEFAULT_SORT,
) -> PatientPage:
    """A page of the practice's patients ordered by ``sort`` (keys of ``SORT_FIELDS``;
    ``BadRequest`` for others), the id breaking ties. ``total`` counts every match."""
    ordering = order_by(sort, SORT_FIELDS, Patient.id)
    condition = _where(practice_id, flt)
    total = reader.scalar(select(func.count()).select_from(Patient).where(condition)) or 0
    rows = reader.execute(
        select(*_COLUMNS).where(condition).order_by(*ordering).limit(limit).offset(offset)
    )
    return PatientPage([PatientView(*row) for row in rows], int(total))


def view_of(patient: Patient) -> PatientView:
    """The view of a patient the session has just written and flushed (its values as
    stored, defaults included), without reading it back."""
    return PatientView(*(getattr(patient, column.key) for column in _COLUMNS))


def view_from(values: Mapping[str, Any]) -> PatientView:
    """The view of a patient from the values of the row just written (every column)."""
    return PatientView(*(values[column.key] for column in _COLUMNS))


def views(reader: Reader, practice_id: int, ids: Sequence[uuid.UUID]) -> list[PatientView]:
    """The practice's patients with these ids, in the order of ``ids`` (others skipped)."""
    if not ids:
        return []
    rows = reader.execute(
        select(*_COLUMNS).where(Patient.practice_id == practice_id, Patient.id.in_(ids))
    )
    by_id = {view.id: view for view in (PatientView(*row) for row in rows)}
    return [by_id[i] for i in ids if i in by_id]
