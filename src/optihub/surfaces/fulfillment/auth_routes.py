"""``/auth``: the dialect's sign-in, a front for OptiHub's users and token service
(``services.fulfillment_auth``): login, refresh (the refresh token as bearer) and verify."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from optihub.auth.resource import Principal, require_scopes
from optihub.auth.routes import attempts_of
from optihub.errors import AuthError
from optihub.services import fulfillment_auth
from optihub.surfaces import kit
from optihub.surfaces.fulfillment import schemas
from optihub.surfaces.fulfillment.projection import timestamp
from optihub.web import DbSession, database

router = APIRouter(tags=["Fulfillment API (Blend dialect)"])

FulfillmentRead = Annotated[Principal, Depends(require_scopes("fulfillment:read"))]


def user(info: fulfillment_auth.UserInfo) -> dict[str, Any]:
    return {
        "id": str(info.id),
        "email": info.email,
        "first_name": info.first_name,
        "last_name": info.last_name,
        "role": info.role,
        "is_active": info.is_active,
        "created_at": timestamp(info.created_at),
        "updated_at": timestamp(info.updated_at),
    }


def access_ttl(request: Request) -> timedelta:
    """``OPTIHUB_ACCESS_TOKEN_TTL_FULFILLMENT``, else the vendor's 60 minutes."""
    documented = int(fulfillment_auth.ACCESS_TTL.total_seconds())
    seconds = request.app.state.settings.token_ttl_for("fulfillment", documented)
    return timedelta(seconds=seconds)


def issued(tokens: fulfillment_auth.Issued) -> Response:
    return kit.json_response(
        {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": timestamp(tokens.expires_at),
            "user": user(tokens.user),
        },
        headers={"Cache-Control": "no-store"},
    )


@router.post(
    "/auth/login",
    response_model=schemas.Tokens,
    summary="Sign in with an OptiHub user's email and password (no token needed)",
)
async def login(request: Request, body: schemas.Login) -> Response:
    # async, no DbSession: a throttled sign-in is refused on the event loop; the service
    # verifies the password in a worker thread (a few at a time, as the token endpoints do:
    # auth.throttle.Attempts) before its short write transaction.
    throttle = request.app.state.login_throttle
    address = request.client.host if request.client else "unknown"
    signed_in = await attempts_of(request).run(
        lambda: fulfillment_auth.refuse_if_throttled(throttle, body.email, address),
        lambda: fulfillment_auth.login(
            database(request),
            request.app.state.tokens,
            body.email,
            body.password,
            throttle=throttle,
            address=address,
            practice_id=body.practice_id,
            access_ttl=access_ttl(request),
        ),
    )
    return issued(signed_in)


@router.post(
    "/auth/refresh",
    response_model=schemas.Tokens,
    summary="A new access token (and refresh token) for the refresh token given as bearer",
    # Its bearer is the refresh token, which no scope dependency checks (apidocs).
    openapi_extra={"security": [{"bearerToken": []}]},
)
def refresh(request: Request, body: schemas.NoBody | None = None) -> Response:
    # No DbSession: the service runs its own transactions (a reused refresh token revokes
    # its family, and that must be kept although the call fails).
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "invalid_token", "Give the refresh token as the bearer token")
    return issued(
        fulfillment_auth.refresh(
            database(request), request.app.state.tokens, token.strip(), access_ttl(request)
        )
    )


@router.get("/auth/verify", response_model=schemas.User, summary="The user the token speaks for")
def verify(principal: FulfillmentRead, session: DbSession) -> Response:
    info = fulfillment_auth.verify(session, principal.subject, principal.practice_ids)
    return kit.json_response(user(info))
