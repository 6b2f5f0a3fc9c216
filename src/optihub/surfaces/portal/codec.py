"""The portal sync dialect's bodies: JSON and DataContract-style XML ↔ plain Python values.

Pure: no HTTP, no storage. Routes pick the codec by ``Content-Type``/``Accept`` and turn
:class:`Invalid` into a 400 carrying ``{"Message", "ModelState"}``; an XML body with a DTD,
entities or bad syntax surfaces as ``optihub.errors.BadRequest`` from ``parse_xml``.

Decoded records are dicts keyed by the PascalCase member names the integrator's models
use (``ExternalId``, ``PickupDate``, ``OrderDetails``…), holding Python values: ``str``,
``bool``, ``int``, ``Decimal``, timezone-aware ``datetime``, ``time``, ``bytes``,
``list[str]`` and ``list[dict]`` for sub-models. A member absent from the body is absent
from the dict; an explicit ``null`` / ``i:nil="true"`` is present as ``None``. The
read-only ``Id`` and unknown members are ignored, as integrators' clients expect from an
ASP.NET Web API.

Every member accepts ``None`` (the practice-management system may simply not know a
value) except the required ones, which must be present, non-null and not blank.

Strings have a maximum length, counted in characters:

* 100 — ids and codes: ``ExternalId`` and every ``…ExternalId``, ``Phone``, ``State``,
  ``ZipCode``, ``Country``, ``TimeZoneId``, ``Type`` and each item of a list of ids;
* 200 — names and addresses (see ``_NAME_LIKE``);
* 4000 — free text: notes, Rx details, comments, descriptions (see ``_FREE_TEXT``).

Strings may only hold characters XML 1.0 can carry, so that every record decoded from
JSON can be written as XML too.

Choices where the integrator's own API is silent:

* JSON input matches member names case-insensitively, and XML input matches element local
  names case-insensitively, in any order and any namespace; the XML root's local name must
  be the model's name exactly. When a member repeats, the last one wins.
* JSON numbers for string members are taken as their text (zip codes sent as numbers);
  bool/int/decimal members take JSON's own booleans and numbers only (what the OpenAPI
  document says). In XML, booleans are ``true``/``false``/``1``/``0``, any case.
* Datetimes: ISO-8601 date, or date and time, with ``Z`` or ``±HH:MM`` (no offset = UTC);
  fractional seconds beyond microseconds (.NET writes 100 ns ticks) are truncated. Times:
  ``HH:MM[:SS[.fraction]]``, written back as ``HH:MM:SS`` (plus microseconds if any).
* Decimals: within .NET's decimal range; more than 28 decimal places are rounded to 28
  (half-even) like .NET does, but a number other than 0 that would round to 0
  (``-1e-999999999``) is refused, as one over the range is; written as plain fixed-point
  numbers (never an exponent).
* A search page in XML is ``<PagedResultOf{Model}>`` in the base models namespace with the
  page counts and a ``<Rows>`` list of model elements; ModelState messages repeat the
  element once per message.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any
from xml.etree.ElementTree import Element

import orjson

from optihub.surfaces.kit.responses import local_name, parse_xml

BASE_NAMESPACE = "http://schemas.datacontract.org/2004/07/GlobalPortal.Api.Models"
XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"
ARRAYS_NAMESPACE = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"

KINDS = frozenset(
    {"string", "bool", "int", "decimal", "datetime", "time", "bytes", "strings", "list"}
)

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
DECIMAL_MAX = Decimal("79228162514264337593543950335")
DECIMAL_PLACES = 28


@dataclass(frozen=True)
class Field:
    """One member of a model. ``kind`` is one of :data:`KINDS`; ``model`` names the
    sub-model (in :data:`SUB_MODELS`) of a ``list`` member."""

    name: str
    kind: str
    required: bool = False
    model: str | None = None


@dataclass(frozen=True)
class Model:
    """A resource's wire model; ``has_base`` adds the ``Id``/``ExternalId`` members."""

    resource: str
    name: str
    namespace: str
    fields: tuple[Field, ...]
    has_base: bool = True


