"""The orders board: the practice's landing page. One tab per status with its count, a
column of cards longest-waiting first (days in status, overdue past the practice's
threshold), a search over every status, filters, keyset paging (``reads.board``).

``/`` sends a signed-in user here and anyone else to sign in; ``/dashboard`` is this page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from optihub.auth.pages import PAGE_HEADERS, check_csrf, see_other, signed_in_user
from optihub.auth.routes import Params
from optihub.dashboard import board_copies
from optihub.dashboard.common import dialect_titles, render, staff_page
from optihub.db.models import Practice
from optihub.domain import board as words
from optihub.reads import board as board_reads
from optihub.reads import catalog
from optihub.reads import locations as location_reads
from optihub.shell import Workplace
from optihub.web import DbSession

router = APIRouter(include_in_schema=False)

BOARD = "/dashboard/orders"
COUNTS = BOARD + "/counts"
_OVERDUE_DAYS = select(Practice.overdue_days).where(Practice.id == bindparam("practice_id"))
DEFAULT_STATUS = "received"


@dataclass
class BoardForm:
    """The board's query as typed (kept as typed when part of it is refused)."""

    status: str = DEFAULT_STATUS
    q: str = ""
    location: str = ""
    lab: str = ""
    channel: str = ""
    created_from: str = ""
    created_to: str = ""
    after: str = ""
    problems: list[str] = field(default_factory=list)

    def query(self, **changes: str) -> str:
        """This board's address with ``changes`` (paging and tabs keep the filters)."""
        from urllib.parse import urlencode

        values = {
            "status": self.status,
            "q": self.q,
            "location": self.location,
            "lab": self.lab,
            "channel": self.channel,
            "from": self.created_from,
            "to": self.created_to,
        } | changes
        return BOARD + "?" + urlencode({k: v for k, v in values.items() if v})


def _form(request: Request) -> BoardForm:
    params = request.query_params
    form = BoardForm(
        status=params.get("status", DEFAULT_STATUS),
        q=params.get("q", "").strip()[:200],
        location=params.get("location", ""),
        lab=params.get("lab", ""),
        channel=params.get("channel", ""),
        created_from=params.get("from", ""),
        created_to=params.get("to", ""),
        after=params.get("after", ""),
    )
    if form.status not in words.COLUMNS:
        form.problems.append("Choose one of the board's columns.")
        form.status = DEFAULT_STATUS
    return form


def _uuid(value: str, problem: str, problems: list[str]) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        problems.append(problem)
        return None


