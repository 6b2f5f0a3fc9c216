"""Resource-side checks every surface uses: bearer token → ``Principal`` → scope check.

Routes declare their scope next to them::

    OrdersRead = Annotated[Principal, Depends(require_scopes("orders:read"))]

    @router.get("/orders")
    def list_orders(principal: OrdersRead): ...

Failures raise ``optihub.errors.AuthError``; each surface renders it in its own envelope,
with ``WWW-Authenticate`` (RFC 6750). Which practice a call acts for is the surface's
business (``optihub.surfaces.kit.practice``): a token may grant several.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from starlette.types import Scope

from optihub.auth.tokens import InvalidToken, TokenService
from optihub.domain.scopes import IMPLIED
from optihub.errors import AuthError
from optihub.logging import get_logger

log = get_logger("optihub.auth")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user (``subject``) through an app (``client_id``)."""

    subject: str
    client_id: str
    scopes: frozenset[str]
    practice_ids: tuple[int, ...]
    jti: str

    def has(self, scope: str) -> bool:
        return scope in self.scopes or any(scope in IMPLIED.get(s, ()) for s in self.scopes)


def _token_service(request: Request) -> TokenService:
    return request.app.state.tokens  # type: ignore[no-any-return]


def authenticate(request: Request) -> Principal:
    """The verified bearer token of this request; no database query on the happy path."""
    if "access_token" in request.query_params:
        raise AuthError(
            401,
            "invalid_request",
            "Access tokens in the query string are not accepted; use the Authorization header",
        )
    principal = bearer_principal(_token_service(request), request.headers.get("authorization", ""))
    request.state.principal = principal
    return principal


def bearer_principal(tokens: TokenService, authorization: str) -> Principal:
    """The principal of an ``Authorization: Bearer`` header value, or ``AuthError``."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "invalid_token", "A bearer access token is required")
    try:
        claims = tokens.verify(token.strip())
    except InvalidToken as exc:
        raise AuthError(401, "invalid_token", exc.reason) from exc
    if not claims.practice_ids:
        raise AuthError(401, "invalid_token", "The access token grants no practice")
    return Principal(
        subject=claims.subject,
        client_id=claims.client_id,
        scopes=claims.scopes,
        practice_ids=claims.practice_ids,
        jti=claims.jti,
    )


async def scope_principal(scope: Scope, *scopes: str) -> Principal:
    """``require_scopes(*scopes)`` for a raw ASGI request (the hot routes): the same checks,
    the same ``AuthError``s. The caller refuses query strings that may carry a token."""
    principal = await scope_bearer(scope)
    check_scopes(principal, scopes)
    return principal


async def scope_bearer(scope: Scope) -> Principal:
    """``authenticate`` for a raw ASGI request, its caches fresh: the verified bearer token
    (no scope checked yet), or ``AuthError``."""
    tokens: TokenService = scope["app"].state.tokens
    await _fresh_caches(tokens)
    authorization = ""
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
            break  # the first one, as ``request.headers.get`` reads it
    try:
        return bearer_principal(tokens, authorization)
    except AuthError:
        if not await _keys_reloaded(tokens):
            raise
        return bearer_principal(tokens, authorization)


async def _keys_reloaded(tokens: TokenService) -> bool:
    """After a refusal: when the token named a key id this process does not know, the key
    ring was just marked stale (at most once a second); reload it now, off the loop, so a
    key another node has just rotated in is accepted on this very request. False when
    there was nothing to reload (the refusal stands)."""
    if not tokens.keyring.stale:
        return False
    await asyncio.shield(_reload(tokens))
    return True


def authenticate_cached(request: Request) -> Principal | None:
    """The request's principal when its token is valid, else None (never raises): for
    deciding whose budget a request counts against before its route authenticates it."""
    principal = getattr(request.state, "principal", None)
    if principal is not None:
        return principal  # type: ignore[no-any-return]
    try:
        return authenticate(request)
    except AuthError:
        return None


async def _reload_caches(tokens: TokenService) -> None:
    if tokens.revocations.due:
        await tokens.revocations.refresh_async()
    if tokens.keyring.due:  # rare (minutes apart), and it decrypts the signing key
        await run_in_threadpool(tokens.keyring.load)


# The reload in progress, per event loop and token service: one at a time.
_reloads: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, asyncio.Task[None]]] = (
    weakref.WeakKeyDictionary()
)


def _reload(tokens: TokenService) -> asyncio.Task[None]:
    """The reload of the revocation list and key ring, started if none is running, once for
    every request that asks meanwhile."""
    loop = asyncio.get_running_loop()
    running = _reloads.setdefault(loop, {})
    found = running.get(id(tokens))
    if found is None:
        found = running[id(tokens)] = loop.create_task(_reload_caches(tokens))
        found.add_done_callback(lambda done: _reloaded(running, id(tokens), done))
    return found


def _reloaded(running: dict[int, asyncio.Task[None]], key: int, done: asyncio.Task[None]) -> None:
    running.pop(key, None)
    if not done.cancelled() and done.exception() is not None:
        log.warning("auth_cache_reload_failed", error=type(done.exception()).__name__)


async def _fresh_caches(tokens: TokenService) -> None:
    """Revocations and keys no older than their refresh interval. Half-way there, one
    reload starts in the background and requests go on: under steady traffic nobody waits,
    and a request after a quiet spell waits for the reload as before."""
    if tokens.revocations.due or tokens.keyring.due:
        reload = _reload(tokens)
        if tokens.revocations.stale or tokens.keyring.stale:
            await asyncio.shield(reload)


def check_scopes(principal: Principal, scopes: tuple[str, ...]) -> None:
    """``AuthError`` 403 naming the first of ``scopes`` the principal lacks."""
    for scope in scopes:
        if not principal.has(scope):
            raise AuthError(
                403,
                "insufficient_scope",
                f"The '{scope}' scope is required for this operation",
                scope=scope,
                granted=principal.scopes,
            )


def require_scopes(*scopes: str) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """A dependency that authenticates and requires every one of ``scopes``.

    The returned callable carries ``required_scopes`` so tests can enumerate the route table.
    """

    async def dependency(request: Request) -> Principal:
        tokens = _token_service(request)
        await _fresh_caches(tokens)
        try:
            principal = authenticate(request)
        except AuthError:
            if not await _keys_reloaded(tokens):
                raise
            principal = authenticate(request)
        check_scopes(principal, scopes)
        return principal

    dependency.required_scopes = scopes  # type: ignore[attr-defined]
    return dependency


def api_routes(routes: list[Any], prefix: str = "") -> list[tuple[str, APIRoute]]:
    """Every ``APIRoute`` with its full path, looking into included routers."""
    found: list[tuple[str, APIRoute]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((prefix + route.path, route))
        elif hasattr(route, "original_router"):
            nested_prefix = prefix + getattr(route.include_context, "prefix", "")
            found += api_routes(route.original_router.routes, nested_prefix)
    return found


def route_scopes(routes: list[Any]) -> dict[tuple[str, str], tuple[str, ...]]:
    """``(method, path) → required scopes`` for every API route (empty tuple: no scope)."""
    table: dict[tuple[str, str], tuple[str, ...]] = {}
    for path, route in api_routes(routes):
        found: tuple[str, ...] = ()
        stack = list(route.dependant.dependencies)
        while stack:
            dependant = stack.pop()
            declared = getattr(dependant.call, "required_scopes", None)
            if declared is not None:
                found = tuple(declared)
            stack.extend(dependant.dependencies)
        for method in route.methods or ():
            table[(method, path)] = found
    return table
