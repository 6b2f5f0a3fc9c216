"""Text that is not Unicode and numbers the decoder cannot hold, on every installed surface
(``optihub.surfaces.SURFACES``): each write route of a surface's scope table gets a lone
UTF-16 surrogate in a text member of its body (as a ``\\ud800`` escape, and as the raw
bytes ``ED A0 80``), and each route with a decimal member a number with a tiny exponent
(``-1e-999999999``, which a binary float decoder turns into 0). The answer is a 400 in the
surface's envelope naming the member by its path in the body, nothing is written, never a
500. Query strings cannot carry a surrogate (percent-decoding replaces bytes that are not
UTF-8 by U+FFFD): checked too.

The member is the route's first text (or decimal) member in the OpenAPI document, so a new
surface inherits these checks with its ``HARNESS`` entry in tests/api/test_surfaces.py.
"""

from __future__ import annotations

import json
import re
import tempfile
from typing import Any

import pytest

from optihub.app import create_app
from optihub.settings import Settings
from optihub.surfaces.kit import Surface
from tests.api import test_surfaces as shared
from tests.api.test_surfaces import (
    BY_NAME,
    NAMES,
    WRITES,
    all_scopes,
    in_envelope,
    query_parameters,
    table_counts,
)

# The shared checks' fixtures: a practice with a user, and ``call(surface, method, path)``.
caller = shared.caller
call = shared.call

JSON_HEADERS = {"Content-Type": "application/json"}
# Replaced, in the encoded body, by the number under test (a float cannot hold it).
NUMBER_SLOT = "number-under-test"


def _document() -> dict[str, Any]:
    """The app's OpenAPI document (building it needs no database)."""
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings.from_env(
            {
                "OPTIHUB_DATABASE_URL": "sqlite://",
                "OPTIHUB_DATA_DIR": data_dir,
                "OPTIHUB_PUBLIC_URL": "http://testserver",
                "OPTIHUB_RUN_WORKER": "false",
            }
        )
        return create_app(settings).openapi()


DOCUMENT = _document()


def _resolved(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema and, through ``anyOf``/``oneOf``, the schemas it may be."""
    schema = _resolved(schema)
    found = [schema]
    for key in ("anyOf", "oneOf"):
        for branch in schema.get(key, []):
            found += _branches(branch)
    return found


def _is_text(schema: dict[str, Any]) -> bool:
    """Free text: a string without an enum, format or pattern."""
    return any(
        b.get("type") == "string" and not {"enum", "format", "pattern"} & set(b)
        for b in _branches(schema)
    )


def _is_decimal(schema: dict[str, Any]) -> bool:
    """A decimal member: it takes numbers, and strings only as a decimal's text (a bare
    string, or one with a pattern; a text member that also takes numbers has a length)."""
    branches = _branches(schema)
    strings = [b for b in branches if b.get("type") == "string"]
    return any(b.get("type") == "number" for b in branches) and all(
        "pattern" in b or set(b) <= {"type", "title", "description"} for b in strings
    )


def _first_member(schema: dict[str, Any], wanted: Any) -> tuple[Any, ...] | None:
    """The path of the first member ``wanted`` accepts, objects and arrays followed in
    document order (an array's first item)."""
    for branch in _branches(schema):
        if branch.get("type") == "array" and "items" in branch:
            found = _first_member(branch["items"], wanted)
            if found is not None:
                return (0, *found)
        for name, member in branch.get("properties", {}).items():
            if wanted(member):
                return (name,)
            found = _first_member(member, wanted)
            if found is not None:
                return (name, *found)
    return None


def _body_schema(surface: Surface, method: str, path: str) -> dict[str, Any] | None:
    operation = DOCUMENT["paths"].get(surface.prefix + path, {}).get(method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {})
    json_body = content.get("application/json")
    return json_body["schema"] if json_body else None


def member(surface: Surface, method: str, path: str, wanted: Any) -> tuple[Any, ...] | None:
    schema = _body_schema(surface, method, path)
    return _first_member(schema, wanted) if schema is not None else None


def body_at(path: tuple[Any, ...], value: Any) -> Any:
    """``("updates", 0, "sku")`` → ``{"updates": [{"sku": value}]}``."""
    for part in reversed(path):
        value = [value] if isinstance(part, int) else {part: value}
    return value


def dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in path)


def names(response: Any, path: tuple[Any, ...]) -> bool:
    """The error names the member: ``updates.0.sku``, or as a dialect writes it
    (``model.OrderDetails[0].Quantity``)."""
    text = re.sub(r"\[(\d+)\]", r".\1", response.text).lower()
    return dotted(path).lower() in text


def text_route(name: str, method: str, path: str) -> tuple[Any, ...]:
    """The route's first text member; a route without a body gets one all the same
    (``note``): a body that is not Unicode is refused whatever the route reads."""
    return member(BY_NAME[name], method, path, _is_text) or ("note",)


DECIMAL_WRITES = [
    route for route in WRITES if member(BY_NAME[route.values[0]], *route.values[1:], _is_decimal)
]

SURROGATE_BODIES = [
    # JSON's own escape, and the bytes a UTF-8 encoder would write for U+D800 (not UTF-8).
    pytest.param(lambda body: json.dumps(body).encode(), id="escaped"),
    pytest.param(
        lambda body: json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass"),
        id="raw-bytes",
    ),
]


@pytest.mark.parametrize("encode", SURROGATE_BODIES)
@pytest.mark.parametrize(("name", "method", "path"), WRITES)
def test_lone_surrogate_in_a_body_is_400_naming_the_member(call, db, name, method, path, encode):
    surface = BY_NAME[name]
    where = text_route(name, method, path)
    before = table_counts(db)
    response = call(
        surface,
        method,
        path,
        scopes=all_scopes(surface),
        content=encode(body_at(where, "half \ud800 a pair")),
        headers=JSON_HEADERS,
    )
    in_envelope(surface, response, 400)
    assert names(response, where), response.text
    assert table_counts(db) == before


@pytest.mark.parametrize("number", ["-1e-999999999", "1e-400"])
@pytest.mark.parametrize(("name", "method", "path"), DECIMAL_WRITES)
def test_number_a_decimal_cannot_hold_is_400_naming_the_member(
    call, db, name, method, path, number
):
    surface = BY_NAME[name]
    where = member(surface, method, path, _is_decimal)
    assert where is not None
    content = json.dumps(body_at(where, NUMBER_SLOT)).replace(f'"{NUMBER_SLOT}"', number)
    before = table_counts(db)
    response = call(
        surface,
        method,
        path,
        scopes=all_scopes(surface),
        content=content.encode(),
        headers=JSON_HEADERS,
    )
    in_envelope(surface, response, 400)
    assert names(response, where), response.text
    assert table_counts(db) == before


def test_every_surface_with_decimal_members_is_checked():
    """The route list above is not empty by accident (a schema change would hide it)."""
    assert {"labs", "partner", "practice", "portal"} <= {r.values[0] for r in DECIMAL_WRITES}


@pytest.mark.parametrize("name", NAMES)
def test_surrogate_bytes_in_queries_never_reach_storage(app, call, name):
    surface = BY_NAME[name]
    for method, path, parameter in query_parameters(app, surface, "string"):
        for value in ("%ED%A0%80", "a%ED%B0%80b"):
            response = call(
                surface, method, f"{path}?{parameter}={value}", scopes=all_scopes(surface)
            )
            assert response.status_code < 500, response.text
            if response.status_code >= 400:
                in_envelope(surface, response, response.status_code)
