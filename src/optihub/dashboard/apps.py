"""Apps: what has access to the practice, and the user's own developer apps.

- *Apps with access to this practice*: the apps the practice connected (they act for it on
  their own, with client credentials: ``services.oauth_clients.connect_client``) and those
  its users granted at consent. A manager or owner connects a registered app by its client
  id and disconnects any of them (which also ends the app's live tokens for the practice).
- *Your developer apps*: the apps the signed-in user registered, how each proves who it
  is (a secret, its own keys, or none: a public app), and the form to register one; a
  confidential app's secret is shown once, on the page after registering (it waits on the
  server, encrypted: ``services.staff_sessions.keep_secret``/``take_secret``). An app that
  signs its token requests with its own keys (``private_key_jwt``, SMART Backend Services)
  is registered with its public key set, pasted, or the address where it publishes it.

Scopes are shown in plain words (``domain.scopes``), grouped by the API (dialect) they
belong to. ``/account/developer`` was the developer page: its address now leads here, and
its form still registers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from optihub.auth.pages import check_csrf, login_redirect, see_other, signed_in_user
from optihub.auth.pages import take_new_app as take_revealed_app
from optihub.auth.routes import Params
from optihub.dashboard.common import (
    actor,
    may,
    not_found,
    render,
    staff_action,
    staff_page,
)
from optihub.domain import scopes as scope_registry
from optihub.errors import FieldError, NotFound, ValidationFailed
from optihub.services import oauth_clients, staff_sessions
from optihub.services.client_keys import PRIVATE_KEY_JWT
from optihub.shell import Workplace
from optihub.web import DbSession

router = APIRouter(include_in_schema=False)

APPS = "/dashboard/apps"
SECTION = "apps"

# Groups of scopes that are no dialect of their own, and dialects' names when the app was
# built without them (each installed dialect names itself: ``Surface.title``).
GROUP_TITLES = {
    "identity": "Who you are (sign-in)",
    "partner": "Partner API",
    "practice": "Practice management API",
    "labs": "Lab ordering API",
    "fulfillment": "Fulfillment API",
    "portal": "Patient portal sync",
}


@dataclass(frozen=True)
class ScopeGroup:
    key: str
    title: str
    scopes: tuple[scope_registry.Scope, ...]


def group_titles(request: Request) -> dict[str, str]:
    surfaces = getattr(request.app.state, "surfaces", None) or ()
    return GROUP_TITLES | {s.name: s.title for s in surfaces if getattr(s, "title", "")}


def scope_groups(names: str | None, titles: dict[str, str]) -> list[ScopeGroup]:
    """The scopes among ``names`` (None: every scope) grouped by their dialect, in the
    registry's order."""
    chosen = scope_registry.SCOPES if names is None else scope_registry.describe(names)
    groups: dict[str, list[scope_registry.Scope]] = {}
    for scope in chosen:
        groups.setdefault(scope.surface, []).append(scope)
    return [
        ScopeGroup(key, titles.get(key, key.capitalize()), tuple(scopes))
        for key, scopes in groups.items()
    ]


CLIENT_TYPES = ("confidential", "keys", "public")
# Longer than any key set taken (services.client_keys.MAX_KEY_SET_BYTES), so a pasted set
# that is too long is refused as such rather than cut into invalid JSON.
MAX_PASTED_KEY_SET = 70_000


@dataclass
class AppForm:
    """The registration form as typed (kept as typed when it is refused)."""

    name: str = ""
    redirect_uris: str = ""
    scopes: tuple[str, ...] = ()
    client_type: str = "confidential"
    jwks: str = ""
    jwks_uri: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def uris(self) -> list[str]:
        return [u.strip() for u in self.redirect_uris.splitlines() if u.strip()]

    def refuse(self, key: str, message: str) -> None:
        if message not in self.errors.get(key, []):
            self.errors.setdefault(key, []).append(message)


def _form_of(pairs: list[tuple[str, str]]) -> AppForm:
    form = dict(pairs)
    client_type = form.get("client_type", "")
    return AppForm(
        name=form.get("name", "")[:200],
        redirect_uris=form.get("redirect_uris", "")[:5000],
        scopes=tuple(v for k, v in pairs if k == "scope"),
        client_type=client_type if client_type in CLIENT_TYPES else "confidential",
        jwks=form.get("jwks", "")[:MAX_PASTED_KEY_SET],
        jwks_uri=form.get("jwks_uri", "").strip()[:2000],
    )


