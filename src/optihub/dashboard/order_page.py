"""The order page: everything about one order in the practice's words, and what may be done
with it next.

Shown: the patient, the Rx as opticians write it (with a plus/minus cylinder toggle,
``?cyl=plus``), the frame with its measurements and OMA tracing, the lens, lines, totals
and balance, the status history (who or which app, through which channel), and the events
the order caused with their webhook deliveries.

Changes go through the same services as the APIs: moves and cancelling through
``services.orders.change_order_status`` (history with ``via="dashboard"``,
``order.status_changed`` into the outbox), replacement requests through
``services.fulfillment``; the patient's link and eyewear-ready e-mail through
``dashboard.patient_link``. A refused change comes back as the page with the reason and
nothing written; a done one answers 303 back to the page with a flash.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from optihub.auth.pages import check_csrf, see_other
from optihub.auth.routes import Params
from optihub.dashboard import patient_link
from optihub.dashboard.common import (
    actor,
    dialect_titles,
    forbidden,
    may,
    not_found,
    render,
    staff_page,
)
from optihub.dashboard.draft_words import OPTION_LABELS
from optihub.domain import board as words
from optihub.domain import notation, oma
from optihub.domain.orders import OrderStatus, allowed_next
from optihub.domain.tracing_svg import render_outline_svg
from optihub.errors import Conflict, NotFound, ValidationFailed
from optihub.reads import catalog
from optihub.reads import order_trail as trail
from optihub.reads import orders as order_reads
from optihub.reads.fulfillment import REPLACEABLE
from optihub.reads.order_views import OrderView
from optihub.services import fulfillment
from optihub.services import orders as order_service
from optihub.shell import Workplace
from optihub.web import DbSession

router = APIRouter(include_in_schema=False)

ORDERS = "/dashboard/orders"
S = OrderStatus

# What each core event is called on the page.
EVENT_LABELS = {
    "order.created": "Order placed",
    "order.status_changed": "Status changed",
    "order.completed": "Order ready for pickup",
    "order.cancellation_requested": "Cancellation requested",
    "order.replacement_requested": "Replacement requested",
    "order.stuck": "Still waiting for a prescription",
}
ORDER_TYPES = {
    "spectacles": "Spectacles",
    "frames": "Frame only",
    "contacts": "Contact lenses",
    "other": "Other",
}
REPLACEMENT_WORDS = {
    "pending": "Replacement requested, waiting for a decision",
    "fulfilled": "Replacement made",
    "declined": "Replacement declined",
}
CURRENCY_SIGNS = {"USD": "$", "CAD": "CA$", "AUD": "A$", "EUR": "€", "GBP": "£"}
REASON_LIMIT = 500


def _page_url(order_id: uuid.UUID | str) -> str:
    return f"{ORDERS}/{order_id}"


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def _find(session: Session, place: Workplace, raw_id: str) -> OrderView | None:
    """The order in the user's current practice, or None (malformed, unknown, foreign)."""
    order_id = _uuid(raw_id)
    if order_id is None:
        return None
    try:
        return order_reads.view(session, place.practice_id, order_id)
    except NotFound:
        return None


def _open(
    request: Request, session: Session, raw_id: str
) -> tuple[Workplace, OrderView] | Response:
    """The signed-in user's order, or the answer instead (sign-in redirect, 404, 403)."""
    place = staff_page(request, session)
    if isinstance(place, Response):
        return place
    order = _find(session, place, raw_id)
    if order is None:
        return not_found(request, place, "order", "orders")
    if not may(place, "staff"):
        return forbidden(request, place, "orders")
    return place, order


# -- what the page shows ----------------------------------------------------------------------


def money(value: Decimal | None, currency: str) -> str:
    if value is None:
        return "—"
    amount = value.quantize(Decimal("0.01"))
    sign = notation.MINUS if amount < 0 else ""
    text = f"{abs(amount):,.2f}"
    symbol = CURRENCY_SIGNS.get(currency)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


def age_on(born: date | None, today: date) -> int | None:
    """Whole years from ``born`` to ``today``."""
    if born is None or born > today:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _cylinder_form(request: Request) -> str:
    chosen = request.query_params.get("cyl", "written")
    return chosen if chosen in notation.CYLINDER_FORMS else "written"


