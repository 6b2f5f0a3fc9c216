"""Fast writes: the POSTs a dialect declares for the kit to answer before routing.

A create that clients repeat costs a few statements in the database and much more in the
framework around them: matching the path against every surface's routes, resolving the
route's dependencies, a response object (``kit.fast`` says the same of reads). A dialect
declares such a write once, beside its framework route:

    FastWrite("/{client_id}/patients", create_patient, practice=path_practice)

in its surface's ``fast_writes``, and the kit (``Surface.install``) registers it as a hot
write (``web.HotRoutes``): the
middleware reads the body under the surface's body limit (over it, the route refuses it:
the same 413) and hands it here. A plain request — no query string, a JSON body of the
declared media types, no ``Idempotency-Key`` when the route honours one, a body ``orjson``
decodes and ``takes`` accepts — is answered here, in the route's order: the rate limit,
the token, the route's scopes (the surface's scope table), the practice the call acts for,
then ``answer``, which checks the body as the route does and runs the route's transaction
in one trip through the thread pool (``WriteRequest.transaction``). A refusal is rendered
once, in the dialect's envelope, as the framework's handlers render it (``fast.refusal``).

Anything else goes to the framework route with its body replayed as it came, so a fast
write never answers what its route would not, and the route stays the reference the tests
compare it with: a body the kit would refuse (``kit.bodies``) or the decoders could read
differently (an integer of 19 digits or more, which ``orjson`` reads as a float), invalid
JSON, another shape (a bulk array). Those are all decided before the request is counted.
``answer`` may still return None — only before it has written anything — and the route then
answers without counting the request again.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from sqlalchemy.orm import Session
from starlette.types import Scope

from optihub.auth.resource import Principal
from optihub.db.session import Database
from optihub.surfaces.kit.fast import (
    FastAnswer,
    FastSurface,
    admit,
    refusal,
    required_scopes,
    token_practice,
)
from optihub.web import HOT_BODY, HotRoutes, run_transaction

T = TypeVar("T")

# An integer ``orjson`` would read as a float (beyond 64 bits); ``json`` keeps it exact.
# Nineteen digits or more that do not go on from a letter, an underscore or a digit: a
# number of the body, or digits inside a text (the route then answers, as for a number). A
# run inside an id's hex (``coat_4ac7…``) is not one: a random id has such a run about once
# in a hundred bodies, which would send a plain request to the route.
_LONG_DIGITS = re.compile(rb"(?<![0-9A-Za-z_])[0-9]{19}")


@dataclass(frozen=True)
class WriteRequest:
    """What a fast write's ``answer`` gets: the caller, its practice and the body (decoded,
    or as sent when the write declares ``decode=False``)."""

    scope: Scope
    db: Database
    principal: Principal
    # None when the write leaves the practice to ``answer`` (``practice=later``).
    practice_id: int | None
    body: Any
    raw: bytes

    def header(self, name: bytes) -> str | None:
        """A request header's first value (``name`` in lower case)."""
        for key, value in self.scope["headers"]:
            if key == name:
                return value.decode("latin-1")
        return None

    async def transaction(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` in one worker thread, in one transaction (``web.in_transaction``)."""
        return await run_transaction(self.db, work)


def is_object(body: Any) -> bool:
    return isinstance(body, dict)


def later(_scope: Scope, _principal: Principal) -> None:
    """``FastWrite.practice`` for a route that checks the practice itself, later in its own
    order (e.g. after decoding the body): ``answer`` does it."""
    return None


@dataclass(frozen=True)
class FastWrite:
    """A write the kit answers before routing (see the module's text). ``path`` is the
    framework route's path below the surface's prefix (``{name}`` segments anywhere)."""

    path: str
    answer: Callable[[WriteRequest], Awaitable[FastAnswer]]
    method: str = "POST"
    # Media types taken (``Content-Type`` without parameters, lower case): others go to
    # the route, which reads or refuses them.
    media_types: frozenset[str] = frozenset({"application/json"})
    # False: ``answer`` gets the body as sent (its dialect's codec decodes it).
    decode: bool = True
    # The decoded bodies taken (by default one JSON object; e.g. a bulk array: the route).
    takes: Callable[[Any], bool] = is_object
    # The route honours ``Idempotency-Key``: a request carrying one goes to the route.
    idempotency_key: bool = False
    # The practice the call acts for, or a refusal (raised): by default the token's one
    # practice (``kit.single_practice``); a dialect naming it in the path reads it there.
    practice: Callable[[Scope, Principal], int | None] = token_practice


def _plain(write: FastWrite, scope: Scope) -> bool:
    """No query string, a media type taken, no idempotency key the route would honour."""
    if scope["query_string"]:
        return False
    media: str | None = None
    for name, value in scope["headers"]:
        if name == b"content-type" and media is None:  # the first one, as the framework reads it
            media = value.decode("latin-1").split(";", 1)[0].strip().lower()
        elif name == b"idempotency-key" and write.idempotency_key:
            return False
    return media in write.media_types


def install(routes: HotRoutes, surface: FastSurface, write: FastWrite, body_limit: int) -> None:
    """Register ``write`` of ``surface`` as a hot write."""
    scopes = required_scopes(surface, write.method, write.path)
    template = surface.prefix + write.path

    async def handler(scope: Scope) -> FastAnswer:
        if not _plain(write, scope):
            return None
        raw: bytes = scope[HOT_BODY]
        if len(raw) > surface.max_body:
            return None  # the limit lowered since it was installed: the route's 413
        app = scope["app"]
        body: Any = raw
        if write.decode:
            if not raw or _LONG_DIGITS.search(raw):
                return None
            if app.state.surfaces.body_refusal(scope, raw) is not None:
                return None  # the kit's refusal, answered where it always is
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return None  # the route's own error
            if not write.takes(body):
                return None
        try:
            principal, practice_id = await admit(surface, scope, scopes, write.practice)
        except Exception as exc:  # a refusal, in the dialect's envelope, as the route's
            return refusal(scope, exc)
        request = WriteRequest(scope, app.state.db, principal, practice_id, body, raw)
        try:
            return await write.answer(request)
        except Exception as exc:  # the body refused, or an error: never the route again
            return refusal(scope, exc)

    if "{" in template:
        routes.add_pattern(template, handler, method=write.method, body_limit=body_limit)
    else:
        routes.add(template, template, handler, method=write.method, body_limit=body_limit)