class Invalid(Exception):
    """The body could not be bound: a 400 with ``message`` and ``model_state`` (member
    path → messages, e.g. ``{"model.OrderDetails[0].Quantity": ["The value 'x' is not
    valid for Quantity."]}``)."""

    def __init__(
        self, model_state: dict[str, list[str]], message: str = "The request is invalid."
    ) -> None:
        super().__init__(message)
        self.message = message
        self.model_state = model_state


# ---------------------------------------------------------------------------- models


def _ns(suffix: str) -> str:
    return f"{BASE_NAMESPACE}.{suffix}"


def _s(name: str, required: bool = False) -> Field:
    return Field(name, "string", required)


def _b(name: str, required: bool = False) -> Field:
    return Field(name, "bool", required)


def _dt(name: str) -> Field:
    return Field(name, "datetime")


def _dec(name: str) -> Field:
    return Field(name, "decimal")


_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")

_ORDER_DETAIL = Model(
    "OrderDetails",
    "OrderDetailModel",
    _ns("Orders"),
    (
        _s("OrderDetailExternalId"),
        _s("ProductDescription"),
        Field("Quantity", "int"),
        _dec("RetailPrice"),
        _dec("UnitPrice"),
        _dec("Tax1"),
        _dec("Tax2"),
    ),
    has_base=False,
)

SUB_MODELS: dict[str, Model] = {_ORDER_DETAIL.name: _ORDER_DETAIL}

