"""Fast reads: the GETs a dialect declares for the kit to answer before routing.

The reads every client repeats (an order list, one order) cost little in the database —
one indexed statement over stored documents (``reads.orders``) — and much more in the
framework around them: routing, dependency resolution, parameter models, a response
object. A dialect declares such a read once, beside its framework route:

    FastRead("/orders", answer=orders_page, parameters={"limit": IntParameter(1, 100, 20)})

and the kit (``Surface.install``) registers it as a hot route (``web.HotRoutes``). A
request whose query string holds only the declared parameters, each a plain in-range
integer given at most once, is answered here: the route's own scopes (the surface's scope
table), its rate limit, the single-practice check, then ``answer``; the request id, access
log and metrics are the same code as every request's (``web.RequestContextMiddleware``). A
refusal (no token, a missing scope, over the rate) is rendered once, here, in the
dialect's envelope (``Surfaces.respond``, as the framework's handlers render it). Any other
query string, and whatever ``answer`` leaves (None: e.g. an id it does not find), goes to
the framework route, which answers as it always does — so a fast read never answers what
its route would not, and its route stays the reference the tests compare it with.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote_plus

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Scope

from optihub.auth.resource import Principal, check_scopes, scope_bearer
from optihub.db.session import Database
from optihub.errors import AuthError, OptiHubError
from optihub.surfaces.kit.practice import single_practice
from optihub.web import HotAnswer, HotRoutes


class FastSurface(Protocol):
    """What installing a fast read needs of its surface (``kit.Surface``)."""

    prefix: str
    scopes: Mapping[tuple[str, str], str | None]
    max_body: int

    async def count_request(self, app: Any, scope: Scope, principal: Principal | None) -> None: ...


@dataclass(frozen=True)
class IntParameter:
    """A query parameter taken on the fast path: a plain integer within [low, high]."""

    low: int
    high: int
    default: int


@dataclass(frozen=True)
class TextParameter:
    """A query parameter taken on the fast path: required text of at most ``max_length``
    characters (percent-decoded), without control characters."""

    max_length: int


@dataclass(frozen=True)
class FastRequest:
    """What a fast read's ``answer`` gets: the caller, its practice and the parameters."""

    scope: Scope
    db: Database
    principal: Principal
    practice_id: int
    values: Mapping[str, int]
    segment: str = ""  # the last path segment, for a read of one object
    texts: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: bytes) -> str | None:
        """A request header's first value (``name`` in lower case)."""
        for key, value in self.scope["headers"]:
            if key == name:
                return value.decode("latin-1")
        return None


FastAnswer = bytes | HotAnswer | None

CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def canonical_uuid(segment: str) -> bool:
    return CANONICAL_UUID.fullmatch(segment) is not None


@dataclass(frozen=True)
class FastRead:
    """A GET the kit answers before routing (see the module's text).

    ``path`` is the framework route's path below the surface's prefix; it may end in one
    ``{name}`` segment (a read of one object), which ``segment`` accepts or leaves to the
    route."""

    path: str
    answer: Callable[[FastRequest], Awaitable[FastAnswer]]
    parameters: Mapping[str, IntParameter | TextParameter] = field(default_factory=dict)
    segment: Callable[[str], bool] = canonical_uuid
    # The practice the call acts for, or a refusal (raised): by default the token's one
    # practice (``kit.single_practice``); a dialect naming it in the path reads it there.
    practice: Callable[[Scope, Principal], int] | None = None

    @property
    def one_object(self) -> bool:
        return self.path.endswith("}")

    def values(self, query_string: bytes) -> tuple[dict[str, int], dict[str, str]] | None:
        """The declared parameters as given (integers' defaults for the rest), or None when
        the query string holds anything else or lacks a text: the route reads it."""
        numbers: dict[str, int] = {}
        texts: dict[str, str] = {}
        if query_string:
            for pair in query_string.split(b"&"):
                key, eq, raw = pair.partition(b"=")
                name = key.decode("latin-1")
                declared = self.parameters.get(name)
                if declared is None or not eq or name in numbers or name in texts:
                    return None
                if isinstance(declared, TextParameter):
                    text = unquote_plus(raw.decode("latin-1"), errors="strict")
                    if not text or len(text) > declared.max_length or not text.isprintable():
                        return None
                    texts[name] = text
                    continue
                if not raw.isdigit() or len(raw) > 9:
                    return None
                number = int(raw)
                if not declared.low <= number <= declared.high:
                    return None
                numbers[name] = number
        for name, declared in self.parameters.items():
            if isinstance(declared, TextParameter):
                if name not in texts:
                    return None
            else:
                numbers.setdefault(name, declared.default)
        return numbers, texts


