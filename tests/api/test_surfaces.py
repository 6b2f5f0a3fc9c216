"""Checks every installed surface gets by being installed (``optihub.surfaces.SURFACES``).

Each is parametrised by surface and, where it applies, by route of the surface's scope
table (``Surface.scopes``): the scope table, the 401/403/404/413/400/500 answers in the
surface's own envelope (``Surface.error_model``), no stack traces or SQL in any of them,
huge integers, NUL characters and malformed bodies refused without writing anything.
Schemathesis over the whole OpenAPI document (tests/fuzz) covers every surface's operations.

A new surface needs one line here: its ``HARNESS`` entry, saying how a test authenticates to
it (headers) and what its paths need (e.g. the practice id in the path). A surface without
one fails ``test_every_surface_has_a_harness``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from optihub.auth.resource import route_scopes
from optihub.db.base import Base
from optihub.domain.scopes import IMPLIED
from optihub.services import users
from optihub.surfaces import SURFACES
from optihub.surfaces.kit import Surface
from tests import factories


@dataclass(frozen=True)
class Caller:
    """Who calls in these checks: a practice, and a user of it."""

    practice_id: int
    email: str


def bearer(token: str, _caller: Caller) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Harness:
    """How a test calls one surface."""

    headers: Callable[[str, Caller], dict[str, str]] = bearer
    # Values for path parameters that are not random ids (e.g. the practice in the path).
    path_values: Callable[[Caller], dict[str, str]] = field(default=lambda _caller: {})


def bearer_and_user_email(token: str, caller: Caller) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "User-Email": caller.email}


HARNESS: dict[str, Harness] = {
    "partner": Harness(),
    "labs": Harness(headers=bearer_and_user_email),
    "practice": Harness(path_values=lambda caller: {"client_id": str(caller.practice_id)}),
    "fulfillment": Harness(),
    "portal": Harness(),
    "fhir": Harness(),
}

BY_NAME = {surface.name: surface for surface in SURFACES}
ROUTES = [
    pytest.param(surface.name, method, path, id=f"{surface.name} {method} {path}")
    for surface in SURFACES
    for (method, path), scope in sorted(surface.scopes.items())
    if scope is not None  # routes called without a token (a dialect's token call)
]
WRITES = [route for route in ROUTES if route.values[1] in {"POST", "PUT", "PATCH"}]
NAMES = [pytest.param(surface.name, id=surface.name) for surface in SURFACES]
# Refused before any query (token, scope, routing, body and parameter parsing, the 500
# handler): the answer cannot differ between databases, so these run on SQLite only.
STORAGE_INDEPENDENT = pytest.mark.storage_independent
# What must never reach a client: traces, exception names, SQL.
LEAKS = re.compile(r"Traceback|File \"|Error\(|sqlalchemy|psycopg|sqlite3|SELECT |INSERT ", re.I)


@pytest.fixture
def caller(db) -> Caller:
    with db.transaction() as s:
        practice = factories.practice(s, "Checks Optical")
        users.create_user(
            s,
            email="checks@example.com",
            password="checks-password-1",
            practice_id=practice.id,
            role="staff",
        )
    return Caller(practice.id, "checks@example.com")


@pytest.fixture
def call(client, caller, issue_token):
    """``call(surface, method, path, scopes=..., **request)`` → the response."""

    def send(surface: Surface, method: str, path: str, scopes: str | None = None, **kw: Any):
        harness = HARNESS[surface.name]
        values = harness.path_values(caller)
        url = surface.prefix + re.sub(
            r"\{(\w+)\}", lambda m: values.get(m.group(1), str(uuid.uuid4())), path
        )
        headers = dict(kw.pop("headers", {}))
        if scopes is not None:
            token = issue_token(caller.practice_id, scopes, client_id="checks-app")
            headers = {**harness.headers(token, caller), **headers}
        return client.request(method, url, headers=headers, **kw)

    return send


def all_scopes(surface: Surface) -> str:
    return " ".join(sorted({s for s in surface.scopes.values() if s is not None}))


def in_envelope(surface: Surface, response: Any, status: int | tuple[int, ...]) -> Any:
    """The response has the status and the surface's error body, and leaks nothing."""
    wanted = status if isinstance(status, tuple) else (status,)
    assert response.status_code in wanted, response.text
    assert not LEAKS.search(response.text), response.text
    return surface.error_model.model_validate(response.json())