_ALL = (
    Model(
        "Locations",
        "LocationModel",
        _ns("Locations"),
        (
            _s("Name", required=True),
            _s("Alias"),
            _b("Active"),
            _s("Notes"),
            _s("Address1"),
            _s("Address2"),
            _s("City"),
            _s("State"),
            _s("ZipCode"),
            _s("Country"),
            _s("Phone"),
            _s("TimeZoneId"),
            *(
                f
                for day in _DAYS
                for f in (
                    _b(f"{day}Closed"),
                    Field(f"{day}From", "time"),
                    Field(f"{day}To", "time"),
                )
            ),
        ),
    ),
    Model(
        "Doctors",
        "DoctorModel",
        _ns("Doctors"),
        (
            _s("LastName", required=True),
            _s("FirstName"),
            _s("Alias"),
            _b("Active", required=True),
            _b("InHouse", required=True),
            _s("LocationExternalId"),
            _s("EmailAddress"),
            Field("Locations", "strings"),
        ),
    ),
    Model(
        "Users",
        "UserModel",
        _ns("Users"),
        (
            _s("Username"),
            _s("FirstName"),
            _s("LastName"),
            _s("EmailAddress"),
            _b("Active"),
            _s("LocationExternalId"),
        ),
    ),
    Model(
        "Patients",
        "PatientModel",
        _ns("Patients"),
        (
            _s("FirstName"),
            _s("LastName", required=True),
            _dt("Birthday"),
            _s("EmailAddress"),
            _s("Phone"),
            _s("Address1"),
            _s("Address2"),
            _s("City"),
            _s("State"),
            _s("ZipCode"),
            _s("Country"),
            _s("LocationExternalId"),
            _s("DoctorExternalId"),
            _b("Active"),
            _s("Notes"),
            _b("AllowEmailReminders"),
            _b("AllowSmsReminders"),
            _b("AllowEmailMarketing"),
            _b("AllowSmsMarketing"),
            # Kept in the core as the patient's eyewear-ready consents (docs/patients.md).
            _b("AllowEmailEyeWear"),
            _b("AllowSmsEyewear"),
        ),
    ),
    Model(
        "PatientRelationships",
        "PatientRelationshipModel",
        _ns("Patients"),
        (_s("Name"), Field("SortOrder", "int"), _b("IsDefault")),
    ),
    Model(
        "FamilyMembers",
        "FamilyMemberModel",
        _ns("Patients"),
        (_s("PatientExternalId", required=True), _s("RelativeExternalId", required=True)),
    ),
    Model(
        "OrderStatuses",
        "OrderStatusModel",
        _ns("Orders"),
        (_s("Name", required=True), _b("Active")),
    ),
    Model(
        "Orders",
        "OrderModel",
        _ns("Orders"),
        (
            _dt("Created"),
            _dt("PickupDate"),
            _s("PatientExternalId", required=True),
            _s("LocationExternalId", required=True),
            _s("PhysicianExternalId"),
            _s("UserExternalId"),
            _s("OrderStatusExternalId"),
            _dec("OrderBalance"),
            _dec("PatientBalance"),
            _s("ReceiptNote"),
            _s("Type"),
            Field("OrderDetails", "list", model=_ORDER_DETAIL.name),
        ),
    ),
    Model(
        "GlassesPrescriptions",
        "GlassesPrescriptionModel",
        _ns("Prescriptions"),
        (
            _s("PatientExternalId", required=True),
            _s("RightEyePrescriptionDetails"),
            _s("LeftEyePrescriptionDetails"),
            _dt("RightEyeExpirationDate"),
            _dt("LeftEyeExpirationDate"),
            _s("RightEyeComments"),
            _s("LeftEyeComments"),
            _dt("PrescribedDate"),
            _b("PortalCreated"),
            _b("Active"),
            _s("FileName"),
            Field("FileContent", "bytes"),
        ),
    ),
    Model(
        "ContactLensPrescriptions",
        "ContactLensPrescriptionModel",
        _ns("Prescriptions"),
        (
            _s("PatientExternalId", required=True),
            _s("LensNameRightEye"),
            _s("LensNameLeftEye"),
            _s("PrescriptionRightEye"),
            _s("PrescriptionLeftEye"),
            _s("CommentRightEye"),
            _s("CommentLeftEye"),
            _dt("ExpirationDateRightEye"),
            _dt("ExpirationDateLeftEye"),
            _dt("PrescribedDate"),
            _b("PortalCreated"),
            _b("Active"),
            _s("FileName"),
            Field("FileContent", "bytes"),
        ),
    ),
    Model(
        "AppointmentTypes",
        "AppointmentTypeModel",
        _ns("Appointments"),
        (_s("Name", required=True), _b("IsTelemedicine")),
    ),
    Model(
        "AppointmentStatuses",
        "AppointmentStatusModel",
        _ns("Appointments"),
        (
            _s("Name"),
            _b("IsCanceled"),
            _b("IsRescheduled"),
            _b("IsConfirmed"),
            _b("IsCheckedOut"),
            _b("IsCheckIn"),
        ),
    ),
    Model(
        "Appointments",
        "AppointmentModel",
        _ns("Appointments"),
        (
            _s("LocationExternalId"),
            _s("DoctorExternalId"),
            _s("PatientExternalId"),
            _s("AppointmentStatusExternalId", required=True),
            _s("AppointmentTypeExternalId"),
            _s("CancelReason"),
            _dt("Start"),
            _dt("End"),
        ),
    ),
)

MODELS: dict[str, Model] = {m.resource: m for m in _ALL}

_EXTERNAL_ID = _s("ExternalId", required=True)

_FREE_TEXT = frozenset(
    {
        "Notes",
        "ReceiptNote",
        "ProductDescription",
        "CancelReason",
        "RightEyePrescriptionDetails",
        "LeftEyePrescriptionDetails",
        "RightEyeComments",
        "LeftEyeComments",
        "PrescriptionRightEye",
        "PrescriptionLeftEye",
        "CommentRightEye",
        "CommentLeftEye",
    }
)
_NAME_LIKE = frozenset(
    {
        "Name",
        "Alias",
        "FirstName",
        "LastName",
        "Username",
        "EmailAddress",
        "Address1",
        "Address2",
        "City",
        "FileName",
        "LensNameRightEye",
        "LensNameLeftEye",
    }
)


def max_length(field: Field) -> int:
    """The longest string (in characters) a string member, or an item of a list of
    strings, may hold."""
    if field.name in _FREE_TEXT:
        return 4000
    if field.name in _NAME_LIKE:
        return 200
    return 100


def _input_fields(model: Model) -> tuple[Field, ...]:
    return ((_EXTERNAL_ID,) if model.has_base else ()) + model.fields