def _date(value: str, problem: str, problems: list[str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(problem)
        return None


def _cursor(value: str) -> board_reads.Cursor | None:
    at, _, raw_id = value.partition("_")
    try:
        return board_reads.Cursor(datetime.fromisoformat(at), uuid.UUID(raw_id))
    except ValueError:
        return None


def _filter(form: BoardForm, place: Workplace) -> board_reads.BoardFilter:
    start = _date(form.created_from, "The start date is not a date (YYYY-MM-DD).", form.problems)
    end = _date(form.created_to, "The end date is not a date (YYYY-MM-DD).", form.problems)
    low, high = board_reads.day_bounds(start, end, place.zone)
    return board_reads.BoardFilter(
        location_id=_uuid(form.location, "Choose a location from the list.", form.problems),
        lab_id=_uuid(form.lab, "Choose a lab from the list.", form.problems),
        channel=form.channel or None,
        created_from=low,
        created_before=high,
    )


def _channels(request: Request) -> list[tuple[str, str]]:
    """Every channel an order can come through: the installed dialects, the dashboard."""
    dialects = dialect_titles(request)
    names = [*dialects, "dashboard"]
    return [(name, words.channel_label(name, dialects)) for name in names]


def _card(
    card: board_reads.Card, now: datetime, thresholds: dict[str, int], dialects: Any
) -> dict[str, Any]:
    days = words.days_in_status(card.status_changed_at, now)
    return {
        "card": card,
        "days": days,
        "overdue": words.is_overdue(card.status, card.status_changed_at, now, thresholds),
        "limit": thresholds.get(card.status),
        "channel": words.channel_label(card.created_via, dialects),
    }


@router.get("/dashboard")
def dashboard_home() -> Response:
    return see_other(BOARD)


@router.post("/dashboard/practice")
def switch_practice(request: Request, params: Params, session: DbSession) -> Response:
    """Work in another of the user's practices."""
    form = dict(params["form"])
    if (refused := check_csrf(request, form)) is not None:
        return refused
    place = staff_page(request, session)
    if isinstance(place, Response):
        return place
    chosen = next(
        (m for m in place.memberships if str(m.practice_id) == form.get("practice_id")), None
    )
    if chosen is not None:
        request.session["practice_id"] = chosen.practice_id
        request.session["flash"] = f"You are working in {chosen.practice_name}."
    return see_other(BOARD)


def _count_text(count: int) -> str:
    cap = board_reads.COUNT_CAP
    return f"{cap:,}+" if count > cap else f"{count:,}"


@router.get(COUNTS)
def board_counts(request: Request, session: DbSession) -> Response:
    """The columns' counts under the board's filters, for the page to refresh in place
    (every 30 s while a board is open: kept and served again like the board)."""
    place = staff_page(request, session)
    if isinstance(place, Response):
        return JSONResponse({"error": "Sign in again."}, 401, headers=PAGE_HEADERS)
    form = _form(request)
    flt = _filter(form, place)
    if form.problems:
        return JSONResponse({"error": " ".join(form.problems)}, 400, headers=PAGE_HEADERS)
    reader = session.connection()
    copies, key, validator = _validator(request, reader)
    counts = board_reads.counts(reader, place.practice_id, flt, words.COLUMNS)
    response = JSONResponse(
        {status: _count_text(count) for status, count in counts.items()}, headers=PAGE_HEADERS
    )
    if copies and key and validator and not request.session.modified:
        expires = datetime.now(UTC) + board_copies.LONGEST  # counts do not age
        copies.keep(key, validator, expires, bytes(response.body), board_copies.JSON)
    return response


def _validator(
    request: Request, reader: Connection
) -> tuple[board_copies.BoardCopies | None, board_copies.Key | None, board_copies.Validator | None]:
    """What a page is rendered under, read before its data (``board_copies``)."""
    copies, key = board_copies.copies_of(request), board_copies.key_of(request)
    if copies is None or key is None or "flash" in request.session:
        return copies, key, None
    return copies, key, copies.validator(reader, str(request.session["session_id"]))


@router.get(BOARD)
def orders_board(request: Request, session: DbSession) -> Response:
    place = staff_page(request, session)
    if isinstance(place, Response):
        return place
    form = _form(request)
    flt = _filter(form, place)
    practice_id = place.practice_id
    now = datetime.now(UTC)
    reader = session.connection()  # plain reads: no ORM objects on this page
    copies, key, validator = _validator(request, reader)
    stored = reader.scalar(_OVERDUE_DAYS, {"practice_id": practice_id})
    thresholds = words.overdue_days(stored)
    dialects = dialect_titles(request)
    counts = board_reads.counts(reader, practice_id, flt, words.COLUMNS)
    next_page = None
    too_many_patients = False
    if form.q:
        found = board_reads.search(reader, practice_id, form.q, flt)
        cards, too_many_patients = found.cards, found.too_many_patients
    else:
        page = board_reads.column(reader, practice_id, form.status, flt, after=_cursor(form.after))
        cards = page.cards
        if page.next is not None:
            cursor = f"{page.next.status_changed_at.isoformat()}_{page.next.id}"
            next_page = form.query(after=cursor)
    labs = sorted(
        {(a.lab_id, a.lab_name) for a in catalog.lab_accounts(reader, practice_id)},
        key=lambda x: x[1],
    )
    shown = [_card(card, now, thresholds, dialects) for card in cards]
    response = render(
        request,
        place,
        "board.html",
        {
            "title": f"Search: {form.q}" if form.q else words.status_label(form.status),
            "form": form,
            "tabs": [
                {
                    "status": status,
                    "label": words.status_label(status),
                    "count": _count_text(counts[status]),
                    "url": form.query(status=status, q=""),
                }
                for status in words.COLUMNS
            ],
            "counts_url": BOARD + "/counts?" + form.query().split("?", 1)[1],
            "cards": shown,
            "next_page": next_page,
            "first_page": form.query() if form.after else None,
            "locations": location_reads.names(reader, practice_id),
            "labs": labs,
            "channels": _channels(request),
            "search_limit": board_reads.PAGE_SIZE,
            "too_many_patients": too_many_patients,
            "name_matches": board_reads.NAME_MATCHES,
        },
        section="orders",
        status_code=400 if form.problems else 200,
    )
    if copies and key and validator and not form.problems and not request.session.modified:
        # Kept until the first "days in status" on the page turns over.
        turns = [words.next_day_in_status(card.status_changed_at, now) for card in cards]
        expires = min(turns, default=now + board_copies.LONGEST)
        copies.keep(key, validator, expires, bytes(response.body))
    return response


def install_home(router_: APIRouter) -> None:
    """``/``: the board for a signed-in user, the sign-in page for anyone else."""

    @router_.get("/", include_in_schema=False)
    def home(request: Request, session: DbSession) -> Response:
        if signed_in_user(request, session) is None:
            return see_other("/login?next=" + BOARD)
        return see_other(BOARD)


install_home(router)
