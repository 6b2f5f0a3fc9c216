"""Wire models of the lab-order dialect (the vendor's field names)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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
