"""OAuth / OIDC endpoints and metadata. Errors are RFC 6749 JSON, never a stack trace."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from optihub.auth import scopes as scope_registry
from optihub.auth.context import use_session
from optihub.auth.resource import AuthError, Principal, require_scopes
from optihub.auth.server import OAuthRequest, OptiHubAuthorizationServer, user_claims
from optihub.db.models import User
from optihub.web import DbSession

router = APIRouter(tags=["OAuth 2.1 / OpenID Connect"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def parsed_params(request: Request) -> dict[str, list[tuple[str, str]]]:
    """Query and form pairs, read before the sync route runs (Authlib is synchronous)."""
    form: list[tuple[str, str]] = []
    if request.method == "POST":
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            data = await request.form()
            form = [(k, v) for k, v in data.multi_items() if isinstance(v, str)]
    return {"query": list(request.query_params.multi_items()), "form": form}


Params = Annotated[dict[str, list[tuple[str, str]]], Depends(parsed_params)]


def oauth_request(request: Request, params: dict[str, Any], session: Session) -> OAuthRequest:
    use_session(session)
    return OAuthRequest(
        method=request.method,
        uri=str(request.url),
        headers=request.headers,
        query=params["query"],
        form=params["form"],
        session=session,
    )


def server_of(request: Request) -> OptiHubAuthorizationServer:
    return request.app.state.oauth_server  # type: ignore[no-any-return]


def to_response(
    result: tuple[int, Any, list[tuple[str, str]]], *, no_store: bool = False
) -> Response:
    status, body, headers = result
    header_map = dict(headers)
    header_map.pop("Content-Type", None)
    if no_store:
        header_map.update(NO_STORE)
    if isinstance(body, str):
        body = json.loads(body) if body else {}
    return JSONResponse(body, status_code=status, headers=header_map)


@router.post(
    "/oauth/token", summary="Token endpoint (authorization_code, refresh_token, client_credentials)"
)
def token(request: Request, params: Params, session: DbSession) -> Response:
    server = server_of(request)
    oauth = oauth_request(request, params, session)
    return to_response(server.create_token_response(oauth), no_store=True)


@router.post("/oauth/revoke", summary="Token revocation (RFC 7009)")
def revoke(request: Request, params: Params, session: DbSession) -> Response:
    oauth = oauth_request(request, params, session)
    # Resource servers see the revocation at their next revocation-list refresh (≤ 2 s).
    return to_response(server_of(request).create_endpoint_response("revocation", oauth))


@router.post(
    "/oauth/introspect", summary="Token introspection (RFC 7662); the caller authenticates"
)
def introspect(request: Request, params: Params, session: DbSession) -> Response:
    oauth = oauth_request(request, params, session)
    return to_response(
        server_of(request).create_endpoint_response("introspection", oauth), no_store=True
    )


@router.get("/oauth/jwks", summary="Public signing keys (JWKS)")
def jwks(request: Request) -> Response:
    return JSONResponse(
        request.app.state.tokens.keyring.jwks(), headers={"Cache-Control": "max-age=300"}
    )


OpenId = Annotated[Principal, Depends(require_scopes("openid"))]


@router.get("/oauth/userinfo", summary="OpenID Connect UserInfo", operation_id="userinfo_get")
@router.post("/oauth/userinfo", summary="OpenID Connect UserInfo", operation_id="userinfo_post")
def userinfo(principal: OpenId, session: DbSession) -> Response:
    import uuid

    try:
        user = session.get(User, uuid.UUID(principal.subject))
    except ValueError:
        user = None
    if user is None or not user.is_active:
        raise AuthError(401, "invalid_token", "The token's user no longer exists")
    claims = {"sub": str(user.id), **user_claims(user, " ".join(principal.scopes))}
    return JSONResponse(claims, headers=NO_STORE)


def metadata(request: Request) -> dict[str, Any]:
    issuer = request.app.state.settings.issuer
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "userinfo_endpoint": f"{issuer}/oauth/userinfo",
        "jwks_uri": f"{issuer}/oauth/jwks",
        "scopes_supported": [s.name for s in scope_registry.SCOPES],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "authorization_response_iss_parameter_supported": True,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "at_hash",
            "email",
            "email_verified",
            "name",
            "given_name",
            "family_name",
        ],
        "service_documentation": f"{issuer}/docs",
    }


@router.get("/.well-known/oauth-authorization-server", summary="RFC 8414 metadata")
def oauth_metadata(request: Request) -> JSONResponse:
    return JSONResponse(metadata(request))


@router.get("/.well-known/openid-configuration", summary="OpenID Connect discovery")
def openid_configuration(request: Request) -> JSONResponse:
    return JSONResponse(metadata(request))


def oauth_error_renderer(request: Request, exc: Exception) -> Response:
    """RFC 6749 / 6750 error bodies for the /oauth endpoints."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    if isinstance(exc, AuthError):
        return JSONResponse(
            {"error": exc.error, "error_description": exc.description},
            status_code=exc.status_code,
            headers={"WWW-Authenticate": exc.www_authenticate},
        )
    if isinstance(exc, RequestValidationError):
        return JSONResponse({"error": "invalid_request"}, status_code=400)
    if isinstance(exc, HTTPException):
        return JSONResponse(
            {"error": "invalid_request", "error_description": str(exc.detail)},
            status_code=exc.status_code,
        )
    return JSONResponse({"error": "server_error"}, status_code=500)


def install(app: FastAPI) -> None:
    from optihub.auth.pages import install as install_pages

    app.state.oauth_server = OptiHubAuthorizationServer(app.state.tokens)
    app.include_router(router)
    app.state.error_renderers.register("/oauth", oauth_error_renderer)
    install_pages(app)
