"""Every scope of every dialect in one registry, each described in plain words.

The consent page shows ``description``; ``surface`` groups them. A route declares the scope
it needs with ``optihub.auth.resource.require_scopes`` and tests enumerate them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    name: str
    description: str
    surface: str


_PRICEBOOKS = {
    "lenses": "lens",
    "frames": "frame",
    "contactlenses": "contact lens",
    "proffees": "professional fee",
    "merchandise": "merchandise",
    "addons": "lens add-on",
    "misc": "miscellaneous",
    "tierprices": "price-tier",
}

SCOPES: tuple[Scope, ...] = (
    Scope("openid", "Know who you are (your OptiHub account id)", "identity"),
    Scope("email", "See your email address", "identity"),
    Scope("profile", "See your name", "identity"),
    # Partner API (Eyekiosk dialect)
    Scope("orders:read", "Read the practice's orders", "partner"),
    Scope("orders:full", "Read orders and update their status", "partner"),
    Scope("frames:read", "Read the frame catalog and stock availability", "partner"),
    Scope("prescriptions:read", "Read prescription details of orders", "partner"),
    Scope("inventory:write", "Update frame stock quantities and prices", "partner"),
    Scope("webhooks:read", "See webhook subscriptions and their delivery status", "partner"),
    Scope("webhooks:write", "Create, change and delete webhook subscriptions", "partner"),
    # Practice API (EyeCloud Pro dialect)
    Scope("read:patients", "Read patient records", "practice"),
    Scope("create:patients", "Add patient records", "practice"),
    Scope("read:stores", "Read store locations and opening hours", "practice"),
    Scope("read:employees", "Read employees and doctors", "practice"),
    Scope("read:appointments", "Read appointments", "practice"),
    Scope("read:orders", "Read orders", "practice"),
    Scope("create:orders", "Place orders", "practice"),
    Scope("read:invoices", "Read invoices and payments", "practice"),
    *(
        Scope(f"read:pricebooks:{kind}", f"Read the {label} pricebook", "practice")
        for kind, label in _PRICEBOOKS.items()
    ),
    Scope("create:pricebooks:frames", "Add frames to the frame pricebook", "practice"),
    Scope("update:pricebooks:frames", "Change frame pricebook entries", "practice"),
    Scope("read:configurations:pricetiers", "Read price-tier configurations", "practice"),
    Scope("create:configurations:pricetiers", "Add price tiers", "practice"),
    Scope("update:configurations:pricetiers", "Change price tiers", "practice"),
    Scope("delete:configurations:pricetiers", "Delete price tiers", "practice"),
    # Lab-order API (SpecCheck dialect)
    Scope("lab_orders:write", "Send Rx jobs to labs (draft or submit)", "labs"),
    Scope("lab_orders:read", "List lab orders and their lab status", "labs"),
    Scope("lab_catalog:read", "Read labs, order settings and lens catalogs", "labs"),
    # Fulfillment API (Blend dialect)
    Scope(
        "fulfillment:read",
        "Follow fulfillment orders, replacements and prescriptions",
        "fulfillment",
    ),
    Scope(
        "fulfillment:write", "Create and change fulfillment orders and replacements", "fulfillment"
    ),
    # Portal sync API (MVE dialect)
    Scope(
        "portal:sync", "Keep the patient portal in sync (create, update, delete records)", "portal"
    ),
    # FHIR R5 (SMART on FHIR Backend Services, v2 scope syntax: c r u d s = create, read,
    # update, delete, search)
    Scope("system/VisionPrescription.rs", "Read and search prescriptions (FHIR)", "fhir"),
    Scope("system/VisionPrescription.c", "Import prescriptions (FHIR)", "fhir"),
    Scope("system/VisionPrescription.crs", "Read, search and import prescriptions (FHIR)", "fhir"),
    Scope("system/Patient.rs", "Read and search patient records (FHIR)", "fhir"),
    Scope("system/Practitioner.rs", "Read and search prescribers (FHIR)", "fhir"),
    Scope("system/Organization.rs", "Read the practice's organization record (FHIR)", "fhir"),
    Scope("system/*.rs", "Read and search every FHIR resource OptiHub serves", "fhir"),
)

BY_NAME: dict[str, Scope] = {scope.name: scope for scope in SCOPES}


def describe(names: str | list[str]) -> list[Scope]:
    """The known scopes among ``names`` (space-separated string or list), in registry order."""
    wanted = set(names.split() if isinstance(names, str) else names)
    return [scope for scope in SCOPES if scope.name in wanted]


def unknown(names: str | list[str]) -> list[str]:
    wanted = names.split() if isinstance(names, str) else names
    return [name for name in wanted if name not in BY_NAME]


# A broader scope that includes narrower ones ("read and update" includes "read").
IMPLIED: dict[str, frozenset[str]] = {
    "orders:full": frozenset({"orders:read"}),
    "system/VisionPrescription.crs": frozenset(
        {"system/VisionPrescription.rs", "system/VisionPrescription.c"}
    ),
    "system/*.rs": frozenset(
        {
            "system/VisionPrescription.rs",
            "system/Patient.rs",
            "system/Practitioner.rs",
            "system/Organization.rs",
        }
    ),
}
