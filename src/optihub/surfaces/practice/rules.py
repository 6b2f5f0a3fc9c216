"""Field rules of the practice dialect and their messages, worded as the vendor's validator
(joi) words them: ``"email" must be a valid email``, ``"page" must be greater than or
equal to 1``, ``"[2].name_last" is required``.

One ``Rule`` checks one value, from a JSON body (types as sent) or from a query string
(``text=True``: numbers and booleans are converted from their text, as the vendor does).
Every violation is collected, never only the first, in the order the rules are declared,
so the same input always gives the same message.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from optihub.errors import BadRequest
from optihub.services.users import EMAIL_RE

# The largest integer the vendor's JavaScript validator calls safe (2**53 - 1).
MAX_SAFE_INTEGER = 9_007_199_254_740_991
_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2})?$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")
DATE_MESSAGE = "{label} must be YYYY-MM-DD or YYYY-MM-DDTHH:mm:ss"
# The vendor's phone pattern, for the ``phone`` filter and patient bodies alike (its
# document: "phone (10 digits)", filter ``^\d{10}$``): ten ASCII digits and nothing else,
# as the vendor's JavaScript pattern matches (no trailing newline, no other scripts' digits).
PHONE_PATTERN = r"/^\d{10}$/"
PHONE_RE = re.compile(r"\d{10}", re.ASCII)


class Invalid(Exception):
    """A value broke its rule; ``message`` is the vendor's sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Rule:
    """What one field accepts. ``kind``: string, email, phone, date, guid, integer,
    number (money: at most two decimals), boolean, choice (one of ``choices``)."""

    kind: str = "string"
    required: bool = False
    max_length: int | None = None
    minimum: int | Decimal | None = None
    maximum: int | Decimal | None = None
    choices: tuple[str, ...] = ()
    # Body fields: an explicit null is the same as leaving the field out.
    nullable: bool = True
    # Dates no later than today (a date of birth).
    not_future: bool = False

    def describe(self) -> str:
        """The rule in plain words, for the documentation of the OpenAPI."""
        words = {
            "email": "a valid email",
            "phone": "10 digits",
            "date": "YYYY-MM-DD or YYYY-MM-DDTHH:mm:ss",
            "guid": "a GUID",
            "integer": "an integer",
            "number": "a number with at most 2 decimals",
            "boolean": "true or false",
            "choice": "one of " + ", ".join(self.choices),
            "string": "text",
        }
        return words[self.kind]


def quoted(label: str) -> str:
    return f'"{label}"'


def check(rule: Rule, value: Any, label: str, *, text: bool = False) -> Any:
    """The value as OptiHub takes it (str, int, Decimal, bool, date, UUID) or ``Invalid``."""
    name = quoted(label)
    kind = rule.kind
    if kind in {"integer", "number"}:
        return _number(rule, value, name, text=text)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if text and isinstance(value, str) and value.strip().lower() in {"true", "false"}:
            return value.strip().lower() == "true"
        raise Invalid(f"{name} must be a boolean")
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a string")
    if "\x00" in value:
        raise Invalid(f"{name} must not contain NUL characters")
    if kind == "date":
        return _date(rule, value, label)
    if value == "":
        raise Invalid(f"{name} is not allowed to be empty")
    if kind == "email":
        if len(value) > 254 or not EMAIL_RE.match(value):
            raise Invalid(f"{name} must be a valid email")
        return value
    if kind == "phone":
        if not PHONE_RE.fullmatch(value):
            raise Invalid(
                f"{name} with value {quoted(value)} fails to match the required pattern: "
                f"{PHONE_PATTERN}"
            )
        return value
    if kind == "guid":
        if not _GUID.match(value):
            raise Invalid(f"{name} must be a valid GUID")
        return uuid.UUID(value)
    if kind == "choice":
        if value not in rule.choices:
            raise Invalid(f"{name} must be one of [{', '.join(rule.choices)}]")
        return value
    if rule.max_length is not None and len(value) > rule.max_length:
        raise Invalid(
            f"{name} length must be less than or equal to {rule.max_length} characters long"
        )
    return value


