"""The review of a draft lab order: edit, save, submit to the lab, discard.

Drafts are read, edited, finalized and discarded through ``services.lab_orders`` (the same
rules as the lab-order API); their list is the board's draft column. A refused form comes
back as typed with every problem at once: what the form could not read and every rule the
service found broken. ``/choices`` gives the page's script what the chosen lab, style and
material offer, so the lens choices follow without a save.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from optihub.auth.pages import PAGE_HEADERS, check_csrf, see_other
from optihub.auth.routes import Params
from optihub.dashboard import draft_words, forms
from optihub.dashboard.choices import choices_for, fill_lens_by_name, stored_names
from optihub.dashboard.common import actor, dialect_titles, not_found, render, staff_page
from optihub.domain import board, oma
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
    problems = draft_words.problems(errors or [])
    order = draft.order
    return render(
        request,
        place,
        "draft.html",
        {
            "title": f"Draft {order.number}",
            "order": order,
            "channel": board.channel_label(order.created_via, dialect_titles(request)),
            "values": values,
            "choices": choices_for(
                session, place.practice_id, values, stored_names(draft.order.lens)
            ),
            "errors": draft_words.errors_by_field(problems),
            "error_list": problems,
            "label_of": draft_words.label,
            "option_label": draft_words.option_label,
            "sides": forms.SIDES,
            "tracing_svg": _tracing_svg(draft.request.frame),
            "has_tracing": draft.request.frame is not None
            and draft.request.frame.tracing is not None,
        },
        section="orders",
        status_code=400 if problems else 200,
    )


def _stored_values(session: Session, draft: lab_orders.Draft) -> forms.FormValues:
    """The draft as the form shows it: exactly what is stored (a lens stored by name only
    is shown by the lab's items of those names)."""
    values = forms.values_of(draft.request)
    fill_lens_by_name(session, values, draft.order.lens)
    return values


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
    return _review(request, session, place, draft, _stored_values(session, draft))


@router.get(DRAFTS + "/{order_id}/choices")
def draft_choices(order_id: str, request: Request, session: DbSession) -> Response:
    """What the form's lab-dependent selects offer for the values in the query (the form's
    field names): JSON for the page's script. Only the signed-in user's practice's drafts
    and lab accounts are read; anything else is the page's 404 or the sign-in redirect."""
    opened = _open_draft(request, session, order_id)
    if isinstance(opened, Response):
        return opened
    place, draft = opened
    values = forms.values_from(request.query_params.multi_items())
    found = choices_for(session, place.practice_id, values, stored_names(draft.order.lens))
    return JSONResponse(found.dependent(), headers=PAGE_HEADERS)


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
    submit = dict(pairs).get("action") == "submit"
    # The service's rules run even when some fields could not be read, so every problem is
    # reported at once; in a savepoint, rolled back unless the whole form is accepted.
    savepoint = session.begin_nested()
    rule_errors: list[FieldError] = []
    try:
        if submit:
            order = lab_orders.submit_draft(session, actor(place), draft.order.id, parsed.request)
        else:
            order = lab_orders.update_draft(session, actor(place), draft.order.id, parsed.request)
    except ValidationFailed as failure:
        rule_errors = list(failure.errors)
    if parsed.errors or rule_errors:
        savepoint.rollback()
        session.rollback()  # nothing was written; end the transaction holding the row lock
        found = _find_draft(session, place, order_id)
        if found is None:
            return not_found(request, place, "draft", "orders")
        errors = draft_words.merged(parsed.errors, rule_errors)
        return _review(request, session, place, found, values, errors)
    savepoint.commit()
    if submit:
        request.session["flash"] = f"Order {order.number} was submitted to the lab."
        return see_other(f"/dashboard/orders/{order.id}")
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