def install(routes: HotRoutes, surface: FastSurface, read: FastRead) -> None:
    """Register ``read`` of ``surface`` as a hot route."""
    scopes = required_scopes(surface, "GET", read.path)
    template = surface.prefix + read.path

    async def handler(scope: Scope) -> FastAnswer:
        try:
            given = read.values(scope["query_string"])
        except UnicodeDecodeError:
            return None
        if given is None:
            return None
        values, texts = given
        segment = ""
        if read.one_object:
            segment = scope["path"].rpartition("/")[2]
            if not read.segment(segment):
                return None
        app = scope["app"]
        try:
            principal, practice_id = await admit(
                surface, scope, scopes, read.practice or token_practice
            )
        except Exception as exc:  # a refusal, in the dialect's envelope, as the route's
            return refusal(scope, exc)
        assert practice_id is not None
        request = FastRequest(scope, app.state.db, principal, practice_id, values, segment, texts)
        try:
            return await read.answer(request)
        except OptiHubError as exc:  # e.g. no such order for this practice
            return refusal(scope, exc)

    if "{" in read.path.rpartition("/")[0]:
        routes.add_pattern(template, handler)
    elif read.one_object:
        routes.add_segment(template.rpartition("/")[0] + "/", template, handler)
    else:
        routes.add(template, template, handler)


def required_scopes(surface: FastSurface, method: str, path: str) -> tuple[str, ...]:
    """The scopes the route ``method path`` requires (the surface's scope table)."""
    required = surface.scopes[(method, path)]
    return () if required is None else (required,) if isinstance(required, str) else tuple(required)


# Set in the request's state once the fast path has counted the request: a framework route
# that answers it after all (its answer left it) does not count it a second time.
RATE_COUNTED = "optihub.rate_counted"


async def admit(
    surface: FastSurface,
    scope: Scope,
    scopes: tuple[str, ...],
    practice: Callable[[Scope, Principal], int | None],
) -> tuple[Principal, int | None]:
    """The caller and the practice it acts for, checked in the route's order: the rate limit
    (a dependency of the whole surface, counted against the token's client when it is
    valid), the token, its scopes, then the practice. Raises the refusal."""
    principal: Principal | None = None
    invalid: AuthError | None = None
    try:
        principal = await scope_bearer(scope)
    except AuthError as exc:
        invalid = exc
    await surface.count_request(scope["app"], scope, principal)
    state = scope.get("state")
    if state is not None:
        state[RATE_COUNTED] = True
    if invalid is not None:
        raise invalid
    assert principal is not None
    check_scopes(principal, scopes)
    return principal, practice(scope, principal)


def token_practice(_scope: Scope, principal: Principal) -> int:
    """The token's one practice (``kit.single_practice``): the default of a fast path."""
    return single_practice(principal)


def refusal(scope: Scope, exc: Exception) -> HotAnswer:
    """``exc`` rendered as the framework's exception handlers render it."""
    request_id = str(scope.get("state", {}).get("request_id", ""))
    surfaces = scope["app"].state.surfaces
    return hot_answer(surfaces.respond(scope["path"], exc, request_id, Headers(scope=scope)))


def hot_answer(response: Response) -> HotAnswer:
    """A framework response as a hot route's answer (its own headers kept)."""
    content_type = b"application/json"
    headers: list[tuple[bytes, bytes]] = []
    for name, value in response.raw_headers:
        if name == b"content-type":
            content_type = value
        elif name != b"content-length":
            headers.append((name, value))
    return HotAnswer(bytes(response.body), content_type, tuple(headers), response.status_code)
