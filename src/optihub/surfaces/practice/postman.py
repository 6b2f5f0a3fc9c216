"""A Postman (v2.1) collection of a surface, generated from its part of the OpenAPI
document: one folder per module (``patients``, ``stores``…), one request per operation,
``{{baseUrl}}`` / ``{{client_id}}`` / bearer ``{{token}}`` as collection variables, other
path parameters as ``:name`` variables, query parameters listed (disabled) with their
descriptions, and an example body for writes."""

from __future__ import annotations

import json
import re
from typing import Any

SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
# Path parameters every request shares: collection variables, not per-request ones.
SHARED = {"client_id"}
_PARAMETER = re.compile(r"\{(\w+)\}")
_EXAMPLES = {
    "string": "text",
    "integer": 1,
    "number": 10.5,
    "boolean": True,
}


def surface_paths(document: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The document's paths under ``prefix`` (a surface's part)."""
    return {
        path: operations
        for path, operations in document.get("paths", {}).items()
        if path == prefix or path.startswith(prefix.rstrip("/") + "/")
    }


def collection(document: dict[str, Any], prefix: str, name: str) -> dict[str, Any]:
    """The Postman collection of the operations under ``prefix``."""
    folders: dict[str, list[dict[str, Any]]] = {}
    for path, operations in surface_paths(document, prefix).items():
        module = _module(path[len(prefix) :])
        for method, operation in operations.items():
            if method.lower() not in {"get", "post", "put", "patch", "delete"}:
                continue
            folders.setdefault(module, []).append(_request(path, method, operation))
    return {
        "info": {
            "name": name,
            "description": document.get("info", {}).get("description", ""),
            "schema": SCHEMA,
        },
        "auth": _bearer(),
        "variable": [
            {"key": "baseUrl", "value": "http://localhost:8000", "type": "string"},
            {"key": "client_id", "value": "1", "type": "string"},
            {"key": "token", "value": "", "type": "string"},
        ],
        "item": [{"name": module, "item": items} for module, items in sorted(folders.items())],
    }


def _module(below: str) -> str:
    """``/{client_id}/patients/{id}`` → ``patients``: the first segment that is not shared."""
    for segment in below.strip("/").split("/"):
        if segment and _PARAMETER.fullmatch(segment) is None:
            return segment
    return "root"


def _bearer() -> dict[str, Any]:
    return {"type": "bearer", "bearer": [{"key": "token", "value": "{{token}}", "type": "string"}]}


def _request(path: str, method: str, operation: dict[str, Any]) -> dict[str, Any]:
    parameters = operation.get("parameters", [])
    segments = [_segment(segment) for segment in path.strip("/").split("/") if segment]
    query = [
        {
            "key": p["name"],
            "value": "",
            "description": p.get("description", ""),
            "disabled": True,
        }
        for p in parameters
        if p.get("in") == "query"
    ]
    variables = [
        {"key": p["name"], "value": "", "description": p.get("description", "")}
        for p in parameters
        if p.get("in") == "path" and p["name"] not in SHARED
    ]
    raw = "{{baseUrl}}/" + "/".join(segments)
    request: dict[str, Any] = {
        "method": method.upper(),
        "header": [{"key": "Accept", "value": "application/json"}],
        "url": {
            "raw": raw,
            "host": ["{{baseUrl}}"],
            "path": segments,
            "query": query,
            "variable": variables,
        },
        "description": operation.get("description") or operation.get("summary", ""),
    }
    schema = (
        operation.get("requestBody", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema")
    )
    if schema is not None:
        request["header"].append({"key": "Content-Type", "value": "application/json"})
        request["body"] = {
            "mode": "raw",
            "raw": _json_text(_example(schema)),
            "options": {"raw": {"language": "json"}},
        }
    return {"name": operation.get("summary") or f"{method.upper()} {path}", "request": request}


def _segment(segment: str) -> str:
    match = _PARAMETER.fullmatch(segment)
    if match is None:
        return segment
    name = match.group(1)
    return "{{" + name + "}}" if name in SHARED else ":" + name


def _example(schema: dict[str, Any]) -> Any:
    """A small example of a JSON schema: required fields, first alternative of a choice."""
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return _example(schema[key][0])
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        required = schema.get("required", [])
        properties = schema.get("properties", {})
        return {name: _example(properties[name]) for name in required if name in properties}
    if kind == "array":
        return [_example(schema.get("items", {}))]
    return _EXAMPLES.get(str(kind))


def _json_text(value: Any) -> str:
    return json.dumps(value, indent=2)
