"""The stock pages: the practice's frames with the quantity on hand at each location, a
quantity set in place (``services.stock``), and stock counts imported from a CSV file
(``services.stock_import``, all rows or none). Both change stock through
``services.frames.apply_stock_changes``, as the partner API does, so the same
``inventory.updated`` events reach webhook subscribers.

Staff may set quantities; importing a file needs a manager or the owner.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from optihub.auth.pages import PAGE_HEADERS, check_csrf, see_other
from optihub.auth.routes import Params
from optihub.dashboard.common import actor, forbidden, may, not_found, render, staff_page
from optihub.errors import NotFound, ValidationFailed
from optihub.reads import locations as location_reads
from optihub.reads import stock as stock_reads
from optihub.services import stock, stock_import
from optihub.shell import Workplace
from optihub.web import DbSession

router = APIRouter(include_in_schema=False)

STOCK = "/dashboard/stock"
IMPORT = STOCK + "/import"
MAX_LOW_THRESHOLD = 999


# -- the list -------------------------------------------------------------------------------


@dataclass
class StockForm:
    """The list's query as typed (kept as typed when part of it is refused)."""

    q: str = ""
    location: str = ""
    low: bool = False
    at_most: str = str(stock_reads.DEFAULT_LOW_STOCK)
    after: str = ""
    problems: list[str] = field(default_factory=list)

    def query(self, **changes: str) -> str:
        """This list's address with ``changes`` (paging keeps the filters)."""
        values = {
            "q": self.q,
            "location": self.location,
            "low": "1" if self.low else "",
            "at_most": self.at_most
            if self.low and self.at_most != str(stock_reads.DEFAULT_LOW_STOCK)
            else "",
            "after": self.after,
        } | changes
        query = urlencode({k: v for k, v in values.items() if v})
        return STOCK + ("?" + query if query else "")

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.location or self.low)


def _form_of(pairs: list[tuple[str, str]]) -> StockForm:
    params = dict(pairs)
    return StockForm(
        q=" ".join(params.get("q", "").split())[:200],
        location=params.get("location", "").strip(),
        low=params.get("low", "") in ("1", "on", "true"),
        at_most=params.get("at_most", "").strip()[:10] or str(stock_reads.DEFAULT_LOW_STOCK),
        after=params.get("after", "")[:600],
    )


def _filter(
    form: StockForm, locations: list[tuple[uuid.UUID, str]]
) -> tuple[stock_reads.StockFilter, stock_reads.Cursor | None]:
    location_id = None
    if form.location:
        location_id = next((i for i, _ in locations if str(i) == form.location), None)
        if location_id is None:
            form.problems.append("Choose a location from the list.")
            form.location = ""
    threshold = stock_reads.DEFAULT_LOW_STOCK
    try:
        threshold = int(form.at_most)
        if not 0 <= threshold <= MAX_LOW_THRESHOLD:
            raise ValueError
    except ValueError:
        form.problems.append(
            f"“Low stock” needs a whole number from 0 to {MAX_LOW_THRESHOLD} "
            f"(shown: at or below {stock_reads.DEFAULT_LOW_STOCK})."
        )
        threshold = stock_reads.DEFAULT_LOW_STOCK
        form.at_most = str(threshold)
    flt = stock_reads.StockFilter(
        location_id=location_id,
        low_only=form.low,
        threshold=threshold,
        words=tuple(form.q.split()),
    )
    return flt, _cursor(form.after)


def _cursor(value: str) -> stock_reads.Cursor | None:
    if not value:
        return None
    try:
        brand_key, sku = json.loads(base64.urlsafe_b64decode(value.encode() + b"=="))
        return stock_reads.Cursor(str(brand_key), str(sku))
    except (ValueError, TypeError):
        return None


