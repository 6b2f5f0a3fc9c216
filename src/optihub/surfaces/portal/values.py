"""Between the codec's typed values and the plain values the sync service keeps (decimals
as text, instants as ISO-8601 text, times as ``HH:MM:SS``), and the JSON Schema of each
model for the OpenAPI document."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from optihub.surfaces.portal.codec import (
    DECIMAL_MAX,
    INT_MAX,
    INT_MIN,
    SUB_MODELS,
    Field,
    Model,
    max_length,
)


def _fields(model: Model) -> dict[str, Field]:
    found = {field.name: field for field in model.fields}
    if model.has_base:
        found.setdefault("ExternalId", Field("ExternalId", "string", True))
    return found


def plain(model: Model, record: Mapping[str, Any]) -> dict[str, Any]:
    """A decoded record as plain JSON values (``FileContent`` is left out: the service
    takes the file's bytes on their own)."""
    fields = _fields(model)
    out: dict[str, Any] = {}
    for name, value in record.items():
        field = fields.get(name)
        if field is None or name == "FileContent":
            continue
        out[name] = _plain(field, value)
    return out


def _plain(field: Field, value: Any) -> Any:
    if value is None:
        return None
    if field.kind == "decimal":
        return str(value)
    if field.kind in ("datetime", "time"):
        return value.isoformat()
    if field.kind == "list":
        sub = SUB_MODELS[field.model or ""]
        return [plain(sub, item) for item in value]
    return value


def typed(model: Model, record: Mapping[str, Any]) -> dict[str, Any]:
    """A stored record back in the codec's types, for encoding."""
    fields = _fields(model)
    out: dict[str, Any] = {}
    for name, value in record.items():
        field = fields.get(name)
        if name == "Id" or field is None:
            out[name] = value
            continue
        out[name] = _typed(field, value)
    return out


def _typed(field: Field, value: Any) -> Any:
    if value is None:
        return None
    if field.kind == "decimal":
        return Decimal(str(value))
    if field.kind == "datetime":
        return datetime.fromisoformat(value) if isinstance(value, str) else value
    if field.kind == "time":
        return time.fromisoformat(value) if isinstance(value, str) else value
    if field.kind == "list":
        sub = SUB_MODELS[field.model or ""]
        return [typed(sub, item) for item in value]
    return value


# -- OpenAPI -------------------------------------------------------------------------------

# Strings: ``_string`` (a JSON number is taken for a string member too: an integrating
# system may send a zip code as a number).
_SCHEMAS: dict[str, dict[str, Any]] = {
    "bool": {"type": "boolean"},
    "int": {"type": "integer", "minimum": INT_MIN, "maximum": INT_MAX},
    "decimal": {"type": "number", "minimum": -int(DECIMAL_MAX), "maximum": int(DECIMAL_MAX)},
    # Instants (ISO-8601; a date alone is midnight UTC), times and base64 files are text.
    "datetime": {"type": "string"},
    "time": {"type": "string"},
    "bytes": {"type": "string"},
    "strings": {"type": "array", "items": {"type": "string"}},
}


def _string(field: Field) -> dict[str, Any]:
    text: dict[str, Any] = {"type": "string", "maxLength": max_length(field)}
    if field.required:
        text["minLength"] = 1
    return {"anyOf": [text, {"type": "number"}]}


def camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def json_schema(model: Model, *, for_input: bool = True) -> dict[str, Any]:
    """The model in camelCase, as the JSON body carries it."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in model.fields:
        if field.kind == "list":
            schema: dict[str, Any] = {
                "type": "array",
                "items": json_schema(SUB_MODELS[field.model or ""], for_input=for_input),
            }
        elif field.kind == "string":
            schema = _string(field)
        else:
            schema = dict(_SCHEMAS[field.kind])
        if not field.required:
            schema = {"anyOf": [schema, {"type": "null"}]}
        properties[camel(field.name)] = schema
        if field.required and for_input:
            required.append(camel(field.name))
    if model.has_base:
        if not for_input:
            properties["id"] = {"type": "string", "format": "uuid"}
        properties["externalId"] = _string(Field("ExternalId", "string", True))
        required.append("externalId")
    out: dict[str, Any] = {"type": "object", "title": model.name, "properties": properties}
    if required:
        out["required"] = required
    return out
