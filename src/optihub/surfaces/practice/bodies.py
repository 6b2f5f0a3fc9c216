"""Write bodies: one record or an array of them (bulk), checked in full before anything is
written, every violation named with its record's index (``"[2].email" must be a valid
email``); and, once written, a service's refusal of record N named the same way. The
request's transaction makes a bulk write atomic: one refusal, nothing written."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from optihub.errors import Conflict, FieldError, ValidationFailed
from optihub.surfaces.practice.mapping import MAX_BULK, dialect_field
from optihub.surfaces.practice.rules import Rule, check_object, object_schema, refuse


@dataclass(frozen=True)
class Records:
    """The checked records of a body; ``bulk``: it was an array."""

    items: list[dict[str, Any]]
    bulk: bool

    def prefix(self, index: int) -> str:
        return f"[{index}]." if self.bulk else ""

    @contextmanager
    def writing(self, index: int, fields: Mapping[str, str]) -> Iterator[None]:
        """A service's refusal of record ``index``, with the record and field named as the
        caller sent them (the service's words kept)."""
        prefix = self.prefix(index)
        try:
            yield
        except ValidationFailed as exc:
            raise ValidationFailed(
                [FieldError(prefix + dialect_field(e.field, fields), e.message) for e in exc.errors]
            ) from exc
        except Conflict as exc:
            if not self.bulk:
                raise
            raise Conflict(f'"[{index}]" {exc.message}', allowed=exc.allowed) from exc

    @contextmanager
    def batch(self, fields: Mapping[str, str]) -> Iterator[None]:
        """A batch service's refusal (its errors carry the record ``index``; a conflict
        says ``Record N: …``) named as the caller sent the records."""
        try:
            yield
        except ValidationFailed as exc:
            raise ValidationFailed(
                [
                    FieldError(
                        self.prefix(e.index or 0) + dialect_field(e.field, fields), e.message
                    )
                    for e in exc.errors
                ]
            ) from exc
        except Conflict as exc:
            found = _RECORD.match(exc.message)
            if found is None:
                raise
            index, message = int(found.group(1)), found.group(2)
            named = f'"[{index}]" {message}' if self.bulk else message
            raise Conflict(named, allowed=exc.allowed) from exc


_RECORD = re.compile(r"^Record (\d+): (.*)$", re.DOTALL)

Nested = Mapping[str, tuple[Mapping[str, Rule], int]]


def record(body: Any, rules: Mapping[str, Rule], *, some: bool = False) -> dict[str, Any]:
    """One object checked against ``rules`` (an array is refused); ``some``: it must
    set at least one field (a patch)."""
    if body is None:
        refuse(['"value" is required'])
    if not isinstance(body, dict):
        refuse(['"value" must be of type object'])
    if some and not body:
        refuse(['"value" must have at least 1 key'])
    errors: list[str] = []
    checked = check_object(rules, body, "", errors)
    refuse(errors)
    return checked


def records(body: Any, rules: Mapping[str, Rule], nested: Nested | None = None) -> Records:
    """The body's records checked against ``rules`` (``nested``: array fields of objects,
    each with its rules and most items), or the vendor's 400 naming every violation."""
    errors: list[str] = []
    if body is None:
        refuse(['"value" is required'])
    if isinstance(body, list):
        if not body:
            refuse(['"value" must contain at least 1 items'])
        if len(body) > MAX_BULK:
            refuse([f'"value" must contain less than or equal to {MAX_BULK} items'])
        items = [
            _record(rules, nested or {}, item, f"[{i}].", errors) for i, item in enumerate(body)
        ]
        refuse(errors)
        return Records(items, bulk=True)
    if not isinstance(body, dict):
        refuse(['"value" must be an object or an array of objects'])
    item = _record(rules, nested or {}, body, "", errors)
    refuse(errors)
    return Records([item], bulk=False)


def _record(
    rules: Mapping[str, Rule], nested: Nested, value: Any, prefix: str, errors: list[str]
) -> dict[str, Any]:
    if not isinstance(value, dict):
        return check_object(rules, value, prefix, errors)
    plain = {k: v for k, v in value.items() if k not in nested}
    checked = check_object(rules, plain, prefix, errors)
    for name, (item_rules, most) in nested.items():
        raw = value.get(name)
        if raw is None:
            continue
        label = f'"{prefix}{name}"'
        if not isinstance(raw, list):
            errors.append(f"{label} must be an array")
            continue
        if len(raw) > most:
            errors.append(f"{label} must contain less than or equal to {most} items")
            continue
        checked[name] = [
            check_object(item_rules, item, f"{prefix}{name}[{j}].", errors)
            for j, item in enumerate(raw)
        ]
    return checked


def request_body(rules: Mapping[str, Rule], nested: Nested | None = None) -> dict[str, Any]:
    """The route's ``openapi_extra``: one record or an array of them."""
    more = {
        name: {"type": "array", "items": object_schema(item_rules), "maxItems": most}
        for name, (item_rules, most) in (nested or {}).items()
    }
    record = object_schema(rules, **more)
    schema = {
        "oneOf": [record, {"type": "array", "items": record, "minItems": 1, "maxItems": MAX_BULK}]
    }
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def object_body(rules: Mapping[str, Rule], *, some: bool = False) -> dict[str, Any]:
    """The route's ``openapi_extra``: one object (``some``: with at least one field)."""
    schema = object_schema(rules)
    if some:
        schema["minProperties"] = 1
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