def _encode(cursor: stock_reads.Cursor) -> str:
    raw = json.dumps([cursor.brand_key, cursor.sku]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class CellError:
    """A quantity that was refused: what was typed, and why."""

    typed: str
    message: str


def _list_page(
    request: Request,
    session: Session,
    place: Workplace,
    form: StockForm,
    *,
    refused: tuple[uuid.UUID, uuid.UUID, CellError] | None = None,
) -> Response:
    locations = location_reads.names(session, place.practice_id)
    flt, after = _filter(form, locations)
    found = stock_reads.page(
        session, place.practice_id, flt, after=after, limit=stock_reads.PAGE_SIZE
    )
    shown = [(i, n) for i, n in locations if flt.location_id in (None, i)]
    errors = {(refused[0], refused[1]): refused[2]} if refused else {}
    return render(
        request,
        place,
        "stock.html",
        {
            "title": "Stock",
            "form": form,
            "rows": found.rows,
            "matching": found.matching,
            "cap": stock_reads.COUNT_CAP,
            "threshold": flt.threshold,
            "locations": locations,
            "shown_locations": shown,
            "errors": errors,
            "here": form.query(),
            "next_page": form.query(after=_encode(found.next)) if found.next else None,
            "first_page": form.query(after="") if form.after else None,
            "may_import": may(place, "manager"),
            "max_quantity": stock.MAX_QUANTITY,
        },
        section="stock",
        status_code=400 if (form.problems or refused) else 200,
    )


@router.get(STOCK)
def stock_list(request: Request, session: DbSession) -> Response:
    place = staff_page(request, session)
    if isinstance(place, Response):
        return place
    return _list_page(request, session, place, _form_of(list(request.query_params.multi_items())))


# -- setting a quantity ---------------------------------------------------------------------


def _back(value: str) -> StockForm:
    """The list the form was sent from (only ever this page's own address)."""
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path != STOCK:
        return StockForm()
    return _form_of(parse_qsl(parts.query))


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


@router.post(STOCK + "/{frame_id}/{location_id}")
def set_quantity(
    frame_id: str, location_id: str, request: Request, params: Params, session: DbSession
) -> Response:
    """Set one frame's quantity at one location. Refused text comes back in its field with
    the reason, nothing written; a page's script gets the same answers as JSON."""
    form = dict(params["form"])
    if (refused := check_csrf(request, form)) is not None:
        return refused
    place = staff_page(request, session)
    if isinstance(place, Response):
        return place
    if not may(place, "staff"):
        return forbidden(request, place, "stock")
    back = _back(form.get("back", ""))
    typed = form.get("quantity", "")
    try:
        frame, location = uuid.UUID(frame_id), uuid.UUID(location_id)
        quantity = stock.set_on_hand(session, actor(place), frame, location, typed)
    except (ValueError, NotFound):
        session.rollback()
        if _wants_json(request):
            return _json({"message": "There is no such frame or location in this practice."}, 404)
        return not_found(request, place, "frame or location", "stock")
    except ValidationFailed as failure:
        session.rollback()
        message = failure.errors[0].message if failure.errors else failure.message
        if _wants_json(request):
            return _json({"field": "quantity", "message": message, "typed": typed}, 400)
        return _list_page(
            request, session, place, back, refused=(frame, location, CellError(typed, message))
        )
    row = stock_reads.row(session, place.practice_id, frame)
    assert row is not None  # set_on_hand found it in this practice
    names = dict(location_reads.names(session, place.practice_id))
    message = f"{row.brand} {row.model} ({row.sku}) at {names[location]}: {quantity} on hand."
    if _wants_json(request):
        return _json({"quantity": quantity, "total": row.total, "message": message}, 200)
    request.session["flash"] = message
    return see_other(back.query() + f"#f-{frame}")


def _json(body: dict[str, Any], status_code: int) -> JSONResponse:
    response = JSONResponse(body, status_code=status_code)
    response.headers.update(PAGE_HEADERS)
    return response


# -- importing a CSV file -------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    form: dict[str, str]
    data: bytes | None  # None: no file chosen
    filename: str
    too_large: bool


# What a form may carry beside the file (the token, the multipart framing).
_FORM_OVERHEAD = 64 * 1024
# An oversized body is read (and dropped) this far so that the browser, still sending,
# gets the answer; past it the connection is left to close.
_DRAIN_LIMIT = 64 * 1024 * 1024


async def _bounded_body(request: Request, limit: int) -> bytes | None:
    """The request's body, or None when it is over ``limit`` bytes (never held whole)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _DRAIN_LIMIT:
            break
        if size <= limit:
            chunks.append(chunk)
    return b"".join(chunks) if size <= limit else None


async def read_upload(request: Request) -> Upload:
    """The import form: its fields and the file's bytes, read no further than the limit
    whether the body's length is declared or not."""
    limit = stock_import.MAX_BYTES + _FORM_OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _DRAIN_LIMIT:
        return Upload({}, None, "", too_large=True)
    body = await _bounded_body(request, limit)
    if body is None:
        return Upload({}, None, "", too_large=True)

    async def once() -> AsyncGenerator[bytes, None]:
        yield body

    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("multipart/form-data"):
            parser = MultiPartParser(request.headers, once(), max_files=1, max_fields=20)
            data = await parser.parse()
        elif content_type.startswith("application/x-www-form-urlencoded"):
            data = await FormParser(request.headers, once()).parse()
        else:
            return Upload({}, None, "", too_large=False)
    except MultiPartException:
        return Upload({}, None, "", too_large=False)
    fields = {k: v for k, v in data.multi_items() if isinstance(v, str)}
    upload = data.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return Upload(fields, None, "", too_large=False)
    content = await upload.read(stock_import.MAX_BYTES + 1)
    await upload.close()
    return Upload(fields, content, upload.filename, too_large=len(content) > stock_import.MAX_BYTES)


UploadForm = Annotated[Upload, Depends(read_upload)]


def _import_page(
    request: Request,
    place: Workplace,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    return render(
        request,
        place,
        "stock_import.html",
        {
            "title": "Import stock counts",
            "max_mb": stock_import.MAX_BYTES // 1024 // 1024,
            "max_bytes": stock_import.MAX_BYTES,
            "max_rows": stock_import.MAX_ROWS,
            "max_quantity": stock.MAX_QUANTITY,
            "headers": stock_import.HEADERS,
            "refusal": None,
            "problems": [],
            "summary": None,
            "filename": "",
            **context,
        },
        section="stock",
        status_code=status_code,
    )


@router.get(IMPORT)
def import_form(request: Request, session: DbSession) -> Response:
    place = staff_page(request, session)
    if isinstance(place, Response):
        return place
    if not may(place, "manager"):
        return forbidden(request, place, "stock")
    return _import_page(request, place)


# The problems listed on the page; a file with more names how many were left out.
SHOWN_PROBLEMS = 1_000


@router.post(IMPORT)
def import_file(request: Request, upload: UploadForm, session: DbSession) -> Response:
    """Apply the file's rows, all or none, and show what happened."""
    place = staff_page(request, session)
    if isinstance(place, Response):
        return place
    if not may(place, "manager"):
        return forbidden(request, place, "stock")
    if upload.too_large:  # its form was not read: no token to check, nothing to do
        refusal = (
            f"The file is larger than {stock_import.MAX_BYTES // 1024 // 1024} MB, the most "
            "one import takes. Split it into smaller files. Nothing was changed."
        )
        return _import_page(request, place, status_code=413, refusal=refusal)
    if (refused := check_csrf(request, upload.form)) is not None:
        return refused
    if upload.data is None:
        return _import_page(request, place, status_code=400, refusal="Choose a CSV file to import.")
    try:
        summary = stock_import.import_stock_csv(session, actor(place), upload.data)
    except stock_import.ImportRefused as refusal:
        session.rollback()
        return _import_page(
            request,
            place,
            status_code=400,
            refusal=refusal.message,
            problems=refusal.problems[:SHOWN_PROBLEMS],
            bad_rows=len({p.line for p in refusal.problems}),
            left_out=max(0, len(refusal.problems) - SHOWN_PROBLEMS),
            filename=upload.filename,
        )
    return _import_page(request, place, summary=summary, filename=upload.filename)
