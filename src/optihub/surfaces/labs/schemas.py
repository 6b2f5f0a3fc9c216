"""Wire models of the lab-order dialect (the vendor's field names)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenRequest(Strict):
    client_id: str = Field(min_length=1, max_length=200)
    client_secret: str = Field(min_length=1, max_length=500)


class AccessToken(BaseModel):
    token: str = Field(description="Bearer token for the Authorization header; lives 24 hours.")


class LabOut(BaseModel):
    id: str
    name: str
    account_number: str


class LabList(BaseModel):
    data: list[LabOut]


class OrderSettings(BaseModel):
    frame_handling_options: list[str]
    frame_materials: list[str]
    mounting_options: list[str]
    order_types: list[str]
    redo_types: list[str]
    services: list[str]


class Named(BaseModel):
    id: str
    name: str


class NamedList(BaseModel):
    data: list[Named]


class Coat(BaseModel):
    id: str
    name: str
    type: Literal["ar", "mirror", "scratch", "uv"] | None


class AddonSet(BaseModel):
    coats: list[Coat]
    colors: list[Named]
    tints: list[str]


class AddonList(BaseModel):
    data: AddonSet


class ErrorBody(BaseModel):
    type: Literal["invalid_request_error", "authentication_error", "permission_error", "api_error"]
    message: str
    code: str | None = None
    param: str | None = None


class Violation(BaseModel):
    param: str
    message: str


class ErrorEnvelope(BaseModel):
    error: ErrorBody
    errors: list[Violation] | None = None


# -- orders ---------------------------------------------------------------------------------
#
# Shape and types only: ranges, enums, lengths and "required" are the service's rules
# (services/lab_orders/rules.py), so every violation comes back together in ``errors[]``. The
# document still shows them (``minimum``, ``maxLength``, ``required``...).


def _number_only(value: Any) -> Any:
    if isinstance(value, str | bool):
        raise PydanticCustomError("decimal_type", "Input should be a number")
    return value


Number = Annotated[Decimal, BeforeValidator(_number_only), WithJsonSchema({"type": "number"})]


def _range(low: float, high: float, description: str = "") -> Any:
    extra: dict[str, Any] = {"minimum": low, "maximum": high}
    return Field(None, description=description or None, json_schema_extra=extra)


def _text(max_length: int | None = None, description: str = "") -> Any:
    extra: dict[str, Any] = {"maxLength": max_length} if max_length is not None else {}
    return Field(None, description=description or None, json_schema_extra=extra or None)


def _required(*names: str) -> Any:
    """Lists ``names`` as required in the document (the service checks them)."""

    def extra(schema: dict[str, Any]) -> None:
        schema["required"] = list(names)

    return extra


class PatientIn(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra=_required("first_name", "last_name")
    )

    first_name: StrictStr | None = _text(50)
    last_name: StrictStr | None = _text(50)
    email: StrictStr | None = _text(254, "A valid email address.")
    phone_number: StrictStr | None = _text(
        20, "Any format, any country; kept as given (OptiHub: trimmed)."
    )


class PrismIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_required("power", "direction"))

    power: Number | None = _range(0.01, 50, "Prism diopters.")
    direction: StrictStr | None = Field(
        None, description="`in`/`out` (horizontal), `up`/`down` (vertical)."
    )


class EyeIn(Strict):
    sphere: Number | None = _range(-30, 30, "Diopters.")
    pd: Number | None = _range(20, 50, "Monocular distance PD in mm (per eye).")
    near_pd: Number | None = _range(20, 50, "Monocular near PD in mm (per eye).")
    cylinder: Number | None = _range(-20, 20, "Required when axis is provided.")
    axis: StrictInt | None = _range(1, 180, "Required when cylinder is provided.")
    add: Number | None = _range(0.5, 5, "Required when seg_height is provided.")
    seg_height: Number | None = _range(0.5, 50, "mm. Required when add is provided.")
    oc_height: Number | None = _range(0.5, 50, "mm.")
    horizontal_prism: PrismIn | None = None
    vertical_prism: PrismIn | None = None


class RxIn(Strict):
    right_eye: EyeIn | None = None
    left_eye: EyeIn | None = None


class LensIn(Strict):
    style: StrictStr | None = Field(None, description="A style id (`style_…`) of this lab.")
    material: StrictStr | None = Field(None, description="A material id offered for the style.")
    color: StrictStr | None = Field(None, description="A color id from the addons.")
    coats: list[StrictStr] | None = Field(None, description="Coat ids from the addons.")
    tint: StrictStr | None = Field(None, description="One of the addons' tints.")
    tint_instruction: StrictStr | None = _text(250, "Required with `tint`.")


class FrameIn(Strict):
    handling: StrictStr | None = Field(None, description="One of `frame_handling_options`.")
    manufacturer: StrictStr | None = _text(50)
    model: StrictStr | None = _text(50)
    color: StrictStr | None = _text(50)
    sku: StrictStr | None = _text(50)
    material: StrictStr | None = Field(
        None,
        description="One of three_d_printed, carbon_fiber, drilled_and_grooved_rimless, "
        "drilled_rimless, grooved_industrial_safety, grooved_rimless, high_wrap, horn, "
        "industrial_safety, leather, metal, metal_grooved, step_shelf_bevel, wood, zyl.",
    )
    eye_size: StrictInt | None = _range(10, 100, "mm.")
    bridge: StrictInt | None = _range(10, 100, "mm.")
    temple: StrictInt | None = _range(100, 200, "mm.")
    a: Number | None = _range(10, 100, "mm.")
    b: Number | None = _range(10, 100, "mm.")
    lens_ed: Number | None = _range(10, 100, "Effective diameter, mm.")
    vertex: Number | None = _range(1, 30, "mm.")
    pantoscopic_tilt: Number | None = _range(-20, 20, "Degrees.")
    wrap: Number | None = _range(0, 40, "Degrees.")
    tracing: StrictStr | None = Field(
        None, description="The contents of an OMA (.oma/.txt) tracing file (OptiHub)."
    )


class RedoIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_required("reason", "reference"))

    type: StrictStr | None = Field(None, description="One of `redo_types` (optional).")
    reason: StrictStr | None = _text(250)
    reference: StrictStr | None = _text(100, "The invoice, tray or Rx number being redone.")


class MultiPairIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_required("reference"))

    reference: StrictStr | None = _text(100, "The invoice, tray or Rx number of the first pair.")


class ShippingIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=_required("address_line1", "city", "state", "postal_code"),
    )

    name: StrictStr | None = _text(50)
    address_line1: StrictStr | None = _text(100)
    address_line2: StrictStr | None = _text(100, "Omit when unused.")
    city: StrictStr | None = _text(100)
    state: StrictStr | None = Field(None, description="2-letter US state or territory code.")
    country: StrictStr | None = Field(None, description="`US` only (the default).")
    postal_code: StrictStr | None = Field(None, description="ZIP: 12345 or 12345-6789.")


class CreateOrderRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=_required(
            "mode", "submission_type", "order_type", "lab", "account_number", "patient", "frame"
        ),
    )

    mode: Literal["draft", "submit"] = Field(
        description="`draft`: saved for review in the dashboard; `submit`: sent to the lab."
    )
    submission_type: StrictStr | None = Field(None, description="`new`, `redo` or `multi_pair`.")
    order_type: StrictStr | None = Field(None, description="One of `order_types`; `rx` always.")
    lab: StrictStr | None = Field(None, description="The lab id (`lab_…`).")
    account_number: StrictStr | None = Field(None, description="The practice's account with it.")
    patient: PatientIn | None = None
    mounting_option: StrictStr | None = Field(
        None, description="One of `mounting_options`; required when order_type is rx."
    )
    lens: LensIn | None = Field(
        None, description="Required when order_type is rx and mode is submit."
    )
    frame: FrameIn | None = None
    rx: RxIn | None = Field(None, description="Required when order_type is rx.")
    services: list[StrictStr] | None = Field(None, description="Each one of `services`.")
    special_instructions: StrictStr | None = _text(1000)
    redo_data: RedoIn | None = Field(None, description="Required when submission_type is redo.")
    multi_pair_data: MultiPairIn | None = Field(
        None, description="Required when submission_type is multi_pair."
    )
    shipping: ShippingIn | None = Field(None, description="Ship-to address (OptiHub).")


class OrderOut(BaseModel):
    id: str = Field(description="`ord_…`")
    tray_number: str | None = Field(description="The lab's tray number, once it assigns one.")
    invoice_number: str | None = Field(description="The lab's invoice number, once assigned.")
    lab_status: Literal["draft", "submitted", "in_progress", "shipped", "cancelled"]
    created: int = Field(description="Creation time, seconds since the Unix epoch.")
    updated: int = Field(description="Last update time, seconds since the Unix epoch.")


class CreatedOrder(OrderOut):
    url: str | None = Field(
        None, description="Drafts only: the dashboard page where staff finalize the draft."
    )


class OrderList(BaseModel):
    has_more: bool
    data: list[OrderOut]