def _sub_model(field: Field) -> Model:
    assert field.model is not None
    return SUB_MODELS[field.model]


# ------------------------------------------------------------------- scalar parsing


class _Bad(Exception):
    """A value that cannot be bound; carries the ModelState message."""


class _NonFinite:
    """``NaN``/``Infinity`` in a JSON body: kept so the member can be named in the error."""

    def __init__(self, text: str) -> None:
        self.text = text


_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_INT = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DATETIME = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})"
    r"(?:[Tt ](?P<h>[0-9]{2}):(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2})(?:[.,](?P<f>[0-9]+))?)?)?"
    r"(?P<tz>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
_TIME = re.compile(r"(?P<h>[0-9]{1,2}):(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]+))?)?")
_ASCII_SPACE = re.compile(r"[ \t\r\n]+")


def _show(raw: object) -> str:
    """An input value as the error message quotes it: short, and printable in XML."""
    if raw is None:
        text = "null"
    elif isinstance(raw, bool):
        text = "true" if raw else "false"
    elif isinstance(raw, _NonFinite):
        text = raw.text
    elif isinstance(raw, str | int | Decimal):
        text = str(raw)
    elif isinstance(raw, Element):
        text = "".join(raw.itertext())
    else:
        text = json.dumps(raw, default=str, ensure_ascii=False)
    if len(text) > 100:
        text = text[:100] + "…"
    return _xml_safe(text)


def _not_valid(raw: object, field: Field) -> _Bad:
    return _Bad(f"The value '{_show(raw)}' is not valid for {field.name}.")


def _parse_text(field: Field, text: str) -> Any:
    """A scalar member (not a string) from its text, as XML carries it."""
    stripped = text.strip()
    if field.kind == "bool":
        lowered = stripped.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise _not_valid(text, field)
    if field.kind == "int":
        if len(stripped) > 12 or not _INT.fullmatch(stripped):
            raise _not_valid(text, field)
        value = int(stripped)
        if not INT_MIN <= value <= INT_MAX:
            raise _not_valid(text, field)
        return value
    if field.kind == "decimal":
        if len(stripped) > 400 or not _DECIMAL.fullmatch(stripped):
            raise _not_valid(text, field)
        return _checked_decimal(Decimal(stripped), text, field)
    if field.kind == "datetime":
        return _parse_datetime(stripped, text, field)
    if field.kind == "time":
        return _parse_time(stripped, text, field)
    if field.kind == "bytes":
        try:
            return base64.b64decode(_ASCII_SPACE.sub("", text), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _not_valid(text, field) from exc
    raise AssertionError(field.kind)


def _checked_decimal(value: Decimal, raw: object, field: Field) -> Decimal:
    if not value.is_finite() or value.copy_abs() > DECIMAL_MAX:
        raise _not_valid(raw, field)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -DECIMAL_PLACES:
        with localcontext() as ctx:
            ctx.prec = 80
            rounded = value.quantize(Decimal(1).scaleb(-DECIMAL_PLACES), ROUND_HALF_EVEN)
        # Too small for the decimal, as a huge one is too large: refused, not kept as 0.
        if rounded.is_zero() and not value.is_zero():
            raise _not_valid(raw, field)
        value = rounded
    return value


def _offset(text: str | None) -> timezone:
    if text is None or text in ("Z", "z"):
        return UTC
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or "0")
    if minutes > 59:
        raise ValueError(text)
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if text[0] == "-" else delta)


def _micro(fraction: str | None) -> int:
    return int((fraction or "0")[:6].ljust(6, "0"))


def _parse_datetime(stripped: str, raw: str, field: Field) -> datetime:
    match = _DATETIME.fullmatch(stripped)
    if not match:
        raise _not_valid(raw, field)
    try:
        return datetime(
            int(match["y"]),
            int(match["mo"]),
            int(match["d"]),
            int(match["h"] or 0),
            int(match["mi"] or 0),
            int(match["s"] or 0),
            _micro(match["f"]),
            tzinfo=_offset(match["tz"]),
        )
    except ValueError as exc:
        raise _not_valid(raw, field) from exc


