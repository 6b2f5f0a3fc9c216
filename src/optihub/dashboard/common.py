"""What every dashboard page shares: the signed-in staff member and their practice
(``shell.Workplace``), rendering in the shell, the acting ``Actor`` for services, and the
role rules (docs/dashboard.md).

Pages are thin: they read through ``reads`` and change through ``services``, as the APIs
do. Every POST carries the session's CSRF token and answers 303 (or the form again with its
errors and nothing written). An object of another practice is a 404, never a 403.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from optihub import shell
from optihub.auth.pages import (
    PAGE_HEADERS,
    check_csrf,
    csrf_token,
    login_redirect,
    signed_in_user,
)
from optihub.services.context import Actor
from optihub.shell import Workplace

templates = shell.templates_for(Path(__file__).parent / "templates")

# What each role may do beyond seeing the practice's orders, stock and apps.
# staff: work orders (drafts, moves, cancel, redo) and stock quantities;
# manager: also import stock, manage webhooks and connect apps;
# owner: also change the practice's settings.
ROLE_RANK = {"staff": 0, "manager": 1, "owner": 2}


def may(place: Workplace, least_role: str) -> bool:
    """Whether the user's role in the current practice is ``least_role`` or above."""
    return ROLE_RANK.get(place.role, -1) >= ROLE_RANK[least_role]


def render(
    request: Request,
    place: Workplace | None,
    name: str,
    context: dict[str, Any],
    *,
    section: str,
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "csrf_token": csrf_token(request),
        "flash": request.session.pop("flash", None),
        **shell.context(place, section),
        **context,
    }
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(PAGE_HEADERS)
    return response


def staff_page(request: Request, session: Any) -> Workplace | Response:
    """The signed-in user's workplace, or the answer instead: the sign-in redirect, or a
    page saying their account belongs to no practice."""
    user = signed_in_user(request, session)
    if user is None:
        return login_redirect(request)
    place = shell.workplace(request, session, user)
    if place is None:
        return render(
            request,
            None,
            "message.html",
            {
                "title": "No practice",
                "message": (
                    "Your account belongs to no practice. Ask the practice's owner to add you."
                ),
            },
            section="",
            status_code=403,
        )
    return place


def staff_action(
    request: Request, form: dict[str, str], session: Any, least_role: str, section: str
) -> Workplace | Response:
    """The workplace of a user allowed to post this form, or the answer instead: the
    "Form expired" page (CSRF), the sign-in redirect, or the 403 page for a lesser role."""
    if (refused := check_csrf(request, form)) is not None:
        return refused
    place = staff_page(request, session)
    if isinstance(place, Response):
        return place
    if not may(place, least_role):
        return forbidden(request, place, section)
    return place


def not_found(request: Request, place: Workplace | None, what: str, section: str) -> HTMLResponse:
    return render(
        request,
        place,
        "message.html",
        {"title": f"No such {what}", "message": f"There is no such {what} in this practice."},
        section=section,
        status_code=404,
    )


def forbidden(request: Request, place: Workplace, section: str) -> HTMLResponse:
    return render(
        request,
        place,
        "message.html",
        {
            "title": "Not allowed",
            "message": "Your role in this practice does not allow this. Ask its owner.",
        },
        section=section,
        status_code=403,
    )


def actor(place: Workplace) -> Actor:
    user = place.user
    name = f"{user.first_name} {user.last_name}".strip()
    return Actor(
        practice_id=place.practice_id,
        via="dashboard",
        user_id=user.id,
        label=f"{name} <{user.email}>" if name else user.email,
    )


def dialect_titles(request: Request) -> dict[str, str]:
    """Each installed dialect's name → what staff call it (``Surface.title``): the channel
    an order came through."""
    surfaces = getattr(request.app.state, "surfaces", None) or ()
    return {s.name: s.title or s.name for s in surfaces}
