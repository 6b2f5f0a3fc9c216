"""Dashboard pages: the staff's review of draft lab orders.

Thin: who is signed in and in which practices comes from ``reads.staff``; drafts are read,
edited, finalized and discarded through ``services.lab_orders`` (the same rules as the
lab-order API); the list is ``reads.orders.views``. Sessions, CSRF and the sign-in redirect
are the auth pages' (``auth.pages``). Every POST answers 303 (or the form again, with its
errors, and nothing written).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy.orm import Session

from optihub.auth.pages import (
    PAGE_HEADERS,
    check_csrf,
    csrf_token,
    login_redirect,
    see_other,
    signed_in_user,
)
from optihub.auth.routes import Params
from optihub.dashboard import forms
from optihub.dashboard.choices import choices_for
from optihub.db.models import User
from optihub.domain import oma
from optihub.domain.orders import OrderStatus
from optihub.domain.tracing_svg import render_outline_svg
from optihub.errors import FieldError, NotFound, ValidationFailed
from optihub.reads import catalog
from optihub.reads import orders as order_reads
from optihub.reads import staff as staff_reads
from optihub.reads.order_views import OrderFilter, OrderView
from optihub.services import lab_orders
from optihub.services.context import Actor
from optihub.web import DbSession

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)

DRAFTS = "/dashboard/drafts"
LIST_LIMIT = 200


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    context = {
        "csrf_token": csrf_token(request),
        "user_email": request.session.get("email"),
        "flash": request.session.pop("flash", None),
        **context,
    }
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(PAGE_HEADERS)
    return response


def not_found(request: Request) -> HTMLResponse:
    return render(
        request,
        "not_found.html",
        {"section": "drafts", "title": "No such draft"},
        status_code=404,
    )


def _actor(user: User, practice_id: int) -> Actor:
    name = f"{user.first_name} {user.last_name}".strip()
    return Actor(
        practice_id=practice_id,
        via="dashboard",
        user_id=user.id,
        label=f"{name} <{user.email}>" if name else user.email,
    )


def _find_draft(
    session: Session, user: User, raw_id: str, *, lock: bool = False
) -> tuple[Actor, lab_orders.Draft] | None:
    """The draft among the user's practices, or None (unknown, foreign, not a draft)."""
    try:
        order_id = uuid.UUID(raw_id)
    except ValueError:
        return None
    for membership in staff_reads.memberships(session, user.id):
        try:
            draft = lab_orders.get_draft(session, membership.practice_id, order_id, lock=lock)
        except NotFound:
            continue
        return _actor(user, membership.practice_id), draft
    return None


def _open_draft(
    request: Request, session: Session, raw_id: str, *, lock: bool = False
) -> tuple[User, Actor, lab_orders.Draft] | Response:
    """The signed-in user's draft, or the answer instead: the sign-in redirect, or 404."""
    user = signed_in_user(request, session)
    if user is None:
        return login_redirect(request)
    found = _find_draft(session, user, raw_id, lock=lock)
    if found is None:
        return not_found(request)
    return user, *found


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
    actor: Actor,
    draft: lab_orders.Draft,
    values: forms.FormValues,
    errors: list[FieldError] | None = None,
) -> HTMLResponse:
    errors = errors or []
    order = draft.order
    return render(
        request,
        "draft.html",
        {
            "section": "drafts",
            "title": f"Draft {order.number}",
            "order": order,
            "values": values,
            "choices": choices_for(session, actor.practice_id, values),
            "errors": forms.errors_by_field(errors),
            "error_list": [(forms.error_key(e.field), e.field, e.message) for e in errors],
            "sides": forms.SIDES,
            "tracing_svg": _tracing_svg(draft.request.frame),
            "has_tracing": draft.request.frame is not None
            and draft.request.frame.tracing is not None,
        },
        status_code=400 if errors else 200,
    )


@router.get("/dashboard")
def dashboard_home() -> Response:
    return see_other(DRAFTS)


@router.get(DRAFTS)
def draft_list(request: Request, session: DbSession) -> Response:
    user = signed_in_user(request, session)
    if user is None:
        return login_redirect(request)
    practices = []
    for membership in staff_reads.memberships(session, user.id):
        labs = {
            (a.lab_id, a.account_number): a.lab_name
            for a in catalog.lab_accounts(session, membership.practice_id)
        }
        page = order_reads.views(
            session,
            membership.practice_id,
            OrderFilter(statuses=[OrderStatus.DRAFT.value]),
            limit=LIST_LIMIT,
        )
        practices.append(
            {
                "name": membership.practice_name,
                "total": page.total,
                "drafts": [_list_item(view, labs) for view in page.views],
            }
        )
    return render(
        request, "drafts.html", {"section": "drafts", "title": "Drafts", "practices": practices}
    )


def _list_item(view: OrderView, labs: dict[Any, str]) -> dict[str, Any]:
    patient = view.patient
    return {
        "id": view.id,
        "number": view.number,
        "patient": f"{patient.first_name} {patient.last_name}" if patient else "—",
        "lab": labs.get((view.lab_id, view.lab_account_number), "—"),
        "account_number": view.lab_account_number,
        "created_at": view.created_at,
        "lens": (view.lens or {}).get("style"),
    }


@router.get(DRAFTS + "/{order_id}")
def draft_page(order_id: str, request: Request, session: DbSession) -> Response:
    opened = _open_draft(request, session, order_id)
    if isinstance(opened, Response):
        return opened
    _user, actor, draft = opened
    return _review(request, session, actor, draft, forms.values_of(draft.request))


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
    user, actor, draft = opened
    values = forms.values_from(pairs)
    tracing = draft.request.frame.tracing if draft.request.frame is not None else None
    parsed = forms.parse(values, tracing)
    if parsed.errors:
        return _review(request, session, actor, draft, values, parsed.errors)
    submit = dict(pairs).get("action") == "submit"
    try:
        if submit:
            order = lab_orders.submit_draft(session, actor, draft.order.id, parsed.request)
        else:
            order = lab_orders.update_draft(session, actor, draft.order.id, parsed.request)
    except ValidationFailed as failure:
        session.rollback()  # nothing was written; end the transaction holding the row lock
        found = _find_draft(session, user, order_id)
        if found is None:
            return not_found(request)
        return _review(request, session, actor, found[1], values, list(failure.errors))
    if submit:
        request.session["flash"] = f"Order {order.number} was submitted to the lab."
        return see_other(DRAFTS)
    request.session["flash"] = "Draft saved."
    return see_other(f"{DRAFTS}/{order.id}")


@router.post(DRAFTS + "/{order_id}/discard")
def discard(order_id: str, request: Request, params: Params, session: DbSession) -> Response:
    if (refused := check_csrf(request, dict(params["form"]))) is not None:
        return refused
    opened = _open_draft(request, session, order_id, lock=True)
    if isinstance(opened, Response):
        return opened
    _user, actor, draft = opened
    order = lab_orders.discard_draft(session, actor, draft.order.id)
    request.session["flash"] = f"Draft {order.number} was discarded."
    return see_other(DRAFTS)