def _both(values: list[Decimal | None]) -> Decimal | None:
    """The binocular sum of two monocular values, when both eyes have one."""
    known = [v for v in values if v is not None]
    return known[0] + known[1] if len(values) == 2 and len(known) == 2 else None


def _rx(order: OrderView, form: str) -> dict[str, Any] | None:
    snapshot = order.rx_snapshot
    if not snapshot:
        return None
    eyes = [
        (side, eye)
        for side in ("right", "left")
        if (eye := notation.eye_from_snapshot(snapshot.get(side))) is not None
    ]
    if not eyes:
        return None
    shown = [(side, notation.in_cylinder_form(eye, form)) for side, eye in eyes]
    rows = [notation.eye_row(eye, side) for side, eye in shown]
    binocular = _both([eye.distance_pd for _, eye in eyes])
    near_binocular = _both([eye.near_pd for _, eye in eyes])
    has_cylinder = any(eye.cylinder for _, eye in eyes)
    written = notation.cylinder_form_of([eye for _, eye in eyes])
    return {
        "rows": rows,
        "form": form,
        "written_form": written,
        "has_cylinder": has_cylinder,
        "has_add": any(eye.add for _, eye in eyes),
        "has_prism": any(eye.prism_horizontal or eye.prism_vertical for _, eye in eyes),
        "has_near_pd": any(eye.near_pd for _, eye in eyes),
        "has_heights": any(eye.seg_height or eye.oc_height for _, eye in eyes),
        "binocular_pd": notation.millimetres(binocular) if binocular is not None else None,
        "near_binocular_pd": (
            notation.millimetres(near_binocular) if near_binocular is not None else None
        ),
        "issued_on": snapshot.get("issued_on"),
        "expires_on": snapshot.get("expires_on"),
        "prescriber": snapshot.get("prescriber"),
    }


def _frame(order: OrderView) -> dict[str, Any] | None:
    details = order.frame_details
    if not details:
        return None

    def mm(key: str) -> str | None:
        value = notation.decimal_of(details.get(key))
        return f"{notation.millimetres(value)} mm" if value is not None else None

    def degrees(key: str) -> str | None:
        value = notation.decimal_of(details.get(key))
        return f"{notation.millimetres(value)}°" if value is not None else None

    name = " ".join(str(details[k]) for k in ("brand", "model") if details.get(k))
    facts = [
        ("Colour", details.get("color")),
        ("Material", notation.words(details.get("material"))),
        ("SKU", details.get("sku")),
        ("Handling", details.get("handling")),
    ]
    measures = [
        ("A (eye size)", mm("a") or mm("eye_size")),
        ("B", mm("b")),
        ("DBL (bridge)", mm("bridge")),
        ("ED", mm("ed")),
        ("Temple", mm("temple")),
        ("Vertex", mm("vertex")),
        ("Pantoscopic tilt", degrees("pantoscopic_tilt")),
        ("Wrap", degrees("wrap")),
    ]
    a, eye_size = mm("a"), mm("eye_size")
    if a is not None and eye_size is not None and a != eye_size:
        measures[0] = ("A", a)
        measures.insert(1, ("Eye size", eye_size))
    return {
        "name": name or "Frame",
        "size": notation.frame_size(
            details.get("eye_size"), details.get("bridge"), details.get("temple")
        ),
        "facts": [(label, value) for label, value in facts if value],
        "measures": [(label, value) for label, value in measures if value],
    }


def _tracing(
    session: Session, order: OrderView, practice_id: int
) -> tuple[Markup | None, dict[str, str] | None, bool]:
    """The stored tracing drawn as SVG with its A, B and DBL figures (and whether one is
    stored at all)."""
    text = trail.tracing_of(session, practice_id, order.id)
    if not text:
        return None, None, False
    bridge = notation.decimal_of((order.frame_details or {}).get("bridge"))
    try:
        traces = oma.outline(oma.parse(text))
        if not traces:
            return None, None, True
        svg = render_outline_svg(
            traces,
            dbl_mm=float(bridge) if bridge is not None else None,
            id_prefix="order-tracing",
            title="Frame tracing, front view",
        )
    except (oma.OmaFormatError, ValueError):
        return None, None, True
    trace = traces.get("R") or traces.get("L")
    assert trace is not None
    figures = {
        "A": f"{trace.box_width:.2f} mm",
        "B": f"{trace.box_height:.2f} mm",
        "DBL": f"{notation.millimetres(bridge)} mm" if bridge is not None else "not given",
    }
    return Markup(svg), figures, True  # noqa: S704 (render_outline_svg escapes caller text)


