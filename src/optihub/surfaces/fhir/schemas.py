"""Wire shapes for the OpenAPI document. The resources themselves are FHIR R5's (validated
on the way in by fhir.resources' models, ``imports.py``); the document names them as
``application/fhir+json`` objects and gives the OperationOutcome every refusal is."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from optihub.surfaces.fhir.mapping import FHIR_JSON


class Issue(BaseModel):
    severity: str = Field(examples=["error"])
    code: str = Field(examples=["business-rule"])
    diagnostics: str | None = None
    expression: list[str] | None = Field(
        default=None, examples=[["VisionPrescription.lensSpecification[0].cylinder"]]
    )


class OperationOutcome(BaseModel):
    model_config = ConfigDict(title="OperationOutcome")

    resourceType: str = Field(examples=["OperationOutcome"])  # noqa: N815 - FHIR's name
    issue: list[Issue]


def resource_doc(name: str, description: str, status: int = 200) -> dict[int | str, Any]:
    """A FHIR resource answer in the OpenAPI document."""
    return {
        status: {
            "description": description,
            "content": {FHIR_JSON: {"schema": {"type": "object", "title": name}}},
        }
    }


def body_doc(name: str) -> dict[str, Any]:
    """``openapi_extra`` for a route that takes a FHIR resource as its body."""
    schema = {
        "type": "object",
        "title": name,
        "required": ["resourceType"],
        "properties": {"resourceType": {"type": "string", "enum": [name]}},
    }
    return {
        "requestBody": {
            "required": True,
            "content": {FHIR_JSON: {"schema": schema}, "application/json": {"schema": schema}},
        }
    }
