"""FHIR R5's words for the core's: code tables, the scope table, the extensions OptiHub
defines, the search parameters each resource takes, and how a core field path is named as
a FHIRPath expression."""

from __future__ import annotations

from collections.abc import Mapping

FHIR_JSON = "application/fhir+json"
FHIR_VERSION = "5.0.0"
UCUM = "http://unitsofmeasure.org"
PRODUCT_SYSTEM = "http://terminology.hl7.org/CodeSystem/ex-visionprescriptionproduct"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
}

# The code values R5 allows (fhir.resources does not enforce them: checked here).
STATUSES = ("active", "cancelled", "draft", "entered-in-error")
# The core keeps prescriptions in force only: one status, both ways.
CORE_STATUS = "active"
EYES = ("right", "left")
BASES = ("up", "down", "in", "out")
HORIZONTAL_BASES = ("in", "out")
# product code → the core's prescription kind, and back.
PRODUCTS: Mapping[str, str] = {"lens": "spectacle", "contact": "contact_lens"}
PRODUCT_OF_KIND: Mapping[str, str] = {kind: code for code, kind in PRODUCTS.items()}

# Extensions OptiHub defines (FHIR has no element for them), each under the server's base:
# ``{public_url}/fhir/StructureDefinition/<name>``. Measures in millimetres, valueDecimal.
EYE_EXTENSIONS: Mapping[str, str] = {
    "distance_pd": "distance-pd",
    "near_pd": "near-pd",
    "seg_height": "segment-height",
    "oc_height": "oc-height",
}
EXPIRY_EXTENSION = "prescription-expiry"  # on VisionPrescription, valueDate
EXTENSION_DESCRIPTIONS: Mapping[str, str] = {
    "distance-pd": "Monocular distance pupillary distance of this eye, in millimetres",
    "near-pd": "Monocular near pupillary distance of this eye, in millimetres",
    "segment-height": "Multifocal segment height of this eye's lens, in millimetres",
    "oc-height": "Optical centre height of this eye's lens, in millimetres",
    "prescription-expiry": "The date the prescription expires (valueDate)",
}
IDENTIFIER_NAMING = "identifier"  # {base}/fhir/sid/identifier: the practice's own ids


def extension_url(public_url: str, name: str) -> str:
    return f"{public_url}/fhir/StructureDefinition/{name}"


def identifier_system(public_url: str) -> str:
    """The system of the identifiers OptiHub keeps (one per record: the practice's own)."""
    return f"{public_url}/fhir/sid/{IDENTIFIER_NAMING}"


# The SMART v2 scope each route needs (method, path below /fhir/r5); None: no token.
ROUTE_SCOPES: Mapping[tuple[str, str], str | None] = {
    ("GET", "/metadata"): None,
    ("GET", "/.well-known/smart-configuration"): None,
    ("GET", "/VisionPrescription"): "system/VisionPrescription.rs",
    ("GET", "/VisionPrescription/{resource_id}"): "system/VisionPrescription.rs",
    ("POST", "/VisionPrescription"): "system/VisionPrescription.c",
    ("GET", "/Patient"): "system/Patient.rs",
    ("GET", "/Patient/{resource_id}"): "system/Patient.rs",
    ("GET", "/Practitioner/{resource_id}"): "system/Practitioner.rs",
    ("GET", "/Organization/{resource_id}"): "system/Organization.rs",
    ("POST", ""): "system/VisionPrescription.c",
    ("POST", "/Bundle"): "system/VisionPrescription.c",
}

# Search parameters by resource: name → (FHIR type, what it matches), for the
# CapabilityStatement and the docs. Result parameters are shared.
SEARCH_PARAMS: Mapping[str, Mapping[str, tuple[str, str]]] = {
    "VisionPrescription": {
        "patient": ("reference", "The patient: Patient/{id} or the bare id"),
        "datewritten": (
            "date",
            "dateWritten, with eq ne gt lt ge le prefixes and partial dates (2026, 2026-03)",
        ),
        "status": ("token", "active (every prescription on file is active)"),
        "prescriber": ("reference", "The prescriber: Practitioner/{id} or the bare id"),
    },
    "Patient": {
        "identifier": ("token", "The practice's id for the patient ([system|]value)"),
        "name": ("string", "Start of the given or family name, any case"),
        "birthdate": ("date", "Date of birth (a full date; eq prefix only)"),
        "telecom": ("token", "Email (any case) or phone number ([system|]value)"),
    },
}
RESULT_PARAMS: Mapping[str, str] = {
    "_count": "Entries per page, 1 to 100 (default 20); with _summary=count, none",
    "_offset": "Entries to skip (the next/previous links carry it)",
    "_sort": "VisionPrescription: datewritten or -datewritten (default -datewritten)",
    "_summary": "count: the total only",
    "_elements": "Comma-separated top-level elements to keep in each resource",
    "_format": "json or application/fhir+json (xml: 406)",
}
MAX_COUNT = 100
DEFAULT_COUNT = 20

# How the core's field paths read in FHIR, below one lensSpecification (``right.axis`` →
# ``lensSpecification[0].axis``) or the resource.
EYE_FIELDS: Mapping[str, str] = {
    "sphere": "sphere",
    "cylinder": "cylinder",
    "axis": "axis",
    "add": "add",
    "power": "power",
    "base_curve": "backCurve",
    "diameter": "diameter",
    "brand": "brand",
    "prism_horizontal": "prism",
    "prism_vertical": "prism",
}
PRESCRIPTION_FIELDS: Mapping[str, str] = {
    "expires_on": "extension",
    "prescriber_name": "prescriber.display",
    "external_id": "identifier",
    "rx": "lensSpecification",
}
PATIENT_FIELDS: Mapping[str, str] = {
    "first_name": "name[0].given[0]",
    "last_name": "name[0].family",
    "email": "telecom",
    "phone": "telecom",
    "date_of_birth": "birthDate",
    "external_id": "identifier",
    "address_line1": "address[0].line[0]",
    "address_line2": "address[0].line[1]",
    "city": "address[0].city",
    "state": "address[0].state",
    "postal_code": "address[0].postalCode",
}