def _keys_of(form: AppForm) -> dict[str, Any]:
    """The key arguments of ``register_client`` for what the form says, the form's own
    refusals recorded on it (keys given for a secret or public app, or none for a key app)."""
    pasted, address = form.jwks.strip(), form.jwks_uri
    if form.client_type != "keys":
        if pasted or address:
            form.refuse(
                "client_type",
                "You gave the app's public keys: choose “With its own keys” as the way it "
                "proves who it is, or clear the keys.",
            )
        return {}
    if not pasted and not address:
        form.refuse(
            "jwks",
            "Paste the app's public key set, or give the web address where the app publishes it.",
        )
        return {}
    if pasted and address:
        form.refuse(
            "jwks",
            "Give the app's public key set or the address where it publishes it, not both.",
        )
        return {}
    return {"jwks": pasted} if pasted else {"jwks_uri": address}


@dataclass(frozen=True)
class Authenticates:
    """How an app proves who it is, in words, for the lists."""

    words: str
    detail: str = ""
    address: str = ""


def authenticates(client: Any) -> Authenticates:
    if client.is_public:
        return Authenticates("Public (PKCE)", "No secret: its users sign in to it.")
    if client.token_endpoint_auth_method == PRIVATE_KEY_JWT:
        if client.jwks_uri:
            return Authenticates(
                "Its own keys",
                "Signs its requests; its public keys are published at",
                client.jwks_uri,
            )
        count = _key_count(client.jwks)
        return Authenticates(
            "Its own keys",
            f"Signs its requests; {count} public key{'s' if count != 1 else ''} registered here.",
        )
    return Authenticates("Confidential (secret)", "Sends its secret to get tokens.")


def _key_count(jwks: str | None) -> int:
    try:
        keys = json.loads(jwks or "{}").get("keys", [])
    except (ValueError, AttributeError):
        return 0
    return len(keys) if isinstance(keys, list) else 0


def _plain(error: FieldError, uris: list[str]) -> tuple[str, str]:
    """(the form field, the problem in plain words) of one refusal of ``register_client``."""
    if error.field.startswith("redirect_uris["):
        index = error.field[len("redirect_uris[") : -1]
        uri = uris[int(index)] if index.isdigit() and int(index) < len(uris) else ""
        if "https" in error.message:
            return "redirect_uris", (
                f"{uri} must use https (plain http only for this computer: localhost or 127.0.0.1)."
            )
        return "redirect_uris", (
            f"{uri or 'A redirect URI'} is not a full web address: write it like "
            "https://app.example/callback, without a # part."
        )
    if error.field == "scope":
        if error.message.startswith("Unknown"):
            return "scope", "Choose what the app may do from the list."
        return "scope", "Choose at least one thing the app may do."
    if error.field == "name":
        return "name", "Give the app a name (people see it when they grant it access)."
    if error.field == "jwks":
        return "jwks", f"The public key set: {error.message}"
    if error.field == "jwks_uri":
        return "jwks_uri", (
            f"The key set's address: {error.message} Give an https address the app's "
            "server answers on."
        )
    return error.field, error.message


def _developer_apps(session: Session, place: Workplace) -> list[Any]:
    return oauth_clients.clients_owned_by(session, place.user.id)


