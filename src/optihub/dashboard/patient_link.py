"""The order page's "Patient's view" panel: the patient's link (make one, copy it, revoke
it), their consent to the eyewear-ready e-mail, and what became of that e-mail.

Changes go through ``services.patient_links`` and ``services.patient_messages``; each form
answers 303 back to the order page, with a flash when done or the reason when refused
(``order_problem``, shown by the order page), nothing written then.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from optihub.auth.pages import check_csrf, see_other
from optihub.auth.routes import Params
from optihub.dashboard.common import actor, forbidden, may, not_found, staff_page
from optihub.db.base import utcnow
from optihub.db.models import Order, Patient, PatientMessage, User
from optihub.errors import Conflict, NotFound
from optihub.services import patient_links, patient_messages
from optihub.services.patient_links import LinkKey, LinkState
from optihub.shell import Workplace
from optihub.web import DbSession

router = APIRouter(include_in_schema=False)

ORDERS = "/dashboard/orders"
PROBLEM_KEY = "order_problem"
EARLIER_SHOWN = 5
STATE_WORDS = {LinkState.EXPIRED: "Expired", LinkState.REVOKED: "Revoked"}


def _key(request: Request) -> LinkKey:
    key: LinkKey = request.app.state.patient_link_key
    return key


def _base_url(request: Request) -> str:
    return str(request.app.state.settings.issuer)


def _names(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(User.id, User.first_name, User.last_name, User.email).where(User.id.in_(ids))
    )
    return {row.id: f"{row.first_name} {row.last_name}".strip() or row.email for row in rows}


def _email_status(
    session: Session, order: Order, patient: Patient | None, message: PatientMessage | None
) -> dict[str, Any]:
    """What became of the eyewear-ready e-mail, or what will, in words (``at`` is a time
    the template shows in the practice's zone)."""
    ready = order.status == patient_messages.READY
    if message is None:
        reason = patient_messages.why_not(session, order, patient)
        if ready:
            # Ready, but the worker has not relayed the event yet (or it was made ready
            # before this version): the e-mail is decided on the next run.
            return {
                "tone": "wait",
                "text": "Ready-for-pickup e-mail: waiting to be sent."
                if reason is None
                else f"Ready-for-pickup e-mail will not be sent: {reason}",
            }
        if order.status in ("draft", "received", "in_progress"):
            if reason is None:
                return {
                    "tone": "wait",
                    "text": "When the order is ready for pickup, an e-mail goes to "
                    f"{patient_messages.masked(patient.email if patient else None)}.",
                }
            return {"tone": "muted", "text": f"No e-mail when it is ready for pickup: {reason}"}
        return {"tone": "muted", "text": "No ready-for-pickup e-mail was sent for this order."}
    to = patient_messages.masked(message.recipient)
    if message.status == "sent":
        return {
            "tone": "good",
            "text": f"Ready-for-pickup e-mail sent to {to} on",
            "at": message.sent_at,
        }
    if message.status == "pending":
        if message.attempt_count:
            return {
                "tone": "warn",
                "text": f"Ready-for-pickup e-mail to {to} not sent yet: {message.last_error} "
                f"({message.attempt_count} attempt{'s' if message.attempt_count != 1 else ''}). "
                "Next try",
                "at": message.next_attempt_at,
            }
        return {"tone": "wait", "text": f"Ready-for-pickup e-mail to {to}: being sent."}
    can_resend = ready and patient_messages.why_not(session, order, patient) is None
    if message.status == "failed":
        return {
            "tone": "bad",
            "text": f"Ready-for-pickup e-mail to {to} failed: {message.last_error} "
            "Gave up after 24 hours of retries.",
            "resend": can_resend,
        }
    return {
        "tone": "muted",
        "text": f"Ready-for-pickup e-mail not sent: {message.last_error}",
        "resend": can_resend,
    }


def panel(
    request: Request, session: Session, place: Workplace, order_id: uuid.UUID
) -> dict[str, Any]:
    """What the order page's "Patient's view" panel shows."""
    order = session.scalar(
        select(Order).where(Order.practice_id == place.practice_id, Order.id == order_id)
    )
    assert order is not None  # the page found it
    patient = (
        session.scalar(
            select(Patient).where(
                Patient.practice_id == place.practice_id, Patient.id == order.patient_id
            )
        )
        if order.patient_id is not None
        else None
    )
    now = utcnow()
    all_links = patient_links.links_of(session, place.practice_id, order.id)
    names = _names(
        session,
        {link.created_by_user_id for link in all_links if link.created_by_user_id}
        | {link.revoked_by_user_id for link in all_links if link.revoked_by_user_id},
    )
    live = next((k for k in all_links if patient_links.state_of(k, now) == LinkState.LIVE), None)
    key = _key(request)
    earlier = [
        {
            "state": STATE_WORDS.get(patient_links.state_of(link, now), "Live"),
            "created_at": link.created_at,
            "ended_at": link.revoked_at or link.expires_at,
            "by": names.get(link.revoked_by_user_id) if link.revoked_by_user_id else None,
        }
        for link in all_links
        if link is not live
    ][:EARLIER_SHOWN]
    return {
        "live": (
            {
                "id": live.id,
                "address": patient_links.address(_base_url(request), key.token(live.nonce)),
                "created_at": live.created_at,
                "expires_at": live.expires_at,
                "by": names.get(live.created_by_user_id)
                if live.created_by_user_id
                else "OptiHub, for the ready-for-pickup e-mail",
            }
            if live is not None
            else None
        ),
        "earlier": earlier,
        "lifetime_days": patient_links.LINK_LIFETIME.days,
        "patient": patient,
        "consent": bool(patient and patient.notify_eyewear_email),
        "email": _email_status(
            session,
            order,
            patient,
            patient_messages.eyewear_message(session, place.practice_id, order.id),
        ),
    }


# -- changes ----------------------------------------------------------------------------


def _back(order_id: uuid.UUID) -> str:
    return f"{ORDERS}/{order_id}#patient-view"


def _opened(
    request: Request, session: Session, params: dict[str, list[tuple[str, str]]], raw_id: str
) -> tuple[dict[str, str], Workplace, uuid.UUID] | Response:
    form = dict(params["form"])
    if (refused := check_csrf(request, form)) is not None:
        return refused
    place = staff_page(request, session)
    if isinstance(place, Response):
        return place
    try:
        order_id = uuid.UUID(raw_id)
    except ValueError:
        return not_found(request, place, "order", "orders")
    exists = session.scalar(
        select(Order.id).where(Order.practice_id == place.practice_id, Order.id == order_id)
    )
    if exists is None:
        return not_found(request, place, "order", "orders")
    if not may(place, "staff"):
        return forbidden(request, place, "orders")
    return form, place, order_id


def _refused(request: Request, session: Session, order_id: uuid.UUID, problem: str) -> Response:
    session.rollback()
    request.session[PROBLEM_KEY] = problem
    return see_other(_back(order_id))


@router.post(ORDERS + "/{order_id}/patient-link")
def create_link(order_id: str, request: Request, params: Params, session: DbSession) -> Response:
    """Make a link for the patient (30 days), shown on the page to copy."""
    opened = _opened(request, session, params, order_id)
    if isinstance(opened, Response):
        return opened
    _form, place, oid = opened
    if patient_links.live_link(session, place.practice_id, oid) is not None:
        return _refused(request, session, oid, "This order has a live link already: copy it.")
    try:
        patient_links.create_link(session, actor(place), oid, _key(request))
    except Conflict as failure:
        return _refused(request, session, oid, failure.message + ".")
    request.session["flash"] = (
        f"A link for the patient is ready to copy; it works for "
        f"{patient_links.LINK_LIFETIME.days} days unless you revoke it."
    )
    return see_other(_back(oid))


@router.post(ORDERS + "/{order_id}/patient-link/{link_id}/revoke")
def revoke_link(
    order_id: str, link_id: str, request: Request, params: Params, session: DbSession
) -> Response:
    opened = _opened(request, session, params, order_id)
    if isinstance(opened, Response):
        return opened
    _form, place, oid = opened
    try:
        patient_links.revoke_link(session, actor(place), oid, uuid.UUID(link_id))
    except (ValueError, NotFound):
        return not_found(request, place, "link", "orders")
    request.session["flash"] = "The patient's link is revoked: it no longer opens the order."
    return see_other(_back(oid))


@router.post(ORDERS + "/{order_id}/patient-consent")
def set_consent(order_id: str, request: Request, params: Params, session: DbSession) -> Response:
    """The patient's consent to the eyewear-ready e-mail (the box on the panel)."""
    opened = _opened(request, session, params, order_id)
    if isinstance(opened, Response):
        return opened
    form, place, oid = opened
    patient_id = session.scalar(
        select(Order.patient_id).where(Order.practice_id == place.practice_id, Order.id == oid)
    )
    if patient_id is None:
        return _refused(request, session, oid, "This order has no patient to ask.")
    wanted = form.get("notify_eyewear_email") == "yes"
    patient_messages.set_eyewear_consent(session, actor(place), patient_id, email=wanted)
    request.session["flash"] = (
        "The patient will get an e-mail when their eyewear is ready."
        if wanted
        else "The patient will not get e-mails about their eyewear."
    )
    return see_other(_back(oid))


@router.post(ORDERS + "/{order_id}/patient-email")
def send_email_again(
    order_id: str, request: Request, params: Params, session: DbSession
) -> Response:
    """Queue the ready-for-pickup e-mail again (after it was skipped or given up)."""
    opened = _opened(request, session, params, order_id)
    if isinstance(opened, Response):
        return opened
    _form, place, oid = opened
    try:
        patient_messages.send_again(session, actor(place), oid, _key(request))
    except Conflict as failure:
        return _refused(request, session, oid, failure.message + ".")
    request.session["flash"] = "The ready-for-pickup e-mail is on its way."
    return see_other(_back(oid))
