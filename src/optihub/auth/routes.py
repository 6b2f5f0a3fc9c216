"""OAuth / OIDC endpoints and metadata. Errors are RFC 6749 JSON, never a stack trace."""

from __future__ import annotations

import json
from typing import Annotated, Any

from authlib.common.security import is_secure_transport
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from optihub.auth.oauth_session import use_session
from optihub.auth.resource import Principal, require_scopes
from optihub.auth.schemas import (
    IntrospectionResponse,
    RevocationResponse,
    TokenResponse,
    UserInfo,
    error_response,
)
from optihub.auth.server import OAuthRequest, OptiHubAuthorizationServer, user_claims
from optihub.db.models import User
from optihub.domain import scopes as scope_registry
from optihub.errors import AuthError, BadRequest, Forbidden
from optihub.problems import Problem
from optihub.web import DbSession

router = APIRouter(tags=["OAuth 2.1 / OpenID Connect"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

# What each endpoint can answer, for the OpenAPI document. Client authentication failures are
# 401 when the client tried HTTP Basic (or sent no credentials at all), 400 when a client_id
# in the form names no registered app. Authlib answers an unknown token_type_hint with 401.
# A form body that cannot be parsed is 400 invalid_request everywhere.
TOKEN_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": TokenResponse,
        "description": "Tokens issued (sent with Cache-Control: no-store)",
    },
    400: error_response(
        "invalid_request (missing, repeated or malformed parameter, unparseable form body; "
        "PKCE missing or not S256), "
        "invalid_client (unknown client_id), invalid_grant (code or refresh token unknown, "
        "expired, used, or issued to another app; redirect_uri or code_verifier mismatch), "
        "unauthorized_client (grant not allowed for this app, or no practice connected it), "
        "unsupported_grant_type, invalid_scope"
    ),
    401: error_response(
        "invalid_client: client authentication failed (with WWW-Authenticate when the app "
        "used HTTP Basic)"
    ),
}
REVOCATION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": RevocationResponse,
        "description": "Revoked, or the token was unknown: the answer is the same (RFC 7009)",
    },
    400: error_response(
        "invalid_request (no token, unparseable form body), invalid_client (unknown "
        "client_id), invalid_grant (the token was issued to another app)"
    ),
    401: error_response(
        "invalid_client (client authentication failed), unsupported_token_type "
        "(token_type_hint is neither access_token nor refresh_token)"
    ),
}
INTROSPECTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": IntrospectionResponse,
        "description": 'The token\'s state; {"active": false} when it is unknown, expired, '
        "revoked or issued to another app (sent with Cache-Control: no-store)",
    },
    400: error_response(
        "invalid_request (no token, unparseable form body), invalid_client (unknown client_id)"
    ),
    401: error_response(
        "invalid_client (client authentication failed; confidential apps only), "
        "unsupported_token_type (token_type_hint is neither access_token nor refresh_token)"
    ),
}
BEARER_CHALLENGE = {
    "WWW-Authenticate": {
        "description": "RFC 6750 Bearer challenge naming the error",
        "schema": {"type": "string"},
    }
}
USERINFO_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": UserInfo, "description": "The claims the token's scopes release"},
    401: error_response(
        "invalid_token (no bearer token, or it is malformed, expired, revoked or its user is "
        "gone), invalid_request (access token sent in the query string)"
    )
    | {"headers": BEARER_CHALLENGE},
    403: error_response("insufficient_scope: the token lacks the openid scope")
    | {"headers": BEARER_CHALLENGE},
}
CLIENT_AUTH_FIELDS: dict[str, Any] = {
    "client_id": {"type": "string", "description": "With client_secret_post or public apps"},
    "client_secret": {"type": "string", "description": "client_secret_post"},
}


def form_body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """An ``application/x-www-form-urlencoded`` request body for ``openapi_extra``."""
    schema = {"type": "object", "properties": properties, "required": required}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": schema}},
        }
    }


TOKEN_FORM = form_body(
    {
        "grant_type": {
            "type": "string",
            "enum": ["authorization_code", "refresh_token", "client_credentials"],
        },
        "code": {"type": "string", "description": "authorization_code"},
        "redirect_uri": {"type": "string", "description": "authorization_code"},
        "code_verifier": {"type": "string", "description": "authorization_code (PKCE)"},
        "refresh_token": {"type": "string", "description": "refresh_token"},
        "scope": {"type": "string", "description": "Space-separated; narrows the grant"},
        "practice_id": {
            "type": "string",
            "description": "client_credentials (OptiHub): one of the connected practices",
        },
        **CLIENT_AUTH_FIELDS,
    },
    ["grant_type"],
)
TOKEN_QUERY_FORM = form_body(
    {
        "token": {"type": "string"},
        "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
        **CLIENT_AUTH_FIELDS,
    },
    ["token"],
)


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


def endpoint_request(request: Request, params: dict[str, Any], session: Session) -> OAuthRequest:
    """The token, revocation and introspection endpoints speak only over https (or loopback).

    Refused here as a client error; behind a TLS-terminating proxy the forwarded scheme counts.
    """
    if not is_secure_transport(str(request.url)):
        raise BadRequest(
            "OAuth endpoints must be called over https (plain http only on a loopback address)",
            code="insecure_transport",
        )
    return oauth_request(request, params, session)


