"""Server-rendered pages: sign in, consent, the apps the user granted (``/account/apps``).
Registering apps is the dashboard's apps page (``optihub.dashboard.apps``), which shows a
new app's secret once through ``take_new_app``.

Every form carries a CSRF token bound to the session; every POST answers 303; pages may
not be framed. The cookie is Starlette's signed session (HttpOnly, SameSite=Lax, Secure
under https), keyed from the instance key, holding the id of a server-side session
(``services.staff_sessions``: sign-out deletes it, so a kept copy of the cookie opens
nothing), the CSRF token, the email shown in the header, and after registering an app the
one-time id of its details: the client secret itself waits on the server, encrypted, and
is shown once.
"""

from __future__ import annotations

import json
import secrets
from base64 import b64decode
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import itsdangerous
from authlib.oauth2.rfc6749.errors import OAuth2Error
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.middleware.sessions import SessionMiddleware

from optihub import shell
from optihub.auth.oauth_request import Params, oauth_request, server_of
from optihub.auth.throttle import LoginThrottle
from optihub.db.models import Membership, Practice, User
from optihub.domain import scopes as scope_registry
from optihub.services import oauth_tokens, staff_sessions, users
from optihub.web import DbSession, database

templates = shell.templates_for(Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)

# What pages add to the headers every response carries (``web.SECURITY_HEADERS``: the
# content security policy, no framing, no referrer, nosniff).
PAGE_HEADERS = {"Cache-Control": "no-store"}


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
    *,
    place: shell.Workplace | None = None,
) -> HTMLResponse:
    """A page; with ``place`` (the account pages) it is drawn in the staff shell."""
    context = {
        "csrf_token": csrf_token(request),
        "user_email": request.session.get("email"),
        **shell.context(place, "account"),
        **context,
    }
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(PAGE_HEADERS)
    return response


def see_other(url: str) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    response.headers.update(PAGE_HEADERS)
    return response


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def check_csrf(request: Request, form: dict[str, str]) -> Response | None:
    expected = request.session.get("csrf")
    given = form.get("csrf_token", "")
    if not expected or not secrets.compare_digest(str(expected), given):
        return render(
            request,
            "error.html",
            {
                "title": "Form expired",
                "message": (
                    "The form expired or came from elsewhere. "
                    "Go back, reload the page and try again."
                ),
            },
            status_code=403,
        )
    return None


# What the cookie holds about who is signed in (the CSRF token outlives them).
IDENTITY_KEYS = ("session_id", "email", "reveal")


def signed_in_user(request: Request, session: Session) -> User | None:
    """The user of the cookie's server-side session, if it is still live. A cookie whose
    session ended (sign-out, expiry) is cleared of its identity in the response."""
    session_id = request.session.get("session_id")
    if not session_id:
        return None
    user = staff_sessions.signed_in_user(session, str(session_id))
    if user is None:
        for key in IDENTITY_KEYS:
            request.session.pop(key, None)
    return user