def _parse_time(stripped: str, raw: str, field: Field) -> time:
    match = _TIME.fullmatch(stripped)
    if not match:
        raise _not_valid(raw, field)
    try:
        return time(int(match["h"]), int(match["mi"]), int(match["s"] or 0), _micro(match["f"]))
    except ValueError as exc:
        raise _not_valid(raw, field) from exc


def _checked_string(value: str, field: Field) -> str:
    if _NOT_XML_CHAR.search(value):
        raise _Bad(f"The field {field.name} contains characters that are not allowed.")
    limit = max_length(field)
    if len(value) > limit:
        raise _Bad(f"The field {field.name} must be a string with a maximum length of {limit}.")
    return value


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class _Errors:
    def __init__(self) -> None:
        self.state: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.state.setdefault(path, []).append(message)


def _required(field: Field) -> str:
    return f"The {field.name} field is required."


# ------------------------------------------------------------------------ JSON input


def _reject_constant(text: str) -> _NonFinite:
    return _NonFinite(text)


def decode_json(model: Model, body: bytes) -> dict[str, Any]:
    """A record from a JSON body; :class:`Invalid` lists every problem at once."""
    if not body.strip():
        raise Invalid({"model": ["A non-empty request body is required."]})
    try:
        data = json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, huge ints
        raise Invalid({"model": ["The request body is not valid JSON."]}) from exc
    if not isinstance(data, dict):
        raise Invalid({"model": ["The request body must be a JSON object."]})
    errors = _Errors()
    record = _json_object(model, data, "model", errors)
    if errors.state:
        raise Invalid(errors.state)
    return record


def _json_object(
    model: Model, data: Mapping[str, Any], prefix: str, errors: _Errors
) -> dict[str, Any]:
    members = {key.lower(): value for key, value in data.items()}
    record: dict[str, Any] = {}
    for field in _input_fields(model):
        path = f"{prefix}.{field.name}"
        key = field.name.lower()
        if key not in members:
            if field.required:
                errors.add(path, _required(field))
            continue
        raw = members[key]
        if field.required and _is_blank(raw):
            errors.add(path, _required(field))
            continue
        try:
            value = _json_value(field, raw, path, errors)
        except _Bad as exc:
            errors.add(path, str(exc))
            continue
        if field.required and _is_blank(value):
            errors.add(path, _required(field))
            continue
        record[field.name] = value
    return record


def _json_value(field: Field, raw: Any, path: str, errors: _Errors) -> Any:
    if raw is None:
        return None
    if isinstance(raw, _NonFinite):
        raise _not_valid(raw, field)
    kind = field.kind
    if kind == "string":
        if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
            raise _not_valid(raw, field)
        return _checked_string(raw if isinstance(raw, str) else str(raw), field)
    if kind == "strings":
        if not isinstance(raw, list):
            raise _not_valid(raw, field)
        items: list[str] = []
        for index, item in enumerate(raw):
            try:
                if not isinstance(item, str):
                    raise _not_valid(item, field)
                items.append(_checked_string(item, field))
            except _Bad as exc:
                errors.add(f"{path}[{index}]", str(exc))
        return items
    if kind == "list":
        if not isinstance(raw, list):
            raise _not_valid(raw, field)
        sub = _sub_model(field)
        rows: list[dict[str, Any]] = []
        for index, item in enumerate(raw):
            if not isinstance(item, dict):
                errors.add(f"{path}[{index}]", _not_valid(item, field).args[0])
                continue
            rows.append(_json_object(sub, item, f"{path}[{index}]", errors))
        return rows
    if isinstance(raw, str):
        # Instants, times and files travel as text; booleans and numbers as JSON's own.
        if kind in ("bool", "int", "decimal"):
            raise _not_valid(raw, field)
        return _parse_text(field, raw)
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        raise _not_valid(raw, field)
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal):
        raise _not_valid(raw, field)
    if kind == "int":
        if isinstance(raw, Decimal):
            if raw != raw.to_integral_value() or raw.copy_abs() > INT_MAX + 1:
                raise _not_valid(raw, field)
            raw = int(raw)
        if not INT_MIN <= raw <= INT_MAX:
            raise _not_valid(raw, field)
        return raw
    if kind == "decimal":
        if isinstance(raw, int) and abs(raw) > DECIMAL_MAX:
            raise _not_valid(raw, field)
        return _checked_decimal(Decimal(raw), raw, field)
    raise _not_valid(raw, field)


