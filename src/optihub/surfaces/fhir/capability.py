"""The CapabilityStatement (``GET /fhir/r5/metadata``): exactly what the routes serve,
built from the same tables the routes use (``mapping``)."""

from __future__ import annotations

from typing import Any

from optihub.surfaces.fhir.mapping import (
    EXTENSION_DESCRIPTIONS,
    FHIR_JSON,
    FHIR_VERSION,
    RESULT_PARAMS,
    SEARCH_PARAMS,
    extension_url,
)

# When the statement last changed (CapabilityStatement.date is required).
STATEMENT_DATE = "2026-12-05"
SMART_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"

INTERACTIONS: dict[str, tuple[str, ...]] = {
    "VisionPrescription": ("read", "search-type", "create"),
    "Patient": ("read", "search-type"),
    "Practitioner": ("read",),
    "Organization": ("read",),
}
SCOPES: dict[str, str] = {
    "VisionPrescription": "system/VisionPrescription.rs (read, search), "
    "system/VisionPrescription.c (create, transaction)",
    "Patient": "system/Patient.rs",
    "Practitioner": "system/Practitioner.rs (prescribers on staff)",
    "Organization": "system/Organization.rs (the practice; its id is the practice id)",
}


def _extensions_doc(public_url: str) -> str:
    return " ".join(
        f"{extension_url(public_url, name)}: {text}."
        for name, text in EXTENSION_DESCRIPTIONS.items()
    )


def _resource(name: str, public_url: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": name,
        "interaction": [{"code": code} for code in INTERACTIONS[name]],
        "versioning": "versioned",
        "readHistory": False,
        "updateCreate": False,
        "conditionalCreate": False,
        "conditionalRead": "not-supported",
        "conditionalUpdate": False,
        "conditionalDelete": "not-supported",
    }
    documentation = f"Scope: {SCOPES[name]}."
    if name == "VisionPrescription":
        documentation += (
            " Extensions (valueDecimal in mm on lensSpecification, valueDate on the "
            f"prescription): {_extensions_doc(public_url)}"
        )
    entry["documentation"] = documentation
    params = SEARCH_PARAMS.get(name)
    if params:
        entry["searchParam"] = [
            {"name": param, "type": kind, "documentation": text}
            for param, (kind, text) in params.items()
        ] + [
            {"name": param, "type": "special", "documentation": text}
            for param, text in RESULT_PARAMS.items()
            if param != "_sort" or name == "VisionPrescription"
        ]
    return entry


def statement(base_url: str, public_url: str, token_endpoint: str, version: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": STATEMENT_DATE,
        "publisher": "OptiHub",
        "kind": "instance",
        "software": {"name": "OptiHub", "version": version},
        "implementation": {"description": "OptiHub FHIR R5 interface", "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": ["json", FHIR_JSON],
        "rest": [
            {
                "mode": "server",
                "documentation": "Every read and search is scoped to the practice the "
                "app's token was granted; another practice's record is not found (404).",
                "security": {
                    "extension": [
                        {
                            "url": OAUTH_URIS,
                            "extension": [{"url": "token", "valueUri": token_endpoint}],
                        }
                    ],
                    "service": [
                        {
                            "coding": [{"system": SMART_SERVICE, "code": "SMART-on-FHIR"}],
                            "text": "OAuth 2.1 bearer tokens with SMART v2 system scopes",
                        }
                    ],
                    "description": "SMART Backend Services: client_credentials at the "
                    f"token endpoint ({token_endpoint}) with system/*.rs-style scopes.",
                },
                "resource": [_resource(name, public_url) for name in INTERACTIONS],
                "interaction": [{"code": "transaction"}],
            }
        ],
    }