def safe_next(value: str | None) -> str:
    """Only same-site relative paths: never an open redirect."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/dashboard/orders"


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return see_other("/login?" + urlencode({"next": target}))


@router.get("/login")
def login_page(request: Request, next: str = "") -> HTMLResponse:
    return render(request, "login.html", {"next": safe_next(next), "error": None})


@router.post("/login")
def login(request: Request, params: Params, session: DbSession) -> Response:
    form = dict(params["form"])
    if (refused := check_csrf(request, form)) is not None:
        return refused
    email = form.get("email", "").strip()
    password = form.get("password", "")
    address = request.client.host if request.client else "unknown"
    throttle: LoginThrottle = request.app.state.login_throttle
    wait = throttle.retry_after(email, address)
    if wait:
        response = render(
            request,
            "login.html",
            {
                "next": safe_next(form.get("next")),
                "email": email,
                "error": f"Too many failed sign-ins. Try again in {max(1, wait // 60)} minute(s).",
            },
            status_code=429,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    user = users.authenticate(session, email, password)
    if user is None:
        throttle.failed(email, address)
        return render(
            request,
            "login.html",
            {
                "next": safe_next(form.get("next")),
                "email": email,
                "error": "That email and password don't match an account.",
            },
            status_code=401,
        )
    throttle.succeeded(email)
    if previous := request.session.get("session_id"):
        staff_sessions.end(session, str(previous))
    request.session.clear()
    request.session.update(
        {
            "session_id": staff_sessions.start(session, user.id),
            "email": user.email,
            "csrf": secrets.token_urlsafe(32),
        }
    )
    return see_other(safe_next(form.get("next")))


@router.post("/logout")
def logout(request: Request, params: Params, session: DbSession) -> Response:
    """End the session on the server (every copy of the cookie) and clear the cookie."""
    if (refused := check_csrf(request, dict(params["form"]))) is not None:
        return refused
    if session_id := request.session.get("session_id"):
        staff_sessions.end(session, str(session_id))
    request.session.clear()
    return see_other("/login")


def _memberships(session: Session, user: User) -> list[Practice]:
    from sqlalchemy import select

    return list(
        session.scalars(
            select(Practice)
            .join(Membership, Membership.practice_id == Practice.id)
            .where(Membership.user_id == user.id)
            .order_by(Practice.name)
        )
    )


def _authorization_error(request: Request, error: OAuth2Error) -> Response:
    """Redirect the error to the app when its redirect URI is trusted, else show it here."""
    status, _body, headers = server_of(request).handle_response(*error())
    location = dict(headers).get("Location")
    if location and status in (302, 303):
        return see_other(location)
    return render(
        request,
        "error.html",
        {
            "title": "This sign-in link is not valid",
            "message": f"{error.error}: {error.description or 'the request was refused'}",
        },
        status_code=400,
    )


@router.get("/oauth/authorize")
def authorize_page(request: Request, params: Params, session: DbSession) -> Response:
    user = signed_in_user(request, session)
    oauth = oauth_request(request, params, session)
    server = server_of(request)
    try:
        grant = server.get_consent_grant(oauth, end_user=user)
    except OAuth2Error as error:
        return _authorization_error(request, error)
    if user is None:
        return login_redirect(request)
    practices = _memberships(session, user)
    if not practices:
        return render(
            request,
            "error.html",
            {
                "title": "No practice",
                "message": "Your account belongs to no practice, so there is nothing to grant.",
            },
            403,
        )
    return render(
        request,
        "consent.html",
        {
            "app_name": grant.client.row.name,
            "scopes": scope_registry.describe(oauth.payload.scope or ""),
            "practices": practices,
            "params": params["query"],
        },
    )


@router.post("/oauth/authorize")
def authorize_decision(request: Request, params: Params, session: DbSession) -> Response:
    form = dict(params["form"])
    if (refused := check_csrf(request, form)) is not None:
        return refused
    user = signed_in_user(request, session)
    if user is None:
        return see_other("/login")
    # The original authorization parameters come back as hidden fields.
    decision_fields = {"csrf_token", "decision", "practice_id"}
    protocol = [(k, v) for k, v in params["form"] if k not in decision_fields]
    oauth = oauth_request(request, {"query": protocol, "form": []}, session)
    server = server_of(request)
    try:
        grant = server.get_consent_grant(oauth, end_user=user)
    except OAuth2Error as error:
        return _authorization_error(request, error)
    approved = form.get("decision") == "approve"
    if approved:
        member_of = {p.id for p in _memberships(session, user)}
        chosen = form.get("practice_id", "")
        if not chosen.isdigit() or int(chosen) not in member_of:
            return render(
                request,
                "error.html",
                {"title": "Choose a practice", "message": "Pick one of your practices to grant."},
                400,
            )
        oauth.granted_practice_ids = [int(chosen)]
        oauth_tokens.record_consent(
            session,
            user_id=user.id,
            client_id=grant.client.get_client_id(),
            practice_id=int(chosen),
            scope=oauth.payload.scope or "",
        )
    _status, _body, headers = server.create_authorization_response(
        oauth, grant_user=user if approved else None, grant=grant
    )
    location = dict(headers).get("Location", "/")
    return see_other(location)


@router.get("/account/apps")
def connected_apps(request: Request, session: DbSession) -> Response:
    user = signed_in_user(request, session)
    if user is None:
        return login_redirect(request)
    rows = [
        {
            "client_id": client.client_id,
            "name": client.name,
            "practice": practice.name,
            "granted_at": consent.granted_at,
            "scopes": scope_registry.describe(consent.scope),
        }
        for consent, client, practice in oauth_tokens.connected_apps(session, user.id)
    ]
    return render(
        request,
        "apps.html",
        {"apps": rows, "title": "Connected apps"},
        place=shell.workplace(request, session, user),
    )


@router.post("/account/apps/{client_id}/revoke")
def revoke_app(client_id: str, request: Request, params: Params, session: DbSession) -> Response:
    if (refused := check_csrf(request, dict(params["form"]))) is not None:
        return refused
    user = signed_in_user(request, session)
    if user is None:
        return see_other("/login")
    oauth_tokens.revoke_app(session, user.id, client_id)
    session.flush()
    return see_other("/account/apps")


def take_new_app(request: Request) -> dict[str, Any] | None:
    """The app registered just before, with its secret, once: taken from the server in its
    own write transaction (the page's own is read-only) and gone from there."""
    reveal_id = request.session.pop("reveal", None)
    if not reveal_id:
        return None
    with database(request).transaction() as writer:
        payload = staff_sessions.take_secret(
            writer, str(request.session["session_id"]), str(reveal_id)
        )
    if payload is None:
        return None
    new_app: dict[str, Any] = json.loads(request.app.state.instance_key.decrypt(payload))
    return new_app


SESSION_COOKIE = "optihub_session"
SESSION_MAX_AGE = 8 * 3600


class SessionCookie:
    """Reads the pages' session cookie as ``SessionMiddleware`` does (same signer, same
    maximum age), for a hot route that answers before the middleware runs."""

    def __init__(self, secret_key: str) -> None:
        self.signer = itsdangerous.TimestampSigner(secret_key)

    def decode(self, data: bytes) -> dict[str, Any] | None:
        """The session a cookie's value carries (None: unsigned, expired or unreadable)."""
        try:
            found = json.loads(b64decode(self.signer.unsign(data, max_age=SESSION_MAX_AGE)))
        except (itsdangerous.BadSignature, ValueError):
            return None
        return found if isinstance(found, dict) else None


def install(app: FastAPI) -> None:
    settings = app.state.settings
    app.state.login_throttle = LoginThrottle(settings.redis_url)
    secret_key = app.state.instance_key.derive("session-cookie")
    app.state.session_cookie = SessionCookie(str(secret_key))
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=urlsplit(settings.issuer).scheme == "https",
    )
    app.include_router(router)