def _lens(order: OrderView) -> list[tuple[str, str]]:
    lens = order.lens or {}
    rows: list[tuple[str, Any]] = [
        ("Style", lens.get("style")),
        ("Type", notation.words(lens.get("lens_type"))),
        ("Material", lens.get("material")),
        ("Colour", lens.get("color")),
        ("Coatings", ", ".join(str(c) for c in lens.get("coats") or []) or None),
        ("Tint", lens.get("tint")),
        ("Tint instruction", lens.get("tint_instruction")),
    ]
    return [(label, str(value)) for label, value in rows if value]


def _history(order: OrderView, dialects: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for change in reversed(order.history):
        out.append(
            {
                "from": words.status_label(change.from_status) if change.from_status else None,
                "to": words.status_label(change.to_status),
                "sub_status": notation.words(change.sub_status),
                "at": change.at,
                "who": change.actor_label or "Unknown",
                "channel": words.channel_label(change.via, dialects),
                "note": change.note,
            }
        )
    return out


def _delivery(delivery: trail.DeliveryView, dialects: dict[str, str]) -> dict[str, Any]:
    if delivery.status == "delivered":
        outcome, tone = "Delivered", "good"
    elif delivery.status == "failed":
        outcome, tone = "Gave up", "bad"
    elif delivery.attempt_count:
        outcome, tone = "Retrying", "warn"
    else:
        outcome, tone = "Queued", "wait"
    if delivery.last_response_code is not None and delivery.last_error is None:
        last = f"HTTP {delivery.last_response_code}"
    elif delivery.last_error:
        last = delivery.last_error
    else:
        last = "Not tried yet"
    return {
        "destination": delivery.url,
        "app": delivery.description,
        "surface": words.channel_label(delivery.surface, dialects),
        "code": delivery.event_code,
        "outcome": outcome,
        "tone": tone,
        "attempts": delivery.attempt_count,
        "last": last,
        "last_at": delivery.last_attempt_at,
        "next_at": delivery.next_attempt_at if delivery.status == "pending" else None,
    }


def _events(
    session: Session, place: Workplace, order: OrderView, dialects: dict[str, str]
) -> list[dict[str, Any]]:
    out = []
    for event in trail.events_of(session, place.practice_id, order.id, order.created_at):
        label = EVENT_LABELS.get(event.type, event.type)
        detail = None
        if event.type == "order.status_changed":
            before, after = event.data.get("previous_status"), event.data.get("status")
            if before and after:
                detail = f"{words.status_label(before)} → {words.status_label(after)}"
        elif event.type == "order.replacement_requested" and event.data.get("reason"):
            detail = str(event.data["reason"])
        elif event.type == "order.cancellation_requested" and event.data.get("comments"):
            detail = str(event.data["comments"])
        out.append(
            {
                "label": label,
                "type": event.type,
                "detail": detail,
                "at": event.created_at,
                "relayed": event.relayed_at is not None,
                "deliveries": [_delivery(d, dialects) for d in event.deliveries],
            }
        )
    return list(reversed(out))


@dataclass(frozen=True)
class Move:
    status: str
    label: str
    cancels: bool


def _moves(order: OrderView) -> list[Move]:
    return [
        Move(
            target.value,
            words.MOVE_LABELS.get(target, words.status_label(target)),
            target == S.CANCELLED,
        )
        for target in allowed_next(S(order.status))
    ]


def _lab(session: Session, place: Workplace, order: OrderView) -> str | None:
    if order.lab_id is None:
        return None
    names = {a.lab_id: a.lab_name for a in catalog.lab_accounts(session, place.practice_id)}
    name = names.get(order.lab_id, "Lab")
    return f"{name} · account {order.lab_account_number}" if order.lab_account_number else name


def _page(
    request: Request,
    session: Session,
    place: Workplace,
    order: OrderView,
    *,
    problem: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    dialects = dialect_titles(request)
    form = _cylinder_form(request)
    tracing_svg, tracing_figures, has_tracing = _tracing(session, order, place.practice_id)
    moves = _moves(order)
    replaceable = order.status in REPLACEABLE and order.replacement_request_status not in (
        "pending",
        "fulfilled",
    )
    patient = order.patient
    return render(
        request,
        place,
        "order.html",
        {
            "title": f"Order {order.number}",
            "order": order,
            "url": _page_url(order.id),
            "status_label": words.status_label(order.status),
            "sub_status": notation.words(order.sub_status),
            "type_label": ORDER_TYPES.get(order.type, notation.words(order.type)),
            "channel": words.channel_label(order.created_via, dialects),
            "lab": _lab(session, place, order),
            "submission": OPTION_LABELS["submission_type"].get(order.submission_type or ""),
            "patient": patient,
            "patient_age": (
                age_on(patient.date_of_birth, datetime.now(place.zone).date()) if patient else None
            ),
            "patient_name": (
                f"{patient.first_name} {patient.last_name}".strip() if patient else None
            ),
            "rx": _rx(order, form),
            "cyl": form,
            "frame": _frame(order),
            "tracing_svg": tracing_svg,
            "tracing_figures": tracing_figures,
            "has_tracing": has_tracing,
            "lens": _lens(order),
            "lines": [
                {
                    "line": line,
                    "unit": money(line.unit_price, order.currency),
                    "amount": money(line.unit_price * line.quantity, order.currency),
                    "tax": money(line.tax, order.currency) if line.tax else "—",
                }
                for line in order.lines
            ],
            "totals": [
                ("Subtotal", money(order.subtotal, order.currency)),
                ("Tax", money(order.tax_total, order.currency)),
                ("Total", money(order.total, order.currency)),
                ("Paid", money(order.amount_paid, order.currency)),
            ],
            "balance": money(order.balance, order.currency),
            "balance_due": order.balance > 0,
            "history": _history(order, dialects),
            "events": _events(session, place, order, dialects),
            "moves": [m for m in moves if not m.cancels],
            "cancel": next((m for m in moves if m.cancels), None),
            "replaceable": replaceable,
            "replacement": REPLACEMENT_WORDS.get(order.replacement_request_status or ""),
            "replacement_pending": order.replacement_request_status == "pending",
            "replacement_reason_limit": REASON_LIMIT,
            "patient_view": patient_link.panel(request, session, place, order.id),
            "problem": problem or request.session.pop(patient_link.PROBLEM_KEY, None),
        },
        section="orders",
        status_code=status_code,
    )


@router.get(ORDERS + "/{order_id}")
def order_page(order_id: str, request: Request, session: DbSession) -> Response:
    opened = _open(request, session, order_id)
    if isinstance(opened, Response):
        return opened
    place, order = opened
    if order.status == S.DRAFT:
        return see_other(f"/dashboard/drafts/{order.id}")
    return _page(request, session, place, order)


# -- changes ----------------------------------------------------------------------------------


def _refused(
    request: Request, session: Session, place: Workplace, raw_id: str, problem: str, status: int
) -> Response:
    """The page again with why nothing was done (the transaction rolled back first)."""
    session.rollback()
    order = _find(session, place, raw_id)
    if order is None:
        return not_found(request, place, "order", "orders")
    return _page(request, session, place, order, problem=problem, status_code=status)


def _transition_problem(failure: Conflict) -> str:
    current = getattr(failure, "current", None)
    target = getattr(failure, "target", None)
    if current is None or target is None:
        return failure.message
    allowed = [words.status_label(s) for s in failure.allowed]
    then = (
        f"From {words.status_label(current)} it can go to: {', '.join(allowed)}."
        if allowed
        else "It is closed: it cannot move any more."
    )
    return (
        f"An order that is {words.status_label(current)} cannot become "
        f"{words.status_label(target)}. {then} Nothing was changed."
    )


def _form_and_order(
    request: Request, session: Session, params: dict[str, list[tuple[str, str]]], raw_id: str
) -> tuple[dict[str, str], Workplace, OrderView] | Response:
    form = dict(params["form"])
    if (refused := check_csrf(request, form)) is not None:
        return refused
    opened = _open(request, session, raw_id)
    if isinstance(opened, Response):
        return opened
    place, order = opened
    if order.status == S.DRAFT:  # a draft is reviewed and submitted on its own page
        return see_other(f"/dashboard/drafts/{order.id}")
    return form, place, order


@router.post(ORDERS + "/{order_id}/status")
def move_order(order_id: str, request: Request, params: Params, session: DbSession) -> Response:
    """Move the order on (or cancel it) through ``change_order_status``. ``from`` is the
    status the page showed: if someone moved the order meanwhile, nothing is done."""
    opened = _form_and_order(request, session, params, order_id)
    if isinstance(opened, Response):
        return opened
    form, place, order = opened
    try:
        target = S(form.get("to", ""))
    except ValueError:
        return _refused(
            request, session, place, order_id, "Choose one of the moves the page offers.", 400
        )
    shown = form.get("from")
    if shown and shown != order.status:
        return _refused(
            request,
            session,
            place,
            order_id,
            f"Someone changed this order meanwhile: it is now {words.status_label(order.status)}. "
            "Nothing was changed; check the order and try again.",
            409,
        )
    note = (form.get("note") or "").strip()[:REASON_LIMIT] or None
    try:
        result = order_service.change_order_status(
            session, actor(place), order.id, target, note=note
        )
    except Conflict as failure:
        return _refused(request, session, place, order_id, _transition_problem(failure), 409)
    except ValidationFailed as failure:
        return _refused(request, session, place, order_id, failure.message, 400)
    back = _page_url(order.id)
    if form.get("cyl") in ("minus", "plus"):
        back += f"?cyl={form['cyl']}"
    if result.changed:
        request.session["flash"] = (
            f"Order {order.number} was cancelled."
            if target == S.CANCELLED
            else f"Order {order.number} is now {words.status_label(target)}."
        )
    return see_other(back)


@router.post(ORDERS + "/{order_id}/replacement")
def request_replacement(
    order_id: str, request: Request, params: Params, session: DbSession
) -> Response:
    """Ask for a replacement (remake) of a shipped or delivered order, with its reason."""
    opened = _form_and_order(request, session, params, order_id)
    if isinstance(opened, Response):
        return opened
    form, place, order = opened
    reason = (form.get("reason") or "").strip()
    if not reason:
        return _refused(
            request,
            session,
            place,
            order_id,
            "Say why a replacement is needed (lab error, measurement, patient change of mind…).",
            400,
        )
    try:
        fulfillment.request_replacement(session, actor(place), order.id, reason[:REASON_LIMIT])
    except Conflict as failure:
        return _refused(request, session, place, order_id, failure.message + ".", 409)
    request.session["flash"] = f"A replacement of order {order.number} was requested."
    return see_other(_page_url(order.id))


@router.post(ORDERS + "/{order_id}/replacement/{decision}")
def decide_replacement(
    order_id: str, decision: str, request: Request, params: Params, session: DbSession
) -> Response:
    """Make the replacement (a new order placed) or decline the request."""
    opened = _form_and_order(request, session, params, order_id)
    if isinstance(opened, Response):
        return opened
    _form, place, order = opened
    if decision not in ("make", "decline"):
        return not_found(request, place, "action", "orders")
    try:
        if decision == "make":
            made = fulfillment.fulfil_replacement(session, actor(place), order.id)
        else:
            fulfillment.decline_replacement(session, actor(place), order.id)
    except Conflict as failure:
        return _refused(request, session, place, order_id, failure.message + ".", 409)
    except ValidationFailed as failure:
        return _refused(request, session, place, order_id, failure.message, 400)
    if decision == "make":
        request.session["flash"] = (
            f"Replacement order {made.number} was placed for order {order.number}."
        )
        return see_other(_page_url(made.id))
    request.session["flash"] = f"The replacement request for order {order.number} was declined."
    return see_other(_page_url(order.id))