# ------------------------------------------------------------------------- XML input


def _is_nil(element: Element) -> bool:
    return any(
        local_name(key) == "nil" and value.strip() in ("true", "1")
        for key, value in element.attrib.items()
    )


def decode_xml(model: Model, body: bytes) -> dict[str, Any]:
    """A record from a DataContract-style XML body (parsed by ``parse_xml``: DTDs and
    entities raise ``BadRequest``); :class:`Invalid` lists every binding problem."""
    if not body.strip():
        raise Invalid({"model": ["A non-empty request body is required."]})
    root = parse_xml(body)
    name = local_name(root.tag)
    if name != model.name:
        namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
        raise Invalid(
            {
                "model": [
                    f"Expecting element '{model.name}' from namespace '{model.namespace}'. "
                    f"Encountered an element with name '{_xml_safe(name)}', "
                    f"namespace '{_xml_safe(namespace)}'."
                ]
            }
        )
    if _is_nil(root):
        raise Invalid({"model": ["A non-empty request body is required."]})
    errors = _Errors()
    record = _xml_object(model, root, "model", errors)
    if errors.state:
        raise Invalid(errors.state)
    return record


def _xml_object(model: Model, element: Element, prefix: str, errors: _Errors) -> dict[str, Any]:
    members = {local_name(child.tag).lower(): child for child in element}
    record: dict[str, Any] = {}
    for field in _input_fields(model):
        path = f"{prefix}.{field.name}"
        child = members.get(field.name.lower())
        if child is None:
            if field.required:
                errors.add(path, _required(field))
            continue
        try:
            value = None if _is_nil(child) else _xml_value(field, child, path, errors)
        except _Bad as exc:
            if field.required and not len(child) and not (child.text or "").strip():
                errors.add(path, _required(field))
            else:
                errors.add(path, str(exc))
            continue
        if field.required and _is_blank(value):
            errors.add(path, _required(field))
            continue
        record[field.name] = value
    return record


def _xml_value(field: Field, element: Element, path: str, errors: _Errors) -> Any:
    kind = field.kind
    if kind == "strings":
        if (element.text or "").strip():
            raise _not_valid(element, field)
        items: list[str] = []
        for index, child in enumerate(element):
            try:
                if _is_nil(child) or len(child):
                    raise _not_valid(None if _is_nil(child) else child, field)
                items.append(_checked_string(child.text or "", field))
            except _Bad as exc:
                errors.add(f"{path}[{index}]", str(exc))
        return items
    if kind == "list":
        if (element.text or "").strip():
            raise _not_valid(element, field)
        sub = _sub_model(field)
        rows: list[dict[str, Any]] = []
        for index, child in enumerate(element):
            if _is_nil(child):
                errors.add(f"{path}[{index}]", _not_valid(None, field).args[0])
                continue
            rows.append(_xml_object(sub, child, f"{path}[{index}]", errors))
        return rows
    if len(element):
        raise _not_valid(element, field)
    text = element.text or ""
    if kind == "string":
        return _checked_string(text, field)
    return _parse_text(field, text)


# ----------------------------------------------------------------------- JSON output


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _decimal_text(value: Any) -> str:
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        raise ValueError(f"a decimal member cannot be {number}")
    return format(number, "f")


def _json_out(field: Field, value: Any) -> Any:
    if value is None:
        return None
    kind = field.kind
    if kind == "decimal":
        return orjson.Fragment(_decimal_text(value).encode())
    if kind == "datetime":
        return _aware(value).isoformat()
    if kind == "time":
        return value.isoformat()
    if kind == "bytes":
        return base64.b64encode(value).decode("ascii")
    if kind == "strings":
        return list(value)
    if kind == "list":
        sub = _sub_model(field)
        return [_json_record(sub, row) for row in value]
    return value


