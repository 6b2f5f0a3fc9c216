"""The dashboard's orders board: a page of one status column, the counts of every column,
and a search, each a handful of indexed statements however many orders the practice has.

- A column is read longest-waiting first by ``(practice_id, status, status_changed_at, id)``
  and paged by keyset (the last card's ``status_changed_at`` and id), never by offset.
- Counts stop at ``COUNT_CAP`` (the board says "1,000+"): counting a million delivered
  orders would cost more than the page.
- A search matches an order's number, tray number, invoice number or external id exactly,
  or its patient's last name, first name, or "first last" / "last, first", in any case
  (``lower()`` on both sides, served by the patients' ``lower(name)`` indexes); results
  span every status, newest first. Each matched patient's orders are read newest first by
  ``(practice_id, patient_id, created_at)`` up to the page size, so a patient with
  thousands of orders costs no more than one with three.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
    union,
)

from optihub.db.models import Lab, Location, OAuthClient, Order, OrderStatusChange, Patient
from optihub.reads.order_views import Reader

COUNT_CAP = 1_000
PAGE_SIZE = 50
# A search reads at most this many patients' orders (each patient's newest first, by index):
# a name shared by more patients asks for the whole name or a filter.
NAME_MATCHES = 25


@dataclass(frozen=True)
class BoardFilter:
    location_id: uuid.UUID | None = None
    lab_id: uuid.UUID | None = None
    channel: str | None = None
    created_from: datetime | None = None  # inclusive, UTC
    created_before: datetime | None = None  # exclusive, UTC


@dataclass(frozen=True)
class Cursor:
    """Where the next page of a column starts: after this card."""

    status_changed_at: datetime
    id: uuid.UUID


@dataclass(frozen=True)
class Card:
    id: uuid.UUID
    number: str
    status: str
    created_via: str
    created_at: datetime
    status_changed_at: datetime
    external_id: str | None
    tray_number: str | None
    invoice_number: str | None
    patient_first_name: str | None
    patient_last_name: str | None
    lab_name: str | None
    location_name: str | None
    app_name: str | None = None

    @property
    def patient_name(self) -> str | None:
        if self.patient_last_name is None:
            return None
        return f"{self.patient_first_name} {self.patient_last_name}".strip()


@dataclass(frozen=True)
class CardPage:
    cards: list[Card]
    next: Cursor | None


def _filtered(practice_id: int, flt: BoardFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Order.practice_id == practice_id]
    if flt.location_id is not None:
        conditions.append(Order.location_id == flt.location_id)
    if flt.lab_id is not None:
        conditions.append(Order.lab_id == flt.lab_id)
    if flt.channel:
        conditions.append(Order.created_via == flt.channel)
    if flt.created_from is not None:
        conditions.append(Order.created_at >= flt.created_from)
    if flt.created_before is not None:
        conditions.append(Order.created_at < flt.created_before)
    return conditions


def _capped(conditions: list[ColumnElement[bool]], status: Any) -> Any:
    capped = select(literal(1)).where(*conditions, Order.status == status).limit(COUNT_CAP + 1)
    return select(func.count()).select_from(capped.subquery()).scalar_subquery()


def _counts_statement(conditions: list[ColumnElement[bool]], statuses: tuple[str, ...]) -> Any:
    """One statement, one capped count per status (a column each)."""
    return select(*(_capped(conditions, status).label(status) for status in statuses))


# The unfiltered board's statements, built once (the page is the practice's landing page).
_PRACTICE: BindParameter[int] = bindparam("practice_id")
_STATUS: BindParameter[str] = bindparam("status")
_COUNTS: dict[tuple[str, ...], Any] = {}


def counts(
    reader: Reader, practice_id: int, flt: BoardFilter, statuses: tuple[str, ...]
) -> dict[str, int]:
    """Orders per status, each stopping at ``COUNT_CAP + 1`` (more than the cap: "1,000+")."""
    if flt == BoardFilter():
        statement = _COUNTS.get(statuses)
        if statement is None:
            statement = _COUNTS[statuses] = _counts_statement(
                [Order.practice_id == _PRACTICE], statuses
            )
        row = reader.execute(statement, {"practice_id": practice_id}).one()
    else:
        row = reader.execute(_counts_statement(_filtered(practice_id, flt), statuses)).one()
    return {status: int(value or 0) for status, value in zip(statuses, row, strict=True)}


_CARDS = (
    select(
        Order.id,
        Order.number,
        Order.status,
        Order.created_via,
        Order.created_at,
        Order.status_changed_at,
        Order.external_id,
        Order.tray_number,
        Order.invoice_number,
        Patient.first_name,
        Patient.last_name,
        Lab.name,
        Location.name,
    )
    .select_from(Order)
    .outerjoin(Patient, Patient.id == Order.patient_id)
    .outerjoin(Lab, Lab.id == Order.lab_id)
    .outerjoin(Location, Location.id == Order.location_id)
)
_BY_WAIT = (Order.status_changed_at, Order.id)
_FIRST_CARDS = (
    _CARDS.where(Order.practice_id == _PRACTICE, Order.status == _STATUS)
    .order_by(*_BY_WAIT)
    .limit(PAGE_SIZE + 1)
)
_APPS = (
    select(OrderStatusChange.order_id, OAuthClient.name)
    .join(OAuthClient, OAuthClient.client_id == OrderStatusChange.actor_client_id)
    .where(
        OrderStatusChange.order_id.in_(bindparam("ids", expanding=True)),
        OrderStatusChange.from_status.is_(None),
    )
)


def _cards_query() -> Any:
    return _CARDS


def _with_apps(reader: Reader, rows: list[Any]) -> list[Card]:
    """Cards, each with the app that placed its order (the first history entry's client)."""
    ids = [row[0] for row in rows]
    apps: dict[uuid.UUID, str] = {}
    if ids:
        apps = dict(reader.execute(_APPS, {"ids": ids}).all())
    return [Card(*(*row, apps.get(row[0]))) for row in rows]


def column(
    reader: Reader,
    practice_id: int,
    status: str,
    flt: BoardFilter,
    *,
    after: Cursor | None = None,
    limit: int = PAGE_SIZE,
) -> CardPage:
    """One status column, longest-waiting first."""
    if after is None and flt == BoardFilter() and limit == PAGE_SIZE:
        rows = list(reader.execute(_FIRST_CARDS, {"practice_id": practice_id, "status": status}))
        return _page(reader, rows, limit)
    conditions = [*_filtered(practice_id, flt), Order.status == status]
    if after is not None:
        conditions.append(
            or_(
                Order.status_changed_at > after.status_changed_at,
                and_(Order.status_changed_at == after.status_changed_at, Order.id > after.id),
            )
        )
    rows = list(
        reader.execute(_cards_query().where(*conditions).order_by(*_BY_WAIT).limit(limit + 1))
    )
    return _page(reader, rows, limit)


def _page(reader: Reader, rows: list[Any], limit: int) -> CardPage:
    more = len(rows) > limit
    rows = rows[:limit]
    cards = _with_apps(reader, rows)
    last = cards[-1] if more and cards else None
    return CardPage(cards, Cursor(last.status_changed_at, last.id) if last else None)


def _name_conditions(term: str) -> list[ColumnElement[bool]]:
    """Patients named ``term``: a last or first name, "first last" or "last, first"."""
    last, first = func.lower(Patient.last_name), func.lower(Patient.first_name)
    whole = term.strip()
    options: list[ColumnElement[bool]] = [last == func.lower(whole), first == func.lower(whole)]
    if "," in whole:
        surname, _, given = whole.partition(",")
        if surname.strip() and given.strip():
            options.append(
                and_(last == func.lower(surname.strip()), first == func.lower(given.strip()))
            )
    words = whole.split()
    for split in range(1, len(words)):
        given, surname = " ".join(words[:split]), " ".join(words[split:])
        options.append(and_(first == func.lower(given), last == func.lower(surname)))
    return options


@dataclass(frozen=True)
class SearchResult:
    cards: list[Card]
    # More patients have that name than a search reads (NAME_MATCHES).
    too_many_patients: bool = False


def search(
    reader: Reader,
    practice_id: int,
    term: str,
    flt: BoardFilter,
    *,
    limit: int = PAGE_SIZE,
) -> SearchResult:
    """Orders matching ``term`` (see the module's notes), newest first, at most ``limit``."""
    term = term.strip()
    if not term:
        return SearchResult([])
    # One indexed lookup per reading of the term (an OR of them would scan the practice's
    # patients), their union.
    named = union(
        *(
            select(Patient.id).where(Patient.practice_id == practice_id, condition)
            for condition in _name_conditions(term)
        )
    ).limit(NAME_MATCHES + 1)
    patient_ids = list(reader.scalars(named))
    too_many = len(patient_ids) > NAME_MATCHES
    conditions = _filtered(practice_id, flt)
    newest = (Order.created_at.desc(), Order.id.desc())
    found: dict[uuid.UUID, datetime] = {}
    # One indexed lookup per number (an OR of them would scan the practice's orders).
    queries = [
        select(Order.id, Order.created_at).where(*conditions, column == term).limit(limit)
        for column in (Order.number, Order.tray_number, Order.invoice_number, Order.external_id)
    ]
    queries += [
        select(Order.id, Order.created_at)
        .where(*conditions, Order.patient_id == patient_id)
        # created_at alone: the order of (practice_id, patient_id, created_at), so the
        # database reads the patient's newest orders and stops (with the id as well it may
        # walk the practice's orders by date instead).
        .order_by(Order.created_at.desc())
        .limit(limit)
        for patient_id in patient_ids[:NAME_MATCHES]
    ]
    for query in queries:
        found.update(reader.execute(query).all())
    chosen = sorted(found, key=lambda order_id: (found[order_id], order_id), reverse=True)
    chosen = chosen[:limit]
    if not chosen:
        return SearchResult([], too_many)
    rows = list(reader.execute(_cards_query().where(Order.id.in_(chosen)).order_by(*newest)))
    return SearchResult(_with_apps(reader, rows), too_many)


def day_bounds(start: date | None, end: date | None, zone: Any) -> tuple[datetime | None, ...]:
    """A date range in the practice's zone as UTC instants: [start 00:00, day after end)."""
    low = datetime.combine(start, time(0), zone).astimezone(UTC) if start else None
    high = datetime.combine(end + timedelta(days=1), time(0), zone).astimezone(UTC) if end else None
    return low, high
