"""OAuth / OIDC endpoints and metadata. Errors are RFC 6749 JSON, never a stack trace.

The endpoints that authenticate clients (token, revocation, introspection, and the
dialects' token calls through ``dialect_token``) verify a presented secret before the
request's transaction begins (``auth.client_auth``), throttling failures. The first three
take a signed client assertion instead (``private_key_jwt``, ``auth.assertions``), verified
at the same point.

Discovery: ``/.well-known/oauth-authorization-server`` (RFC 8414), the same document at
``/.well-known/openid-configuration``, and ``/.well-known/smart-configuration`` (SMART App
Launch 2.x: what a SMART Backend Services client needs to get a token).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from authlib.common.security import is_secure_transport
from authlib.oauth2.rfc6749.errors import InvalidClientError
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from optihub.auth.assertions import SIGNING_ALGORITHMS, AssertionRefused, AssertionVerifier
from optihub.auth.client_auth import (
    ClientAuthenticator,
    Presented,
    PresentedAssertion,
    Verified,
    presented,
    presented_assertion,
)
from optihub.auth.client_keys import ClientKeySource
from optihub.auth.oauth_request import Params, oauth_request, server_of
from optihub.auth.pages import install as install_pages
from optihub.auth.resource import Principal, require_scopes
from optihub.auth.schemas import (
    IntrospectionResponse,
    RevocationResponse,
    TokenResponse,
    UserInfo,
    error_response,
)
from optihub.auth.server import OAuthRequest, OptiHubAuthorizationServer, user_claims
from optihub.auth.throttle import Attempts, ClientAuthThrottle
from optihub.db.models import User
from optihub.domain import scopes as scope_registry
from optihub.errors import AuthError, BadRequest, Forbidden, RateLimited
from optihub.problems import Problem
from optihub.services import oauth_clients
from optihub.web import DbSession, database

router = APIRouter(tags=["OAuth 2.1 / OpenID Connect"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

# What each endpoint can answer, for the OpenAPI document. A client that presents a secret
# and fails (unknown client id or wrong secret: one answer) gets 401; a public client's
# unknown client_id without a secret is 400. Authlib answers an unknown token_type_hint with
# 401. A form body that cannot be parsed is 400 invalid_request everywhere. Repeated failures
# are 429 with Retry-After (per client id and per address).
RATE_LIMITED = error_response(
    "rate_limited: too many failed client authentications for this client id or from this "
    "address; retry after Retry-After seconds"
) | {"headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}}
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
        "invalid_client: client authentication failed (unknown client id or wrong secret; "
        "a client assertion refused, error_description says why), with WWW-Authenticate"
    ),
    429: RATE_LIMITED,
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
    429: RATE_LIMITED,
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
    429: RATE_LIMITED,
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
    "client_assertion_type": {
        "type": "string",
        "enum": ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"],
        "description": "private_key_jwt (RFC 7523)",
    },
    "client_assertion": {
        "type": "string",
        "description": "private_key_jwt: a JWT signed (RS384 or ES384) with one of the app's "
        "registered keys; iss = sub = client id, aud = the token endpoint URL, exp at most "
        "5 minutes ahead, a jti used once",
    },
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


def require_https(request: Request) -> None:
    """The token, revocation and introspection endpoints (and the dialects' token calls)
    speak only over https (or loopback). Refused as a client error; behind a TLS-terminating
    proxy the forwarded scheme counts."""
    if not is_secure_transport(str(request.url)):
        raise BadRequest(
            "OAuth endpoints must be called over https (plain http only on a loopback address)",
            code="insecure_transport",
        )


def address_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def authenticator_of(request: Request) -> ClientAuthenticator:
    return request.app.state.client_authenticator  # type: ignore[no-any-return]


def attempts_of(request: Request) -> Attempts:
    """How this app runs authentication attempts (shared with the fulfillment sign-in)."""
    return request.app.state.auth_attempts  # type: ignore[no-any-return]


# What an endpoint does with the request once its clients are verified, in the transaction.
Respond = Callable[[OAuthRequest], Response]


async def with_verified_clients(request: Request, params: Params, respond: Respond) -> Response:
    """Run an endpoint that authenticates clients (token, revocation, introspection).

    On the event loop: https only, and a client id or address that is throttled is refused
    (429, after a pause) before anything else, taking no worker thread. Then in a worker
    thread, a few at a time (``auth.throttle.Attempts``): every client id and secret the
    request presents is verified, holding no database connection (``auth.client_auth``); a
    failure is 401 ``invalid_client``, the same whether the client id is unknown or the
    secret wrong. Only then does ``respond`` run, in one transaction committed before the
    response is sent; Authlib matches the presented secrets against these verifications
    instead of hashing them again.

    A request that carries a client assertion (``private_key_jwt``) takes the same turns:
    throttled per the client id it claims, then verified in the worker thread (the app's
    key set fetched there when it is published at an address; its jti spent in its own
    short transaction) by ``_asserted_then_respond``.
    """
    require_https(request)
    form = dict(params["form"])
    credentials = presented(request.headers, form)
    authenticator, address = authenticator_of(request), address_of(request)
    assertion = presented_assertion(form)
    if assertion is not None:
        return await attempts_of(request).run(
            lambda: authenticator.refuse_if_throttled(assertion.claimed_client_id, address),
            lambda: _asserted_then_respond(request, params, assertion, credentials, respond),
        )

    def refuse() -> None:
        for pair in credentials:
            authenticator.refuse_if_throttled(pair.client_id, address)

    def attempt() -> Response:
        return _verified_then_respond(request, params, credentials, respond)

    if not credentials:  # a public client, or none: nothing to verify, no turn to wait
        return await run_in_threadpool(attempt)
    return await attempts_of(request).run(refuse, attempt)


def _verified_then_respond(
    request: Request, params: Params, credentials: list[Presented], respond: Respond
) -> Response:
    server = server_of(request)
    verified: dict[str, Verified] = {}
    for pair in credentials:
        found = authenticator_of(request).verify(
            pair.client_id, pair.client_secret, address_of(request)
        )
        if found is None:
            refused = InvalidClientError(
                status_code=401, description="Unknown client or wrong client secret"
            )
            return to_response(server.handle_error_response(None, refused))
        verified[pair.client_id] = found
    with database(request).transaction() as session:
        oauth = oauth_request(request, params, session)
        oauth.verified_clients.update(verified)
        return respond(oauth)


def _asserted_then_respond(
    request: Request,
    params: Params,
    assertion: PresentedAssertion,
    credentials: list[Presented],
    respond: Respond,
) -> Response:
    """``_verified_then_respond`` for a request that presents a client assertion: verified
    (and its jti spent) holding no transaction, then ``respond`` in one transaction."""
    server = server_of(request)
    try:
        if credentials:
            raise AssertionRefused(
                "Authenticate one way only: a client assertion or a client secret, not both"
            )
        verified = authenticator_of(request).verify_assertion(assertion, address_of(request))
    except AssertionRefused as refused:
        error = InvalidClientError(status_code=401, description=refused.reason)
        return to_response(server.handle_error_response(None, error))
    with database(request).transaction() as session:
        oauth = oauth_request(request, params, session)
        oauth.verified_assertion = verified
        return respond(oauth)


async def dialect_token(
    request: Request, *, client_id: str, client_secret: str, scopes: frozenset[str], ttl: int
) -> str:
    """An access token from the client-credentials grant, for a dialect that fronts it with
    its own token call (its own request and response shapes). The app must be connected to
    exactly one practice; the token carries the scopes of ``scopes`` (the dialect's own)
    that the app is registered for, and lives ``ttl`` seconds.

    As ``with_verified_clients``: a throttled client id or address is refused on the event
    loop; the secret is verified in a worker thread holding no database connection, and
    the token is then issued and recorded in one short transaction. Raises ``BadRequest``
    (plain http; an app connected to no practice or to several), ``RateLimited`` (too many
    failures for the client id or from the address), ``AuthError`` 401 ``invalid_client``
    (unknown app, public app or wrong secret), ``Forbidden`` ``insufficient_scope`` (the app
    is registered for none of ``scopes``).
    """
    require_https(request)
    authenticator, address = authenticator_of(request), address_of(request)
    return await attempts_of(request).run(
        lambda: authenticator.refuse_if_throttled(client_id, address),
        lambda: _dialect_token(request, client_id, client_secret, scopes, ttl),
    )


def _dialect_token(
    request: Request, client_id: str, client_secret: str, scopes: frozenset[str], ttl: int
) -> str:
    verified = authenticator_of(request).verify(client_id, client_secret, address_of(request))
    if verified is None:
        raise AuthError(401, "invalid_client", "Unknown client_id or wrong client_secret")
    with database(request).transaction() as session:
        return _issue_dialect_token(request, session, verified, client_secret, scopes, ttl)


def _issue_dialect_token(
    request: Request,
    session: Session,
    verified: Verified,
    client_secret: str,
    scopes: frozenset[str],
    ttl: int,
) -> str:
    row = oauth_clients.get_client(session, verified.client_id)
    if row is None:  # revoked since it was verified
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
        ("client_id", verified.client_id),
        ("client_secret", client_secret),
        ("scope", " ".join(granted)),
    ]
    oauth = oauth_request(request, {"query": [], "form": form}, session)
    oauth.verified_clients[verified.client_id] = verified
    oauth.access_ttl = ttl
    status, body, _headers = server_of(request).create_token_response(oauth)
    payload = json.loads(body) if isinstance(body, str) else body
    if status != 200:
        raise AuthError(401, "invalid_client", "Unknown client_id or wrong client_secret")
    return str(payload["access_token"])


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
async def token(request: Request, params: Params) -> Response:
    # async: a throttled client is refused on the event loop (see with_verified_clients).
    server = server_of(request)
    return await with_verified_clients(
        request,
        params,
        lambda oauth: to_response(server.create_token_response(oauth), no_store=True),
    )


@router.post(
    "/oauth/revoke",
    summary="Token revocation (RFC 7009)",
    responses=REVOCATION_RESPONSES,
    openapi_extra=TOKEN_QUERY_FORM,
)
async def revoke(request: Request, params: Params) -> Response:
    # Resource servers see the revocation at their next revocation-list refresh (≤ 2 s).
    server = server_of(request)
    return await with_verified_clients(
        request,
        params,
        lambda oauth: to_response(server.create_endpoint_response("revocation", oauth)),
    )


@router.post(
    "/oauth/introspect",
    summary="Token introspection (RFC 7662); the caller authenticates",
    responses=INTROSPECTION_RESPONSES,
    openapi_extra=TOKEN_QUERY_FORM,
)
async def introspect(request: Request, params: Params) -> Response:
    server = server_of(request)
    return await with_verified_clients(
        request,
        params,
        lambda oauth: to_response(
            server.create_endpoint_response("introspection", oauth), no_store=True
        ),
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


SECRET_METHODS = ["client_secret_basic", "client_secret_post"]
ASSERTION_METHODS = ["private_key_jwt"]


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
        "token_endpoint_auth_methods_supported": [*SECRET_METHODS, *ASSERTION_METHODS, "none"],
        "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": [
            *SECRET_METHODS,
            *ASSERTION_METHODS,
            "none",
        ],
        "revocation_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "introspection_endpoint_auth_methods_supported": [*SECRET_METHODS, *ASSERTION_METHODS],
        "introspection_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
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


def smart_configuration(issuer: str) -> dict[str, Any]:
    """SMART App Launch 2.x configuration (``.well-known/smart-configuration``), as far as
    OptiHub goes: Backend Services (client credentials with a signed assertion, system/
    scopes) and confidential apps with a secret; no EHR or standalone launch context."""
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/oauth/jwks",
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "token_endpoint_auth_methods_supported": [*ASSERTION_METHODS, *SECRET_METHODS],
        "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
        "scopes_supported": [s.name for s in scope_registry.SCOPES if s.name.startswith("system/")],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": [
            "client-confidential-asymmetric",
            "client-confidential-symmetric",
            "permission-v2",
        ],
    }


@router.get("/.well-known/oauth-authorization-server", summary="RFC 8414 metadata")
def oauth_metadata(request: Request) -> JSONResponse:
    return JSONResponse(metadata(request))


@router.get("/.well-known/openid-configuration", summary="OpenID Connect discovery")
def openid_configuration(request: Request) -> JSONResponse:
    return JSONResponse(metadata(request))


@router.get(
    "/.well-known/smart-configuration",
    summary="SMART App Launch configuration (Backend Services: private_key_jwt)",
)
def smart_configuration_document(request: Request) -> JSONResponse:
    return JSONResponse(
        smart_configuration(request.app.state.settings.issuer),
        headers={"Cache-Control": "max-age=300"},
    )


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
    if isinstance(problem.exception, RateLimited):
        return JSONResponse(
            {"error": problem.code, "error_description": problem.message},
            status_code=problem.status,
            headers=problem.headers,
        )
    if isinstance(problem.exception, RequestValidationError):
        return JSONResponse({"error": "invalid_request"}, status_code=400)
    return JSONResponse(
        {"error": "invalid_request", "error_description": problem.message},
        status_code=problem.status,
        headers=problem.headers,
    )


def install(app: FastAPI) -> None:
    """The authorization server's endpoints and metadata, then its pages."""
    app.state.oauth_server = OptiHubAuthorizationServer(app.state.tokens)
    settings = app.state.settings
    app.state.client_key_source = ClientKeySource(settings.webhook_allowed_hosts)
    app.state.client_authenticator = ClientAuthenticator(
        app.state.db,
        ClientAuthThrottle(settings.redis_url),
        AssertionVerifier(
            app.state.db, app.state.client_key_source, f"{settings.issuer}/oauth/token"
        ),
    )
    app.state.auth_attempts = Attempts()
    app.include_router(router)
    app.state.surfaces.add_error_body("/oauth", oauth_error_body)
    install_pages(app)