def _number(rule: Rule, value: Any, name: str, *, text: bool) -> int | Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Invalid(f"{name} must be a number")
    if isinstance(value, str):
        if not text or not _NUMBER.match(value):
            raise Invalid(f"{name} must be a number")
        try:
            number = Decimal(value.strip())
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits numbers only
            raise Invalid(f"{name} must be a number") from exc
    elif isinstance(value, float):
        if value != value or value in {float("inf"), float("-inf")}:
            raise Invalid(f"{name} must be a number")
        number = Decimal(repr(value))
    else:
        number = Decimal(value)
    if abs(number) > MAX_SAFE_INTEGER:
        raise Invalid(f"{name} must be a safe number")
    if rule.kind == "integer" and number != number.to_integral_value():
        raise Invalid(f"{name} must be an integer")
    if rule.kind == "number" and number != number.quantize(Decimal("0.01")):
        raise Invalid(f"{name} must have no more than 2 decimal places")
    if rule.minimum is not None and number < rule.minimum:
        raise Invalid(f"{name} must be greater than or equal to {rule.minimum}")
    if rule.maximum is not None and number > rule.maximum:
        raise Invalid(f"{name} must be less than or equal to {rule.maximum}")
    return int(number) if rule.kind == "integer" else number.quantize(Decimal("0.01"))


def _date(rule: Rule, value: str, label: str) -> date | datetime:
    """A date, or a date-time (naive: UTC) when a time was given."""
    message = DATE_MESSAGE.format(label=label)
    if not _DATE.match(value):
        raise Invalid(message)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Invalid(message) from exc
    if rule.not_future and parsed.date() > date.today():
        raise Invalid(f'{quoted(label)} must be less than or equal to "now"')
    return parsed if "T" in value else parsed.date()


def day_of(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def check_object(
    rules: Mapping[str, Rule],
    value: Any,
    prefix: str,
    errors: list[str],
    *,
    text: bool = False,
) -> dict[str, Any]:
    """The checked fields of one object (unknown fields refused), violations appended to
    ``errors`` in the order of ``rules``, then unknown fields in the order sent."""
    label = prefix.rstrip(".") or "value"
    if not isinstance(value, dict):
        errors.append(f"{quoted(label)} must be of type object")
        return {}
    checked: dict[str, Any] = {}
    for name, rule in rules.items():
        raw = value.get(name)
        if raw is None:
            if rule.required:
                errors.append(f"{quoted(prefix + name)} is required")
            elif name in value and not rule.nullable:
                errors.append(f"{quoted(prefix + name)} must not be null")
            continue
        try:
            checked[name] = check(rule, raw, prefix + name, text=text)
        except Invalid as exc:
            errors.append(exc.message)
    for name in value:
        if name not in rules:
            errors.append(f"{quoted(prefix + str(name))} is not allowed")
    return checked


def refuse(errors: Sequence[str]) -> None:
    """Raise the vendor's 400 with every violation, joined by commas (none: return)."""
    if errors:
        raise BadRequest(",".join(errors), code="validation_failed")


def json_schema(rule: Rule) -> dict[str, Any]:
    """The rule as a JSON schema (for the OpenAPI document)."""
    schemas: dict[str, dict[str, Any]] = {
        "email": {"type": "string", "format": "email", "maxLength": 254},
        "phone": {"type": "string", "pattern": r"^\d{10}$"},
        "date": {"type": "string", "pattern": _DATE.pattern},
        "guid": {"type": "string", "format": "uuid"},
        "integer": {"type": "integer"},
        "number": {"type": "number"},
        "boolean": {"type": "boolean"},
        "choice": {"type": "string", "enum": list(rule.choices)},
        "string": {"type": "string", "minLength": 1},
    }
    schema = dict(schemas[rule.kind])
    if rule.max_length is not None and rule.kind == "string":
        schema["maxLength"] = rule.max_length
    if rule.minimum is not None:
        schema["minimum"] = int(rule.minimum)
    if rule.maximum is not None:
        schema["maximum"] = int(rule.maximum)
    return schema


def object_schema(rules: Mapping[str, Rule], **more: dict[str, Any]) -> dict[str, Any]:
    """A JSON object of these fields (plus ``more``), unknown fields refused."""
    properties = {name: json_schema(rule) for name, rule in rules.items()}
    for name, rule in rules.items():
        if not rule.required:
            properties[name] = {"anyOf": [properties[name], {"type": "null"}]}
    return {
        "type": "object",
        "properties": properties | more,
        "required": [name for name, rule in rules.items() if rule.required],
        "additionalProperties": False,
    }
