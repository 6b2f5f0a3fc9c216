"""The review of a draft lab order: edit, save, submit to the lab, discard.

Drafts are read, edited, finalized and discarded through ``services.lab_orders`` (the same
rules as the lab-order API); their list is the board's draft column.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from optihub.auth.pages import check_csrf, see_other
from optihub.auth.routes import Params
from optihub.dashboard import forms
from optihub.dashboard.choices import choices_for
from optihub.dashboard.common import actor, not_found, render, staff_page
from optihub.domain import oma
from optihub.domain.tracing_svg import render_outline_svg
from optihub.errors import FieldError, NotFound, ValidationFailed
from optihub.services import lab_orders
from optihub.shell import Workplace
from optihub.web import DbSession

router = APIRouter(include_in_schema=False)

DRAFTS = "/dashboard/drafts"
BOARD_DRAFTS = "/dashboard/orders?status=draft"


def _find_draft(
    session: Session, place: Workplace, raw_id: str, *, lock: bool = False
) -> lab_orders.Draft | None:
    """The draft in the user's current practice, or None (unknown, foreign, not a draft)."""
    try:
        order_id = uuid.UUID(raw_id)
    except ValueError:
        return None
    try:
        return lab_orders.get_draft(session, place.practice_id, order_id, lock=lock)
    except NotFound:
        return None


def _open_draft(
    request: Request, session: Session, raw_id: str, *, lock: bool = False
) -> tuple[Workplace, lab_orders.Draft] | Response:
    """The signed-in user's draft, or the answer instead: the sign-in redirect, or 404."""
    place = staff_page(request, session)
    if isinstance(place, Response):
        return place
    draft = _find_draft(session, place, raw_id, lock=lock)
    if draft is None:
        return not_found(request, place, "draft", "orders")
    return place, draft


def _tracing_svg(frame: lab_orders.FrameInput | None) -> Markup | None:
    if frame is None or frame.tracing is None:
        return None
    try:
        traces = oma.outline(oma.parse(frame.tracing))
        if not traces:
            return None
        svg = render_outline_svg(
            traces, dbl_mm=float(frame.bridge) if frame.bridge is not None else None
        )
    except (oma.OmaFormatError, ValueError):
        return None
    return Markup(svg)  # noqa: S704 (built by render_outline_svg, which escapes caller text)


def _review(
    request: Request,
    session: Session,
    place: Workplace,
    draft: lab_orders.Draft,
    values: forms.FormValues,
    errors: list[FieldError] | None = None,
) -> HTMLResponse:
    errors = errors or []
    order = draft.order
    return render(
        request,
        place,
        "draft.html",
        {
            "title": f"Draft {order.number}",
            "order": order,
            "values": values,
            "choices": choices_for(session, place.practice_id, values),
            "errors": forms.errors_by_field(errors),
            "error_list": [(forms.error_key(e.field), e.field, e.message) for e in errors],
            "sides": forms.SIDES,
            "tracing_svg": _tracing_svg(draft.request.frame),
            "has_tracing": draft.request.frame is not None
            and draft.request.frame.tracing is not None,
        },
        section="orders",
        status_code=400 if errors else 200,
    )


@router.get(DRAFTS)
def draft_list() -> Response:
    """The drafts are the board's first column."""
    return see_other(BOARD_DRAFTS)


@router.get(DRAFTS + "/{order_id}")
def draft_page(order_id: str, request: Request, session: DbSession) -> Response:
    opened = _open_draft(request, session, order_id)
    if isinstance(opened, Response):
        return opened
    place, draft = opened
    return _review(request, session, place, draft, forms.values_of(draft.request))


@router.post(DRAFTS + "/{order_id}")
def save_draft(order_id: str, request: Request, params: Params, session: DbSession) -> Response:
    """Save the form (draft rules), or with ``action=submit`` save and send it to the lab
    (submit rules). On any violation the form comes back with its errors, nothing written."""
    pairs = params["form"]
    if (refused := check_csrf(request, dict(pairs))) is not None:
        return refused
    opened = _open_draft(request, session, order_id, lock=True)
    if isinstance(opened, Response):
        return opened
    place, draft = opened
    values = forms.values_from(pairs)
    tracing = draft.request.frame.tracing if draft.request.frame is not None else None
    parsed = forms.parse(values, tracing)
    if parsed.errors:
        return _review(request, session, place, draft, values, parsed.errors)
    submit = dict(pairs).get("action") == "submit"
    try:
        if submit:
            order = lab_orders.submit_draft(session, actor(place), draft.order.id, parsed.request)
        else:
            order = lab_orders.update_draft(session, actor(place), draft.order.id, parsed.request)
    except ValidationFailed as failure:
        session.rollback()  # nothing was written; end the transaction holding the row lock
        found = _find_draft(session, place, order_id)
        if found is None:
            return not_found(request, place, "draft", "orders")
        return _review(request, session, place, found, values, list(failure.errors))
    if submit:
        request.session["flash"] = f"Order {order.number} was submitted to the lab."
        return see_other("/dashboard/orders?status=received")
    request.session["flash"] = "Draft saved."
    return see_other(f"{DRAFTS}/{order.id}")


@router.post(DRAFTS + "/{order_id}/discard")
def discard(order_id: str, request: Request, params: Params, session: DbSession) -> Response:
    if (refused := check_csrf(request, dict(params["form"]))) is not None:
        return refused
    opened = _open_draft(request, session, order_id, lock=True)
    if isinstance(opened, Response):
        return opened
    place, draft = opened
    order = lab_orders.discard_draft(session, actor(place), draft.order.id)
    request.session["flash"] = f"Draft {order.number} was discarded."
    return see_other(BOARD_DRAFTS)