def table_counts(db) -> dict[str, int]:
    with db.reading() as reader:
        return {
            name: reader.scalar(select(func.count()).select_from(table))
            for name, table in Base.metadata.tables.items()
        }


def test_every_surface_has_a_harness():
    assert set(BY_NAME) <= set(HARNESS), f"add a HARNESS entry for {set(BY_NAME) - set(HARNESS)}"


@pytest.mark.parametrize("name", NAMES)
def test_every_route_is_in_the_scope_table(app, name):
    surface = BY_NAME[name]
    assert surface.scopes, "a surface declares its scope table"
    # A surface mounted under another's prefix (/api/v1/partner under /api) owns its paths.
    under = {
        (method, path[len(surface.prefix) :])
        for method, path in route_scopes(app.routes)
        # (the prefix itself too: FHIR's transaction is POST to the base URL)
        if (path == surface.prefix or path.startswith(surface.prefix + "/"))
        and app.state.surfaces.owner(path) is surface
    }
    assert under == set(surface.scopes)


def test_a_route_that_disagrees_with_its_table_is_not_installed():
    surface = SURFACES[0]
    method, path = next(iter(surface.scopes))
    wrong = Surface(
        name="wrong",
        prefix="/wrong",
        router=surface.router,
        envelope=surface.envelope,
        error_model=surface.error_model,
        scopes={**surface.scopes, (method, path): "someone:else"},
    )
    with pytest.raises(ValueError, match="routes and scope table differ"):
        wrong.check_scopes()