def client_credentials_token(
    request: Request,
    session: Session,
    *,
    client_id: str,
    client_secret: str,
    scopes: frozenset[str],
    ttl: int,
) -> str:
    """An access token from the client-credentials grant, for dialects that front it with
    their own token call (JSON in, their own shape out). The app must be connected to exactly
    one practice; the token carries the scopes of ``scopes`` (the dialect's own) that the
    app is registered for, never its others, and lives ``ttl`` seconds.

    Raises ``AuthError`` (401 ``invalid_client``) for unknown apps or wrong secrets,
    ``Forbidden`` ``insufficient_scope`` when the app is registered for none of ``scopes``,
    and ``BadRequest`` when the app is connected to no practice or to several.
    """
    from optihub.services import oauth_clients

    row = oauth_clients.get_client(session, client_id)
    if row is None or row.is_public:
        raise AuthError(401, "invalid_client", "Unknown client_id or wrong client_secret")
    granted = [scope for scope in row.scope.split() if scope in scopes]
    if not granted:
        raise Forbidden(
            "This app is not registered for this API's scopes "
            f"({', '.join(sorted(scopes))}): register it with them",
            code="insufficient_scope",
        )
    connected = oauth_clients.connected_practice_ids(session, row)
    if len(connected) != 1:
        raise BadRequest(
            "This app is connected to no practice"
            if not connected
            else "This app is connected to several practices; connect it to one for this API",
            code="practice_not_connected" if not connected else "several_practices",
        )
    form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", client_secret),
        ("scope", " ".join(granted)),
    ]
    oauth = endpoint_request(request, {"query": [], "form": form}, session)
    oauth.access_ttl = ttl
    status, body, _headers = server_of(request).create_token_response(oauth)
    payload = json.loads(body) if isinstance(body, str) else body
    if status != 200:
        raise AuthError(401, "invalid_client", "Unknown client_id or wrong client_secret")
    return str(payload["access_token"])


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
    "/oauth/token",
    summary="Token endpoint (authorization_code, refresh_token, client_credentials)",
    responses=TOKEN_RESPONSES,
    openapi_extra=TOKEN_FORM,
)
def token(request: Request, params: Params, session: DbSession) -> Response:
    server = server_of(request)
    oauth = endpoint_request(request, params, session)
    return to_response(server.create_token_response(oauth), no_store=True)


@router.post(
    "/oauth/revoke",
    summary="Token revocation (RFC 7009)",
    responses=REVOCATION_RESPONSES,
    openapi_extra=TOKEN_QUERY_FORM,
)
def revoke(request: Request, params: Params, session: DbSession) -> Response:
    oauth = endpoint_request(request, params, session)
    # Resource servers see the revocation at their next revocation-list refresh (≤ 2 s).
    return to_response(server_of(request).create_endpoint_response("revocation", oauth))


@router.post(
    "/oauth/introspect",
    summary="Token introspection (RFC 7662); the caller authenticates",
    responses=INTROSPECTION_RESPONSES,
    openapi_extra=TOKEN_QUERY_FORM,
)
def introspect(request: Request, params: Params, session: DbSession) -> Response:
    oauth = endpoint_request(request, params, session)
    return to_response(
        server_of(request).create_endpoint_response("introspection", oauth), no_store=True
    )


@router.get("/oauth/jwks", summary="Public signing keys (JWKS)")
def jwks(request: Request) -> Response:
    return JSONResponse(
        request.app.state.tokens.keyring.jwks(), headers={"Cache-Control": "max-age=300"}
    )


OpenId = Annotated[Principal, Depends(require_scopes("openid"))]


@router.get(
    "/oauth/userinfo",
    summary="OpenID Connect UserInfo",
    operation_id="userinfo_get",
    responses=USERINFO_RESPONSES,
)
@router.post(
    "/oauth/userinfo",
    summary="OpenID Connect UserInfo",
    operation_id="userinfo_post",
    responses=USERINFO_RESPONSES,
)
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


def oauth_error_body(problem: Problem) -> Response:
    """RFC 6749 / 6750 error bodies for the /oauth endpoints."""
    if isinstance(problem.exception, AuthError):
        return JSONResponse(
            {"error": problem.code, "error_description": problem.message},
            status_code=problem.status,
            headers=problem.headers,
        )
    if problem.status >= 500:
        return JSONResponse({"error": "server_error"}, status_code=500)
    if isinstance(problem.exception, RequestValidationError):
        return JSONResponse({"error": "invalid_request"}, status_code=400)
    return JSONResponse(
        {"error": "invalid_request", "error_description": problem.message},
        status_code=problem.status,
        headers=problem.headers,
    )


def install(app: FastAPI) -> None:
    from optihub.auth.pages import install as install_pages

    app.state.oauth_server = OptiHubAuthorizationServer(app.state.tokens)
    app.include_router(router)
    app.state.surfaces.add_error_body("/oauth", oauth_error_body)
    install_pages(app)