def _json_record(model: Model, record: Mapping[str, Any]) -> dict[str, Any]:
    out = {_camel(f.name): _json_out(f, record.get(f.name)) for f in model.fields}
    if model.has_base:
        identifier = record.get("Id")
        out["id"] = None if identifier is None else str(identifier)
        out["externalId"] = record.get("ExternalId")
    return out


def encode_json(model: Model, record: Mapping[str, Any]) -> bytes:
    """The record as the integrator's JSON: camelCase, every member (``null`` when
    unknown), the model's own members first, then ``id`` and ``externalId``."""
    return orjson.dumps(_json_record(model, record))


_PAGE_KEYS = (
    "TotalItems",
    "ItemsPerPage",
    "CurrentPage",
    "TotalPages",
    "FirstRowOnPage",
    "LastRowOnPage",
)


def encode_page_json(model: Model, page: Mapping[str, Any]) -> bytes:
    """A search page: the counts in camelCase, then ``rows``."""
    out: dict[str, Any] = {_camel(key): page.get(key) for key in _PAGE_KEYS}
    out["rows"] = [_json_record(model, row) for row in page.get("Rows") or ()]
    return orjson.dumps(out)


def encode_error_json(message: str, model_state: Mapping[str, list[str]] | None = None) -> bytes:
    """``{"Message": …, "ModelState": {…}}`` (no ``ModelState`` when there is none)."""
    body: dict[str, Any] = {"Message": _xml_safe(message)}
    if model_state is not None:
        body["ModelState"] = {
            _xml_safe(key): [_xml_safe(m) for m in messages]
            for key, messages in model_state.items()
        }
    return orjson.dumps(body)


# ------------------------------------------------------------------------ XML output


def _xml_safe(text: str) -> str:
    """``text`` with the characters XML cannot carry replaced by U+FFFD."""
    return _NOT_XML_CHAR.sub("\ufffd", text)


