"""Public ids: the vendor's prefixes on OptiHub row ids (``lab_<32 hex>``)."""

from __future__ import annotations

import uuid

from optihub.errors import BadRequest, NotFound


def public_id(prefix: str, row_id: uuid.UUID) -> str:
    return f"{prefix}_{row_id.hex}"


def row_id(prefix: str, raw: str, *, kind: str) -> uuid.UUID:
    """The row an id names; a malformed id is as unknown as a missing one (404)."""
    head, _, tail = raw.partition("_")
    try:
        if head != prefix or len(tail) != 32:
            raise ValueError(raw)
        return uuid.UUID(hex=tail)
    except ValueError:
        raise NotFound(kind, raw) from None


def required(value: str | None, param: str) -> str:
    if value is None or not value.strip():
        raise BadRequest(f"{param} is required", code="parameter_missing", field=param)
    return value