def _page(
    request: Request,
    session: Session,
    place: Workplace,
    *,
    form: AppForm | None = None,
    connect_value: str = "",
    connect_error: str | None = None,
    created: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    titles = group_titles(request)
    practice_apps = oauth_clients.practice_apps(session, place.practice_id)
    mine = _developer_apps(session, place)
    connected_ids = {row.client.client_id for row in practice_apps if row.connected}
    form = form or AppForm()
    return render(
        request,
        place,
        "apps.html",
        {
            "title": "Apps",
            "practice_apps": [
                {
                    "row": row,
                    "groups": scope_groups(row.scope, titles),
                    "authenticates": authenticates(row.client),
                }
                for row in practice_apps
            ],
            "developer_apps": [
                {
                    "client": client,
                    "groups": scope_groups(client.scope, titles),
                    "connected_here": client.client_id in connected_ids,
                    "authenticates": authenticates(client),
                }
                for client in mine
            ],
            "all_groups": scope_groups(None, titles),
            "form": form,
            "error_count": sum(len(v) for v in form.errors.values()),
            "connect_value": connect_value,
            "connect_error": connect_error,
            "created": created,
            "can_connect": may(place, "manager"),
        },
        section=SECTION,
        status_code=status_code,
    )


@router.get(APPS)
def apps_page(request: Request, session: DbSession) -> Response:
    place = staff_page(request, session)
    if isinstance(place, Response):
        return place
    return _page(request, session, place, created=take_revealed_app(request))


@router.post(APPS + "/connect")
def connect_app(request: Request, params: Params, session: DbSession) -> Response:
    form = dict(params["form"])
    place = staff_action(request, form, session, "manager", SECTION)
    if isinstance(place, Response):
        return place
    client_id = form.get("client_id", "").strip()[:100]
    if not client_id:
        return _page(
            request,
            session,
            place,
            connect_error="Enter the app's client id (it starts with app_).",
            status_code=400,
        )
    try:
        client, new = oauth_clients.connect_client(session, actor(place), client_id)
    except ValidationFailed as failure:
        return _page(
            request,
            session,
            place,
            connect_value=client_id,
            connect_error=failure.errors[0].message,
            status_code=400,
        )
    request.session["flash"] = (
        f"{client.name} is connected: it can now act for {place.current.practice_name}."
        if new
        else f"{client.name} was already connected to {place.current.practice_name}."
    )
    return see_other(APPS)


@router.post(APPS + "/{client_id}/disconnect")
def disconnect_app(
    client_id: str, request: Request, params: Params, session: DbSession
) -> Response:
    place = staff_action(request, dict(params["form"]), session, "manager", SECTION)
    if isinstance(place, Response):
        return place
    try:
        client = oauth_clients.disconnect_client(session, actor(place), client_id)
    except NotFound:
        return not_found(request, place, "app", SECTION)
    request.session["flash"] = (
        f"{client.name} is disconnected: it no longer has access to {place.current.practice_name}."
    )
    return see_other(APPS)


def _register(request: Request, params: Params, session: Session) -> Response:
    pairs = list(params["form"])
    if (refused := check_csrf(request, dict(pairs))) is not None:
        return refused
    place = staff_page(request, session)
    if isinstance(place, Response):
        return place
    form = _form_of(pairs)
    uris = form.uris
    keys = _keys_of(form)
    fields: dict[str, Any] = {
        "name": form.name,
        "scope": " ".join(form.scopes),
        "redirect_uris": uris,
        "public": form.client_type == "public",
        "allowed_hosts": request.app.state.settings.webhook_allowed_hosts,
        **keys,
    }
    try:
        if form.errors:  # the form's own refusals: the rest is checked, nothing written
            raise ValidationFailed(oauth_clients.registration_problems(**fields))
        registered = oauth_clients.register_client(session, owner_user_id=place.user.id, **fields)
    except ValidationFailed as failure:
        for error in failure.errors:
            form.refuse(*_plain(error, uris))
        return _page(request, session, place, form=form, status_code=400)
    new_app = {
        "client_id": registered.client.client_id,
        "client_secret": registered.client_secret,
        "name": registered.client.name,
        "signs_with_keys": registered.client.token_endpoint_auth_method == PRIVATE_KEY_JWT,
    }
    request.session["reveal"] = staff_sessions.keep_secret(
        session,
        str(request.session["session_id"]),
        request.app.state.instance_key.encrypt(json.dumps(new_app)),
    )
    return see_other(APPS)


@router.post(APPS + "/register")
def register_app(request: Request, params: Params, session: DbSession) -> Response:
    """Register an app owned by the signed-in user; the page after shows its secret once."""
    return _register(request, params, session)


@router.get("/account/developer")
def old_developer_page(request: Request, session: DbSession) -> Response:
    """The developer page's old address (bookmarks): the apps page."""
    if signed_in_user(request, session) is None:
        return login_redirect(request)
    return see_other(APPS)


@router.post("/account/developer")
def old_register_app(request: Request, params: Params, session: DbSession) -> Response:
    """The old developer page's form: registers as the apps page does."""
    return _register(request, params, session)
