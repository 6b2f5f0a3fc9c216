"""The lab-order dialect's vocabulary, as tables: lab statuses, id prefixes, scopes."""

from __future__ import annotations

from optihub.domain.orders import OrderStatus, VocabularyTable

S = OrderStatus

# `lab_status` as a lab-order tool sees it (vocabulary: OptiHub, see docs/labs-api.md).
LAB_STATUSES = VocabularyTable(
    "labs",
    to_canonical={
        "draft": S.DRAFT,
        "submitted": S.RECEIVED,
        "in_progress": S.IN_PROGRESS,
        "shipped": S.SHIPPED,
        "cancelled": S.CANCELLED,
    },
    from_canonical={
        S.DRAFT: "draft",
        S.RECEIVED: "submitted",
        S.IN_PROGRESS: "in_progress",
        S.COMPLETED: "in_progress",
        S.SHIPPED: "shipped",
        S.DELIVERED: "shipped",
        S.CANCELLED: "cancelled",
    },
)

# Public id prefixes (the vendor's), each naming one kind of OptiHub row.
LAB, STYLE, MATERIAL, COAT, COLOR, ORDER = "lab", "style", "material", "coat", "color", "ord"

LENS_TYPES = ("single_vision", "multifocal")

# (method, path below /v1) → scope; None: no token (the token call itself).
ROUTE_SCOPES: dict[tuple[str, str], str | None] = {
    ("POST", "/oauth/token"): None,
    ("GET", "/labs"): "lab_catalog:read",
    ("GET", "/labs/{id}/order_settings"): "lab_catalog:read",
    ("GET", "/catalogs/styles"): "lab_catalog:read",
    ("GET", "/catalogs/materials"): "lab_catalog:read",
    ("GET", "/catalogs/addons"): "lab_catalog:read",
    ("POST", "/orders"): "lab_orders:write",
    ("GET", "/orders"): "lab_orders:read",
}

# What a token from POST /v1/oauth/token carries: the dialect's own scopes (those the app is
# registered for), never the app's other ones.
TOKEN_SCOPES = frozenset(scope for scope in ROUTE_SCOPES.values() if scope is not None)

# Tokens from POST /v1/oauth/token live 24 hours (the vendor's documented lifetime) unless
# the operator sets OPTIHUB_ACCESS_TOKEN_TTL_LABS.
TOKEN_TTL_SECONDS = 24 * 3600