def _escape(text: str) -> str:
    # A raw carriage return would come back as a line feed: .NET writes it as &#xD; too.
    # Characters XML cannot carry (only in records stored before these checks) become U+FFFD.
    return (
        _xml_safe(text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\r", "&#xD;")
    )


def _text_of(field: Field, value: Any) -> str:
    kind = field.kind
    if kind == "bool":
        return "true" if value else "false"
    if kind == "decimal":
        return _decimal_text(value)
    if kind == "datetime":
        return str(_aware(value).isoformat())
    if kind == "time":
        return str(value.isoformat())
    if kind == "bytes":
        return base64.b64encode(value).decode("ascii")
    return _escape(str(value))


def _xml_field(parts: list[str], field: Field, value: Any, namespace: str, attrs: str = "") -> None:
    name = field.name
    if value is None:
        parts.append(f'<{name}{attrs} i:nil="true"/>')
    elif field.kind == "strings":
        parts.append(f'<{name}{attrs} xmlns:d2p1="{ARRAYS_NAMESPACE}">')
        parts.extend(f"<d2p1:string>{_escape(item)}</d2p1:string>" for item in value)
        parts.append(f"</{name}>")
    elif field.kind == "list":
        sub = _sub_model(field)
        parts.append(f"<{name}{attrs}>")
        for row in value:
            _xml_model(parts, sub, row, sub.name, _xmlns(sub.namespace, namespace), sub.namespace)
        parts.append(f"</{name}>")
    else:
        parts.append(f"<{name}{attrs}>{_text_of(field, value)}</{name}>")


def _xmlns(namespace: str, inherited: str) -> str:
    return "" if namespace == inherited else f' xmlns="{namespace}"'


_ID = Field("Id", "string")


def _xml_model(
    parts: list[str],
    model: Model,
    record: Mapping[str, Any],
    tag: str,
    attrs: str,
    namespace: str,
) -> None:
    parts.append(f"<{tag}{attrs}>")
    if model.has_base:
        base = _xmlns(BASE_NAMESPACE, namespace)
        _xml_field(parts, _EXTERNAL_ID, record.get("ExternalId"), BASE_NAMESPACE, base)
        identifier = record.get("Id")
        _xml_field(parts, _ID, None if identifier is None else str(identifier), "", base)
    for field in sorted(model.fields, key=lambda f: f.name):
        _xml_field(parts, field, record.get(field.name), namespace)
    parts.append(f"</{tag}>")


_ROOT_ATTRS = f' xmlns:i="{XSI_NAMESPACE}"'


def encode_xml(model: Model, record: Mapping[str, Any]) -> bytes:
    """The record as DataContract XML: root named after the model in its namespace,
    ``ExternalId`` and ``Id`` first (base namespace), then the members alphabetically."""
    parts: list[str] = []
    attrs = f'{_ROOT_ATTRS} xmlns="{model.namespace}"'
    _xml_model(parts, model, record, model.name, attrs, model.namespace)
    return "".join(parts).encode("utf-8")


def encode_page_xml(model: Model, page: Mapping[str, Any]) -> bytes:
    """A search page as ``<PagedResultOf{Model}>``: counts alphabetically, then ``Rows``."""
    parts = [f'<PagedResultOf{model.name}{_ROOT_ATTRS} xmlns="{BASE_NAMESPACE}">']
    members = sorted((*_PAGE_KEYS, "Rows"))
    for key in members:
        if key == "Rows":
            parts.append("<Rows>")
            for row in page.get("Rows") or ():
                attrs = _xmlns(model.namespace, BASE_NAMESPACE)
                _xml_model(parts, model, row, model.name, attrs, model.namespace)
            parts.append("</Rows>")
        else:
            value = page.get(key)
            parts.append(
                f'<{key} i:nil="true"/>' if value is None else f"<{key}>{int(value)}</{key}>"
            )
    parts.append(f"</PagedResultOf{model.name}>")
    return "".join(parts).encode("utf-8")


_NAME_START = (
    "A-Z_a-z\xc0-\xd6\xd8-\xf6\xf8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_NAME_START_CHAR = re.compile(f"[{_NAME_START}]")
_NAME_CHAR = re.compile(f"[{_NAME_START}\\-.0-9\xb7\u0300-\u036f\u203f\u2040]")
_LOOKS_ENCODED = re.compile(r"_[xX](?:[0-9a-fA-F]{8}|[0-9a-fA-F]{4})_")


def encode_local_name(name: str) -> str:
    """``name`` as an XML element name, the way .NET's ``XmlConvert.EncodeLocalName``
    does: every character not allowed there becomes ``_xHHHH_`` (``[`` → ``_x005B_``),
    and an underscore that would read as such an escape becomes ``_x005F_``."""
    if not name:
        return "_"
    out: list[str] = []
    for index, char in enumerate(name):
        pattern = _NAME_START_CHAR if index == 0 else _NAME_CHAR
        if char == "_" and _LOOKS_ENCODED.match(name, index):
            out.append("_x005F_")
        elif pattern.fullmatch(char):
            out.append(char)
        elif ord(char) > 0xFFFF:
            out.append(f"_x{ord(char):08X}_")
        else:
            out.append(f"_x{ord(char):04X}_")
    return "".join(out)


def encode_error_xml(message: str, model_state: Mapping[str, list[str]] | None = None) -> bytes:
    """``<Error><Message>…</Message><ModelState><model.Field>…</model.Field>…</ModelState>
    </Error>``: one element per message, names encoded like .NET encodes them."""
    parts = ["<Error><Message>", _escape(message), "</Message>"]
    if model_state is not None:
        parts.append("<ModelState>")
        for key, messages in model_state.items():
            tag = encode_local_name(key)
            parts.extend(f"<{tag}>{_escape(m)}</{tag}>" for m in messages)
        parts.append("</ModelState>")
    parts.append("</Error>")
    return "".join(parts).encode("utf-8")


__all__ = [
    "MODELS",
    "SUB_MODELS",
    "Field",
    "Invalid",
    "Model",
    "decode_json",
    "decode_xml",
    "encode_error_json",
    "encode_error_xml",
    "encode_json",
    "encode_page_json",
    "encode_page_xml",
    "encode_xml",
    "max_length",
]