@STORAGE_INDEPENDENT
@pytest.mark.parametrize(("name", "method", "path"), ROUTES)
def test_route_without_a_token_is_401(call, name, method, path):
    surface = BY_NAME[name]
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = call(surface, method, path, headers=headers, json={})
        in_envelope(surface, response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")


@STORAGE_INDEPENDENT
@pytest.mark.parametrize(("name", "method", "path"), ROUTES)
def test_route_without_its_scope_is_403(call, name, method, path):
    surface = BY_NAME[name]
    required = surface.scopes[(method, path)]
    assert required is not None
    others = " ".join(
        scope
        for scope in set(all_scopes(surface).split())
        if scope != required and required not in IMPLIED.get(scope, ())
    )
    response = call(surface, method, path, scopes=others or "openid", json={})
    in_envelope(surface, response, 403)
    assert required in response.text


@STORAGE_INDEPENDENT
@pytest.mark.parametrize("name", NAMES)
def test_unknown_path_is_404(call, name):
    surface = BY_NAME[name]
    response = call(surface, "GET", "/no-such-resource", scopes=all_scopes(surface))
    in_envelope(surface, response, 404)


@STORAGE_INDEPENDENT
@pytest.mark.parametrize("name", NAMES)
def test_body_over_the_limit_is_413_and_writes_nothing(call, db, name):
    surface = BY_NAME[name]
    # Bodies of GET and DELETE are never read; the limit holds for the others.
    method, path = next(
        ((m, p) for m, p in sorted(surface.scopes) if m in {"POST", "PUT", "PATCH"}), ("POST", "/")
    )
    before = table_counts(db)
    response = call(
        surface,
        method,
        path,
        scopes=all_scopes(surface),
        content=b"[" + b"1," * surface.max_body + b"1]",
        headers={"Content-Type": "application/json"},
    )
    in_envelope(surface, response, 413)
    assert table_counts(db) == before


MALFORMED = [
    pytest.param(b'{"unterminated', id="broken-json"),
    pytest.param(b"\xff\xfe\x00", id="not-utf8"),
    pytest.param(b"[]", id="array"),
    pytest.param(b'"text"', id="string"),
    pytest.param(b'{"a": ' + b"9" * 5000 + b"}", id="huge-number"),
    pytest.param(b"[" * 5000 + b"]" * 5000, id="deep-nesting"),
]


@STORAGE_INDEPENDENT
@pytest.mark.parametrize("body", MALFORMED)
@pytest.mark.parametrize(("name", "method", "path"), WRITES)
def test_malformed_body_is_refused_and_writes_nothing(call, db, name, method, path, body):
    surface = BY_NAME[name]
    before = table_counts(db)
    response = call(
        surface,
        method,
        path,
        scopes=all_scopes(surface),
        content=body,
        headers={"Content-Type": "application/json"},
    )
    # 404 where the path names an object that does not exist (ids are random).
    in_envelope(surface, response, (400, 404, 422))
    assert table_counts(db) == before


def query_parameters(app: Any, surface: Surface, kind: str) -> list[tuple[str, str, str]]:
    """(method, path, name) of every query parameter of ``kind`` the surface documents."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        if (
            not path.startswith(surface.prefix + "/")
            or app.state.surfaces.owner(path) is not surface
        ):
            continue
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                kinds = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}
                if parameter["in"] == "query" and kind in kinds:
                    found.append((method.upper(), path[len(surface.prefix) :], parameter["name"]))
    return found


@STORAGE_INDEPENDENT
@pytest.mark.parametrize("name", NAMES)
def test_huge_integers_in_queries_are_400(app, call, name):
    surface = BY_NAME[name]
    checked = query_parameters(app, surface, "integer")
    for method, path, parameter in checked:
        for value in (10**30, -(10**30), "1e400", "1.5"):
            response = call(
                surface, method, path, scopes=all_scopes(surface), params={parameter: value}
            )
            in_envelope(surface, response, 400)


@STORAGE_INDEPENDENT
@pytest.mark.parametrize("name", NAMES)
def test_nul_characters_in_queries_are_400(app, call, name):
    surface = BY_NAME[name]
    for method, path, parameter in query_parameters(app, surface, "string"):
        response = call(
            surface, method, path, scopes=all_scopes(surface), params={parameter: "a\x00b"}
        )
        # A path naming an object (random ids here) may be a 404 before the query is read.
        in_envelope(surface, response, (400, 404) if "{" in path else 400)


@pytest.mark.parametrize("name", NAMES)
def test_nul_characters_in_bodies_write_nothing(call, db, name):
    surface = BY_NAME[name]
    before = table_counts(db)
    for method, path in sorted(surface.scopes):
        if method == "GET":
            continue
        response = call(
            surface,
            method,
            path,
            scopes=all_scopes(surface),
            content=b'{"url": "https://a\\u0000.example.com", "description": "a\\u0000b", '
            b'"note": "\\u0000", "sku": "\\u0000", "events": ["*"], "quantity": 1}',
            headers={"Content-Type": "application/json"},
        )
        if surface.scopes[(method, path)] is None and response.status_code == 400:
            # A dialect's own token call answers in OAuth's shape ({"error": ...}).
            assert "error" in response.json(), response.text
            continue
        in_envelope(surface, response, (400, 404, 422))
    assert table_counts(db) == before


@STORAGE_INDEPENDENT
@pytest.mark.parametrize("name", NAMES)
def test_server_error_is_500_in_the_envelope_with_only_a_request_id(app, call, name):
    surface = BY_NAME[name]

    def explode() -> None:
        raise RuntimeError("SELECT password_hash FROM users -- secret")

    app.add_api_route(surface.prefix + "/__explode", explode)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(surface.prefix + "/__explode")
    in_envelope(surface, response, 500)
    request_id = response.headers["x-request-id"]
    assert request_id and request_id in response.text
    assert "secret" not in response.text
